"""The embedded store: one process, no server, on a plain dict under one lock.

Why not `cachetools.TLRUCache`: it keeps, per key, an item object, a heap entry, an order
entry and a size entry besides the value, about 760 bytes per live session and a third of a
microsecond per lookup. A plain dict keyed by digest, with the record itself as the value,
costs the key, the record and one dict slot (under 300 bytes) and one lookup. Expiry is lazy
(a record past its time is dropped when it is next looked at) plus an amortized sweep, so
records still leave on their own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..core import NO_SESSION, EndReason, Limits, SessionRecord, Verdict, decide, tombstone, touched
from ..errors import ConfigError
from .base import Check, Store, StoreUnavailable, deadline

__all__ = ["MemoryStore"]

_ALLOW = Verdict.ALLOW
#: A sweep runs once this many writes have happened since the last one (or as
#: many as there are records, whichever is more): its cost, one pass over the
#: records, is then spread over at least as many writes.
_SWEEP_AFTER = 1024


class MemoryStore(Store):
    """Sessions in this process's memory.

    Right for one process (the demo, tests, a single-worker app). With several
    workers each has its own sessions: use Redis or SQL there.

    One lock guards it all, so WSGI servers' threads may share it.

    Args:
        maxsize: The most records kept. When full, records past their time go
            first, then tombstones, then the least recently written live
            sessions.
        tombstone_ttl: Seconds an ended session's tombstone, and a session past
            its deadline that no request has discovered yet, stay before
            leaving on their own.
        clock: Seconds since the epoch; must be the clock the middleware uses.
        keep_tombstones: Never drop a tombstone before its time, even when full
            (a `cookie://` denylist, where a dropped tombstone would bring a
            signed-out cookie back): a store full of tombstones then refuses
            with [`StoreUnavailable`][idleguard.StoreUnavailable].
        max_sessions_per_subject: The most live sessions one subject may have;
            beyond it, the oldest is signed out.

    Raises:
        ConfigError: `maxsize` or `max_sessions_per_subject` is less than 1.
    """

    schemes = ("memory",)

    def __init__(
        self,
        maxsize: int = 1_000_000,
        tombstone_ttl: float = 24 * 3600.0,
        clock: Callable[[], float] = time.time,
        *,
        keep_tombstones: bool = False,
        max_sessions_per_subject: int = 100,
    ) -> None:
        if maxsize < 1:
            raise ConfigError("maxsize must be at least 1")
        if max_sessions_per_subject < 1:
            raise ConfigError("max_sessions_per_subject must be at least 1")
        self.maxsize = maxsize
        self.keep_tombstones = keep_tombstones
        self.max_sessions_per_subject = max_sessions_per_subject
        # Subject -> its live sessions' keys, oldest first: one key as itself
        # (no list for the usual single session), several as a list.
        self._by_subject: dict[str, str | list[str]] = {}
        self.tombstone_ttl = tombstone_ttl
        self._clock = clock
        self._lock = threading.Lock()
        # Insertion order is write order: a write moves its key to the end, so
        # the front holds the least recently written records.
        self._cache: dict[str, SessionRecord] = {}
        # When each tombstone leaves (its end time plus tombstone_ttl).
        self._tombstone_leaves: dict[str, float] = {}
        # Limits seen at the last write, so the sweeper can find sessions past
        # their deadline without a request to tell it. Nearly every session
        # shares one Limits: only those written under others get an entry.
        self._common_limits: Limits | None = None
        self._other_limits: dict[str, Limits] = {}
        self._writes = 0

    # -- bookkeeping (callers hold the lock) --------------------------------

    def _limits_of(self, key: str) -> Limits | None:
        return self._other_limits.get(key, self._common_limits)

    def _place(self, key: str, record: SessionRecord) -> None:
        cache = self._cache
        if key in cache:
            del cache[key]
        elif len(cache) >= self.maxsize:
            self._make_room()
        cache[key] = record

    def _write_live(self, key: str, record: SessionRecord, limits: Limits) -> None:
        self._place(key, record)
        if self._common_limits is None:
            self._common_limits = limits
        if limits is self._common_limits or limits == self._common_limits:
            if self._other_limits:
                self._other_limits.pop(key, None)
        else:
            self._other_limits[key] = limits
        self._wrote()

    def _write_tombstone(self, key: str, record: SessionRecord) -> None:
        self._unindex(key)
        self._place(key, record)
        self._tombstone_leaves[key] = self._clock() + self.tombstone_ttl
        self._other_limits.pop(key, None)
        self._wrote()

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes >= _SWEEP_AFTER and self._writes >= len(self._cache):
            self._sweep(self._clock())

    def _leaves_at(self, key: str, record: SessionRecord) -> float:
        if record.ended is not None:
            return self._tombstone_leaves.get(key, float("-inf"))
        limits = self._limits_of(key)
        if limits is None:
            return float("-inf")
        return deadline(record, limits) + self.tombstone_ttl

    def _index(self, key: str, subject: str) -> None:
        """Note a new live session of `subject`; sign out its oldest beyond the cap."""
        keys = self._by_subject.get(subject)
        if keys is None:
            self._by_subject[subject] = key
            return
        if isinstance(keys, str):
            keys = self._by_subject[subject] = [keys]
        keys.append(key)
        while len(keys) > self.max_sessions_per_subject:
            self._drop(keys[0])

    def _unindex(self, key: str) -> None:
        record = self._cache.get(key)
        if record is None or record.subject is None or record.ended is not None:
            return
        keys = self._by_subject.get(record.subject)
        if keys == key:
            del self._by_subject[record.subject]
        elif isinstance(keys, list) and key in keys:
            keys.remove(key)
            if len(keys) == 1:
                self._by_subject[record.subject] = keys[0]

    def _drop(self, key: str) -> None:
        self._unindex(key)
        del self._cache[key]
        self._tombstone_leaves.pop(key, None)
        self._other_limits.pop(key, None)

    def _get(self, key: str, now: float) -> SessionRecord | None:
        """The record under `key`, or `None` (dropping it) once past its time."""
        record = self._cache.get(key)
        if record is not None and now >= self._leaves_at(key, record):
            self._drop(key)
            return None
        return record

    def _sweep(self, now: float) -> None:
        self._writes = 0
        for key, record in list(self._cache.items()):
            if now >= self._leaves_at(key, record):
                self._drop(key)

    def _make_room(self) -> None:
        self._sweep(self._clock())
        cache = self._cache
        if len(cache) < self.maxsize:
            return
        # Several at once: deleting from the front of a dict leaves holes that
        # the next scan from the front must step over until the dict resizes.
        count = max(1, len(cache) // 64)
        tombstones = [key for key in self._tombstone_leaves if key in cache][:count]
        if not self.keep_tombstones:
            for key in tombstones:
                self._drop(key)
            if len(cache) < self.maxsize:
                return
        live = []
        for key, record in cache.items():
            if record.ended is None:
                live.append(key)
                if len(live) >= count:
                    break
        if not live:
            raise StoreUnavailable(
                f"memory store full: {len(cache)} records, none of which may leave yet "
                "(raise maxsize, or use a server store)"
            )
        for key in live:
            self._drop(key)

    # -- the Store interface -------------------------------------------------

    def check(self, key: str, limits: Limits, activity: bool, now: float) -> Check:
        with self._lock:
            record = self._cache.get(key)
            if record is None:
                return NO_SESSION, None
            decision = decide(record, limits, activity, now)
            if decision.verdict is _ALLOW:
                if decision.touch:
                    self._write_live(key, touched(record, now), limits)
                return decision, record
            # Not alive: it may be past its time already, as if it had left.
            if self._clock() >= self._leaves_at(key, record):
                self._drop(key)
                return NO_SESSION, None
            if decision.expired_now:
                self._write_tombstone(
                    key, tombstone(record, decision.reason or EndReason.IDLE, now)
                )
            return decision, record

    def create(self, key: str, record: SessionRecord, limits: Limits) -> None:
        with self._lock:
            self._write_live(key, record, limits)
            if record.subject is not None:
                self._index(key, record.subject)

    def end(self, key: str, reason: EndReason, now: float) -> SessionRecord | None:
        with self._lock:
            record = self._get(key, self._clock())
            live = record is not None and record.ended is None
            self._write_tombstone(key, tombstone(record, reason, now))
            return record if live else None

    def reauthenticate(self, key: str, now: float) -> bool:
        with self._lock:
            record = self._get(key, self._clock())
            if record is None or record.ended is not None:
                return False
            if now > record.authenticated_at:
                # In place: a new authentication is not activity, and it moves
                # neither deadline, so the record keeps its place and limits.
                self._cache[key] = SessionRecord(
                    record.subject,
                    record.tenant,
                    record.created_at,
                    record.last_activity,
                    now,
                )
            return True

    def sessions_of(self, subject: str, now: float) -> list[tuple[str, SessionRecord]]:
        """The live sessions of `subject`.

        One pass over the records rather than an index by subject: an index
        would cost a dict slot per session, a third of the memory budget, for
        an operation an administrator runs now and then.

        Args:
            subject: Whose sessions.
            now: The time of the question.

        Returns:
            `(key, record)` pairs.
        """
        with self._lock:
            clock_now = self._clock()
            found = []
            for key, record in list(self._cache.items()):
                if record.subject != subject or record.ended is not None:
                    continue
                if clock_now >= self._leaves_at(key, record):
                    self._drop(key)
                    continue
                found.append((key, record))
            return found

    def purge_expired(self, now: float) -> list[tuple[str, SessionRecord, EndReason]]:
        """End every session past its deadline that no request has discovered yet.

        Args:
            now: The time of the sweep.

        Returns:
            `(key, record, reason)` for each session ended, so the caller can
                report every expiry as an event even when the user never comes
                back.
        """
        expired = []
        with self._lock:
            self._sweep(self._clock())
            for key, record in list(self._cache.items()):
                if record.ended is not None:
                    continue
                limits = self._limits_of(key)
                if limits is None:
                    continue
                decision = decide(record, limits, False, now)
                if decision.expired_now:
                    reason = decision.reason or EndReason.IDLE
                    self._write_tombstone(key, tombstone(record, reason, now))
                    expired.append((key, record, reason))
        return expired

    def __len__(self) -> int:
        with self._lock:
            self._sweep(self._clock())
            return len(self._cache)


def _first(cache: dict[str, SessionRecord], count: int) -> list[str]:
    keys = []
    for key in cache:
        keys.append(key)
        if len(keys) >= count:
            break
    return keys
