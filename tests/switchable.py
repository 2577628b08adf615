"""A real store behind a switch that makes every call fail like a dead server."""

from __future__ import annotations

from collections.abc import Sequence

from idleguard.core import EndReason, SessionRecord
from idleguard.policy import Limits
from idleguard.stores import MemoryStore, Store, StoreUnavailable
from idleguard.stores.base import Check
from idleguard.testing import SettableClock


class SwitchableStore(Store):
    """A store that fails every call while ``down``; ``inner`` defaults to a memory store."""

    def __init__(self, clock: SettableClock, inner: Store | None = None) -> None:
        self.inner = inner if inner is not None else MemoryStore(clock=clock)
        self.down = False
        self.broken_by: type[Exception] = StoreUnavailable

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
