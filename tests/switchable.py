"""A real store behind a switch that makes every call fail like a dead server."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from idleguard.core import EndReason, SessionRecord
from idleguard.policy import Limits
from idleguard.stores import MemoryStore, Store, StoreUnavailable
from idleguard.stores.base import Check
from idleguard.testing import SettableClock


class SwitchableStore(Store):
    """A store that fails every call while ``down``; ``inner`` defaults to a memory store.

    The async twins go to ``inner``'s own async twins, so a network store wrapped
    here is still driven the way the ASGI adapter drives it (see :func:`switchable`).
    ``ended`` lists the keys ``end`` was asked for, up or down.
    """

    def __init__(self, clock: SettableClock, inner: Store | None = None) -> None:
        self.inner = inner if inner is not None else MemoryStore(clock=clock)
        self.down = False
        self.broken_by: type[Exception] = StoreUnavailable
        self.ended: list[str] = []

    def _guard(self) -> None:
        if self.down:
            raise self.broken_by("connection refused")

    def check(self, key: str, limits: Limits, activity: bool, now: float) -> Check:
        self._guard()
        return self.inner.check(key, limits, activity, now)

    def create(self, key: str, record: SessionRecord, limits: Limits) -> None:
        self._guard()
        self.inner.create(key, record, limits)

    def end(self, key: str, reason: EndReason, now: float) -> SessionRecord | None:
        self.ended.append(key)
        self._guard()
        return self.inner.end(key, reason, now)

    def reauthenticate(self, key: str, now: float) -> bool:
        self._guard()
        return self.inner.reauthenticate(key, now)

    def sessions_of(self, subject: str, now: float) -> Sequence[tuple[str, SessionRecord]]:
        self._guard()
        return self.inner.sessions_of(subject, now)

    def revoke_subject(self, subject: str, now: float) -> list[tuple[str, SessionRecord]]:
        self._guard()
        return self.inner.revoke_subject(subject, now)

    def purge_expired(self, now: float) -> list[tuple[str, SessionRecord, EndReason]]:
        self._guard()
        return self.inner.purge_expired(now)

    def close(self) -> None:
        self.inner.close()

    async def acheck(self, key: str, limits: Limits, activity: bool, now: float) -> Check:
        self._guard()
        return await self.inner.acheck(key, limits, activity, now)

    async def acreate(self, key: str, record: SessionRecord, limits: Limits) -> None:
        self._guard()
        await self.inner.acreate(key, record, limits)

    async def aend(self, key: str, reason: EndReason, now: float) -> SessionRecord | None:
        self.ended.append(key)
        self._guard()
        return await self.inner.aend(key, reason, now)

    async def areauthenticate(self, key: str, now: float) -> bool:
        self._guard()
        return await self.inner.areauthenticate(key, now)

    async def asessions_of(self, subject: str, now: float) -> Sequence[tuple[str, SessionRecord]]:
        self._guard()
        return await self.inner.asessions_of(subject, now)

    async def arevoke_subject(self, subject: str, now: float) -> list[tuple[str, SessionRecord]]:
        self._guard()
        return await self.inner.arevoke_subject(subject, now)

    async def apurge_expired(self, now: float) -> list[tuple[str, SessionRecord, EndReason]]:
        self._guard()
        return await self.inner.apurge_expired(now)

    async def aclose(self) -> None:
        await self.inner.aclose()


class RemoteSwitchableStore(SwitchableStore):
    """The same around a network store: the ASGI adapter awaits it under ``store_timeout``."""

    remote: ClassVar[bool] = True


def switchable(clock: SettableClock, inner: Store) -> SwitchableStore:
    """``inner`` behind a switch, remote if ``inner`` is."""
    kind = RemoteSwitchableStore if inner.remote else SwitchableStore
    return kind(clock, inner)
