"""The embedded store: one process, no server, on :class:`cachetools.TLRUCache`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from cachetools import TLRUCache

from ..core import NO_SESSION, EndReason, SessionRecord, Verdict, decide, tombstone, touched
from ..policy import Limits
from .base import Check, Store, deadline

__all__ = ["MemoryStore"]

_ALLOW = Verdict.ALLOW


class MemoryStore(Store):
    """Sessions in this process's memory.

    Right for one process (the demo, tests, a single-worker app). With several
    workers each has its own sessions: use Redis or SQL there.

    ``maxsize`` bounds the number of records (the least recently used go first
    when full). ``tombstone_ttl`` (seconds) is how long an ended session's
    tombstone, and a session past its deadline that no request has discovered
    yet, stay before leaving on their own. ``clock`` must be the same clock the
    middleware uses. cachetools is not thread-safe, so one lock guards it all.
    """

    schemes = ("memory",)

    def __init__(
        self,
        maxsize: int = 1_000_000,
        tombstone_ttl: float = 24 * 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tombstone_ttl = tombstone_ttl
        self._lock = threading.Lock()
        # The value is (record, leaves_at): each entry carries its own lifetime.
        self._cache: TLRUCache[str, tuple[SessionRecord, float]] = TLRUCache(
            maxsize, ttu=_leaves_at, timer=clock
        )
        self._by_subject: dict[str, set[str]] = {}
        # Limits seen at the last write of each session, so the sweeper can
        # find sessions past their deadline without a request to tell it.
        self._limits: dict[str, Limits] = {}

    def _put(self, key: str, record: SessionRecord, limits: Limits | None) -> None:
        if record.ended is not None or limits is None:
            leaves = self._cache.timer() + self.tombstone_ttl
        else:
            leaves = deadline(record, limits) + self.tombstone_ttl
        self._cache[key] = (record, leaves)

    def check(self, key: str, limits: Limits, activity: bool, now: float) -> Check:
        with self._lock:
            try:
                # Item access, not .get(): cachetools' get() checks expiry twice.
                entry = self._cache[key]
            except KeyError:
                return NO_SESSION, None
            record = entry[0]
            decision = decide(record, limits, activity, now)
            if decision.verdict is _ALLOW and not decision.touch:
                return decision, record
            if decision.touch:
                self._put(key, touched(record, now), limits)
                self._limits[key] = limits
            elif decision.expired_now:
                self._put(key, tombstone(record, decision.reason or EndReason.IDLE, now), None)
                self._forget(key, record)
            return decision, record

    def create(self, key: str, record: SessionRecord, limits: Limits) -> None:
        with self._lock:
            self._put(key, record, limits)
            self._limits[key] = limits
            if record.subject is not None:
                self._by_subject.setdefault(record.subject, set()).add(key)

    def end(self, key: str, reason: EndReason, now: float) -> SessionRecord | None:
        with self._lock:
            entry = self._cache.get(key)
            record = entry[0] if entry is not None else None
            live = record is not None and record.ended is None
            self._put(key, tombstone(record, reason, now), None)
            if record is not None and live:
                self._forget(key, record)
                return record
            return None

    def reauthenticate(self, key: str, now: float) -> bool:
        with self._lock:
            entry = self._cache.get(key)
            if entry is None or entry[0].ended is not None:
                return False
            record = entry[0]
            if now > record.authenticated_at:
                self._cache[key] = (
                    SessionRecord(
                        record.subject,
                        record.tenant,
                        record.created_at,
                        record.last_activity,
                        now,
                    ),
                    entry[1],
                )
            return True

    def sessions_of(self, subject: str, now: float) -> list[tuple[str, SessionRecord]]:
        with self._lock:
            found = []
            for key in list(self._by_subject.get(subject, ())):
                entry = self._cache.get(key)
                if entry is None or entry[0].ended is not None:
                    self._by_subject.get(subject, set()).discard(key)
                    continue
                found.append((key, entry[0]))
            return found

    def purge_expired(self, now: float) -> list[tuple[str, SessionRecord, EndReason]]:
        """End every session past its deadline that no request has discovered yet.

        Returns (key, record, reason) for each, so the caller can report every
        expiry as an event even when the user never comes back.
        """
        expired = []
        with self._lock:
            for key, limits in list(self._limits.items()):
                entry = self._cache.get(key)
                if entry is None or entry[0].ended is not None:
                    self._limits.pop(key, None)
                    continue
                decision = decide(entry[0], limits, False, now)
                if decision.expired_now:
                    reason = decision.reason or EndReason.IDLE
                    self._put(key, tombstone(entry[0], reason, now), None)
                    self._forget(key, entry[0])
                    expired.append((key, entry[0], reason))
        return expired

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)

    def _forget(self, key: str, record: SessionRecord) -> None:
        self._limits.pop(key, None)
        if record.subject is not None:
            keys = self._by_subject.get(record.subject)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_subject[record.subject]


def _leaves_at(_key: Any, value: tuple[SessionRecord, float], _now: float) -> float:
    return value[1]
