"""Local decisions: a shared store at memory speed for the sessions that are simply alive.

For an active session the store's answer almost never changes: time passing is
computed from `created_at` and `last_activity`, and last activity is written
only once per `touch_interval`. So each process keeps the records it has read
(bounded, least recently written first) and decides a request with [`decide`][idleguard.stores.decide] on
its own copy, with no round trip, when all of these hold:

* the push connection is quiet ([`PushChannel`][idleguard.stores.push.PushChannel]):
  it has proved itself within the last second, everything Redis has sent it is
  applied (an end acknowledged anywhere has reached it by then), and the copy was
  read after the connection was last (re)established;
* the copy is younger than `touch_interval` (so no touch is due, and what other
  processes wrote is never more than two touch intervals behind);
* the decision is "allow" with more than `margin` seconds to the first deadline
  (near a deadline the store decides, so an expiry is found and reported once).

Anything else goes to the store, as without local decisions, and the answer
refreshes the copy. A session found ended is kept as a tombstone and refused here
from then on without asking: an end is final. An end, a revocation, an expiry or a fresh sign-in in any
process is announced by the store's own script on its channel, and drops the
copy everywhere; in this process the copy goes before the store is even asked.
A copy read while an announcement for it was on its way is never kept: each
announcement is numbered, and a read that began before one for its key is
discarded.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol

from ..core import (
    Decision,
    EndReason,
    Limits,
    SessionRecord,
    Verdict,
    decide,
    tombstone,
    touched,
)
from ..errors import ConfigError
from .base import Check, Store
from .push import PushChannel, RedisLink

__all__ = ["Announcing", "LocalDecisions"]


class Announcing(Protocol):
    """A store that announces every end on a pub/sub channel ([`RedisStore`][idleguard.stores.redis.RedisStore])."""

    url: str
    key_prefix: str
    channel: str
    server_time: bool
    connection_options: dict[str, Any]


class LocalDecisions(Store):
    """Decide live sessions in-process over a store that announces every end.

    Args:
        inner: The shared store (a [`RedisStore`][idleguard.stores.redis.RedisStore]).
        maxsize: How many sessions' records this process keeps (a few hundred bytes each).
        margin: Seconds before a deadline within which the store decides.
        ping_interval: Seconds between the push connection's pings.
        ping_timeout: Seconds a ping may take before the push connection counts as
            lost, and every request goes to the store until it is back.

    Raises:
        ConfigError: The store decides with its own clock (`server_time`), which a
            process cannot read locally, or a number is out of range.
    """

    remote: ClassVar[bool] = True

    def __init__(
        self,
        inner: Any,
        *,
        maxsize: int = 100_000,
        margin: float = 1.0,
        ping_interval: float = 1.0,
        ping_timeout: float = 0.25,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        if getattr(inner, "server_time", False):
            raise ConfigError(
                "local decisions need the app's clock: they cannot be used with server_time"
            )
        if maxsize < 1 or margin < 0:
            raise ConfigError("local_maxsize must be 1 or more and local_margin 0 or more")
        self.inner: Store = inner
        announcing: Announcing = inner
        self._announcing = announcing
        self.tombstone_ttl = inner.tombstone_ttl
        self.margin = margin
        self.maxsize = maxsize
        self._lock = threading.Lock()
        # Least recently written first (an active session's copy is rewritten every touch
        # interval), so a read needs no lock and moves nothing: the hot path stays a dict get.
        self._records: collections.OrderedDict[str, SessionRecord] = collections.OrderedDict()
        # Announcement numbers: a read that began at `_heard` n keeps its copy only if
        # no announcement for its key has been numbered above n since.
        self._heard = 0
        self._heard_for: dict[str, int] = {}
        self._epoch = 0
        extra = {} if monotonic is None else {"monotonic": monotonic}
        self.push = PushChannel(
            lambda: RedisLink.to(announcing.url, announcing.connection_options),
            announcing.channel,
            on_message=self._announced,
            on_reset=self._reset,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            **extra,
        )

    # -- what the push connection tells ------------------------------------------------
    def _announced(self, full: str) -> None:
        # The script announces the full key, `<prefix>{<session key>}`.
        prefix = self._announcing.key_prefix + "{"
        if full.startswith(prefix) and full.endswith("}"):
            self._forget(full[len(prefix) : -1])

    def _forget(self, key: str) -> None:
        with self._lock:
            self._heard += 1
            self._records.pop(key, None)
            if len(self._heard_for) >= self.maxsize:
                # Too many to remember one by one: forget everything, and let no read
                # in flight keep its copy.
                self._records.clear()
                self._heard_for.clear()
                self._epoch += 1
            self._heard_for[key] = self._heard

    def _reset(self) -> None:
        with self._lock:
            self._records.clear()
            self._heard_for.clear()
            self._epoch += 1

    # -- the local decision ---------------------------------------------------------------
    def decided_here(self, key: str, limits: Limits, activity: bool, now: float) -> Check | None:
        """The decision made on this process's copy, when it can be; else `None`."""
        record = self._records.get(key)
        if record is None:
            return None
        if record.ended is not None:
            # An end is final: a tombstone needs no store to refuse its credential again.
            return decide(record, limits, activity, now), record
        if not self.push.quiet() or now - record.last_activity >= limits.touch_interval:
            return None
        decision = decide(record, limits, activity, now)
        if decision.verdict is not Verdict.ALLOW or decision.touch:
            return None
        first = _first_deadline(decision)
        if first is not None and first <= self.margin:
            return None
        return decision, record

    def _mark(self) -> tuple[int, int]:
        with self._lock:
            return self._epoch, self._heard

    def _keep(self, key: str, mark: tuple[int, int], check: Check, now: float) -> None:
        decision, record = check
        if record is None or decision.verdict is Verdict.NO_SESSION:
            return
        if decision.verdict is Verdict.ALLOW:
            kept = touched(record, now) if decision.touch else record
        elif decision.expired_now and decision.reason is not None:
            kept = tombstone(record, decision.reason, now)  # the store wrote this tombstone
        elif record.ended is not None:
            kept = record  # a tombstone as read
        else:
            # Refused by this request's clock (a stored time too far ahead of it), with
            # nothing written: the store may answer otherwise when the clock is right.
            return
        epoch, heard = mark
        with self._lock:
            if epoch == self._epoch and self._heard_for.get(key, 0) <= heard:
                self._records[key] = kept
                self._bound(key)

    def _bound(self, written: str) -> None:
        records = self._records
        records.move_to_end(written)
        if len(records) > self.maxsize:
            records.popitem(last=False)

    # -- the store interface -----------------------------------------------------------
    def check(self, key: str, limits: Limits, activity: bool, now: float) -> Check:
        local = self.decided_here(key, limits, activity, now)
        if local is not None:
            return local
        mark = self._mark()
        answer = self.inner.check(key, limits, activity, now)
        self._keep(key, mark, answer, now)
        return answer

    async def acheck(self, key: str, limits: Limits, activity: bool, now: float) -> Check:
        local = self.decided_here(key, limits, activity, now)
        if local is not None:
            return local
        mark = self._mark()
        answer = await self.inner.acheck(key, limits, activity, now)
        self._keep(key, mark, answer, now)
        return answer

    def create(self, key: str, record: SessionRecord, limits: Limits) -> None:
        mark = self._mark()
        self.inner.create(key, record, limits)
        self._keep(key, mark, (Decision(Verdict.ALLOW), record), record.last_activity)

    async def acreate(self, key: str, record: SessionRecord, limits: Limits) -> None:
        mark = self._mark()
        await self.inner.acreate(key, record, limits)
        self._keep(key, mark, (Decision(Verdict.ALLOW), record), record.last_activity)

    def end(self, key: str, reason: EndReason, now: float) -> SessionRecord | None:
        # Forgotten before the store is asked, so no request of this process is allowed
        # on the copy meanwhile, and after, so no read that raced the end keeps one.
        self._forget(key)
        try:
            ended = self.inner.end(key, reason, now)
        finally:
            self._forget(key)
        self._keep_tombstone(key, ended, reason, now)
        return ended

    async def aend(self, key: str, reason: EndReason, now: float) -> SessionRecord | None:
        self._forget(key)
        try:
            ended = await self.inner.aend(key, reason, now)
        finally:
            self._forget(key)
        self._keep_tombstone(key, ended, reason, now)
        return ended

    def _keep_tombstone(
        self, key: str, record: SessionRecord | None, reason: EndReason, now: float
    ) -> None:
        if record is None:  # it had ended before, maybe for another reason: read it then
            return
        with self._lock:
            self._records[key] = tombstone(record, reason, now)
            self._bound(key)

    def reauthenticate(self, key: str, now: float) -> bool:
        self._forget(key)
        try:
            return self.inner.reauthenticate(key, now)
        finally:
            self._forget(key)

    async def areauthenticate(self, key: str, now: float) -> bool:
        self._forget(key)
        try:
            return await self.inner.areauthenticate(key, now)
        finally:
            self._forget(key)

    def sessions_of(self, subject: str, now: float) -> Sequence[tuple[str, SessionRecord]]:
        return self.inner.sessions_of(subject, now)

    async def asessions_of(self, subject: str, now: float) -> Sequence[tuple[str, SessionRecord]]:
        return await self.inner.asessions_of(subject, now)

    def revoke_subject(self, subject: str, now: float) -> list[tuple[str, SessionRecord]]:
        return self._forgotten(self.inner.revoke_subject(subject, now))

    async def arevoke_subject(self, subject: str, now: float) -> list[tuple[str, SessionRecord]]:
        return self._forgotten(await self.inner.arevoke_subject(subject, now))

    def purge_expired(self, now: float) -> list[tuple[str, SessionRecord, EndReason]]:
        return self._forgotten(self.inner.purge_expired(now))

    async def apurge_expired(self, now: float) -> list[tuple[str, SessionRecord, EndReason]]:
        return self._forgotten(await self.inner.apurge_expired(now))

    def _forgotten(self, ended: list[Any]) -> list[Any]:
        for key, *_ in ended:
            self._forget(key)
        return ended

    def close(self) -> None:
        self.push.close()
        self.inner.close()

    async def aclose(self) -> None:
        self.push.close()
        await self.inner.aclose()

    @property
    def kept(self) -> int:
        """How many sessions' records this process keeps now."""
        return len(self._records)


def _first_deadline(decision: Decision) -> float | None:
    idle, absolute = decision.idle_remaining, decision.absolute_remaining
    if idle is None:
        return absolute
    if absolute is None:
        return idle
    return min(idle, absolute)
