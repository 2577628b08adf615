"""Stores whose operations are written once, as steps, and driven sync or async.

A network store writes each operation as a generator (`_create`, `_end`,
...) that yields what it needs from the server and is sent the replies; it
supplies two drivers, `_sync` (WSGI) and `_async` (ASGI), that speak to
the server. The public methods and their `a`-prefixed twins below are then
the same for every such store, and no store writes an operation twice.
"""

from __future__ import annotations

import abc
from collections.abc import Generator
from typing import Any

from ..core import EndReason, Limits, SessionRecord
from .base import Check, Store

__all__ = ["SteppedStore"]

#: An operation: yields requests to the server, is sent the replies, returns the result.
Step = Generator[Any, Any, Any]
Sessions = list[tuple[str, SessionRecord]]
Expired = list[tuple[str, SessionRecord, EndReason]]


class SteppedStore(Store):
    """Base for stores that write each operation once as a step, driven sync or async.

    A subclass writes each operation as a generator (`_check`, `_create`,
    `_end`, `_reauthenticate`, `_sessions_of`, `_revoke_subject`, `_purge`)
    that yields what it needs from the server and is sent the replies, and
    supplies the two drivers that speak to the server: `_sync` (blocking
    calls, for WSGI) and `_async` (awaited calls, for ASGI). Every method of
    [`Store`][idleguard.stores.Store] and its async twin then comes from this
    class. `_check` and `_purge` may be left out by a store that overrides
    `check`/`acheck` or `purge_expired`/`apurge_expired`.
    """

    @abc.abstractmethod
    def _sync(self, step: Step) -> Any:
        """Run a step against the server with blocking calls."""

    @abc.abstractmethod
    async def _async(self, step: Step) -> Any:
        """Run a step against the server with awaited calls."""

    # The steps. `_check` and `_purge` may be left out by a store that
    # overrides `check`/`acheck` or `purge_expired`/`apurge_expired`.
    def _check(self, key: str, limits: Limits, activity: bool, now: float) -> Step:
        raise NotImplementedError

    @abc.abstractmethod
    def _create(self, key: str, record: SessionRecord, limits: Limits) -> Step: ...

    @abc.abstractmethod
    def _end(self, key: str, reason: EndReason, now: float) -> Step: ...

    @abc.abstractmethod
    def _reauthenticate(self, key: str, now: float) -> Step: ...

    @abc.abstractmethod
    def _sessions_of(self, subject: str) -> Step: ...

    @abc.abstractmethod
    def _revoke_subject(self, subject: str, now: float) -> Step: ...

    def _purge(self, now: float) -> Step:
        raise NotImplementedError

    # -- sync -----------------------------------------------------------------
    def check(self, key: str, limits: Limits, activity: bool, now: float) -> Check:
        result: Check = self._sync(self._check(key, limits, activity, now))
        return result

    def create(self, key: str, record: SessionRecord, limits: Limits) -> None:
        self._sync(self._create(key, record, limits))

    def end(self, key: str, reason: EndReason, now: float) -> SessionRecord | None:
        record: SessionRecord | None = self._sync(self._end(key, reason, now))
        return record

    def reauthenticate(self, key: str, now: float) -> bool:
        return bool(self._sync(self._reauthenticate(key, now)))

    def sessions_of(self, subject: str, now: float) -> Sessions:
        found: Sessions = self._sync(self._sessions_of(subject))
        return found

    def revoke_subject(self, subject: str, now: float) -> Sessions:
        ended: Sessions = self._sync(self._revoke_subject(subject, now))
        return ended

    def purge_expired(self, now: float) -> Expired:
        """End every session past its deadline that no request has discovered yet.

        Args:
            now: The time of the sweep.

        Returns:
            `(key, record, reason)` for each session ended, to be reported.
        """
        expired: Expired = self._sync(self._purge(now))
        return expired

    # -- async ----------------------------------------------------------------
    async def acheck(self, key: str, limits: Limits, activity: bool, now: float) -> Check:
        result: Check = await self._async(self._check(key, limits, activity, now))
        return result

    async def acreate(self, key: str, record: SessionRecord, limits: Limits) -> None:
        await self._async(self._create(key, record, limits))

    async def aend(self, key: str, reason: EndReason, now: float) -> SessionRecord | None:
        record: SessionRecord | None = await self._async(self._end(key, reason, now))
        return record

    async def areauthenticate(self, key: str, now: float) -> bool:
        return bool(await self._async(self._reauthenticate(key, now)))

    async def asessions_of(self, subject: str, now: float) -> Sessions:
        found: Sessions = await self._async(self._sessions_of(subject))
        return found

    async def arevoke_subject(self, subject: str, now: float) -> Sessions:
        ended: Sessions = await self._async(self._revoke_subject(subject, now))
        return ended

    async def apurge_expired(self, now: float) -> Expired:
        """The async twin of `purge_expired`.

        Args:
            now: The time of the sweep.

        Returns:
            `(key, record, reason)` for each session ended, to be reported.
        """
        expired: Expired = await self._async(self._purge(now))
        return expired
