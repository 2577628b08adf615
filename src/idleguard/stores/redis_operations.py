"""What the Redis store sends, written once: its keys, and each operation as a step of calls.

No I/O here: each operation is a generator that yields the batches of
`Call`s it needs and is sent their
replies; `RedisStore` drives them with a
sync or an async client of its topology.

Layout, for an operator looking at the keys (`ig:` is `key_prefix`):

* `ig:{<session digest>}`: a hash, `c` created, `l` last activity, `a`
  authenticated (integer microseconds since the epoch), `s` subject, `t`
  tenant, `i`/`b` the idle and absolute limits it was last written under
  (seconds, for the sweeper), `e` the end reason on a tombstone. Its TTL is the
  time to the first deadline plus `tombstone_ttl`.
* `ig:u:{<subject>}`: a sorted set of the subject's session digests, scored by
  creation time.

Each key names its own hash slot, and no script touches two keys, so Redis
Cluster works.

A sign-out, a revocation and an expiry found by the sweep are tombstones:
their calls are marked `confirm`, so a durable store waits for a replica to
hold them before they count.
"""

from __future__ import annotations

import json
import logging

from ..core import Decision, EndReason, Limits, SessionRecord, Verdict
from .base import Check, StoreUnavailable
from .redis_scripts import (
    CHECK,
    CREATE,
    END,
    INDEX,
    REAUTHENTICATE,
    SWEEP,
    Call,
    Step,
    command,
    float_or_none,
    glob_escape,
    micros,
    optional,
    record_from_fields,
    seconds_or_blank,
)
from .redis_urls import Durability

__all__ = ["RedisOperations"]

logger = logging.getLogger("idleguard")

_EXPIRIES = (Verdict.EXPIRED_IDLE, Verdict.EXPIRED_ABSOLUTE)


class RedisOperations:
    """The keys and the operations of the Redis store, as steps (no I/O).

    Attributes:
        key_prefix: Prepended to every key.
        server_time: Whether the scripts read Redis's clock (`TIME`).
        tombstone_ttl: Seconds an ended session's tombstone is kept.
        durability: Whether tombstones wait for replicas.
        channel: Where each end and fresh sign-in is announced, by the script that
            makes it (see `idleguard.stores.local`).
    """

    key_prefix: str
    server_time: bool
    tombstone_ttl: float
    durability: Durability
    channel: str
    _grace: str
    _tolerance: str

    # -- keys -----------------------------------------------------------------
    def _key(self, key: str) -> str:
        return f"{self.key_prefix}{{{key}}}"

    def _index(self, subject: str) -> str:
        return f"{self.key_prefix}u:{{{subject}}}"

    def _now(self, now: float) -> str:
        return "" if self.server_time else micros(now)

    # -- the operations, written once -----------------------------------------
    def _check_call(self, key: str, limits: Limits, activity: bool, now: float) -> Call:
        return Call(
            CHECK,
            (self._key(key),),
            (
                self._now(now),
                seconds_or_blank(limits.idle_timeout),
                seconds_or_blank(limits.absolute_timeout),
                repr(float(limits.touch_interval)),
                "1" if activity else "0",
                self._tolerance,
                self._grace,
                self.channel,
            ),
        )

    @staticmethod
    def _check_result(raw: str) -> Check:
        reply = [None if value is False else value for value in json.loads(raw)]
        verdict = Verdict(reply[0])
        if verdict is Verdict.NO_SESSION:
            return Decision(Verdict.NO_SESSION), None
        _, touch, idle, absolute, reason, _now, *fields = reply
        decision = Decision(
            verdict,
            bool(touch),
            float_or_none(idle),
            float_or_none(absolute),
            EndReason(reason) if reason is not None else None,
        )
        return decision, record_from_fields(*fields)

    def _create(self, key: str, record: SessionRecord, limits: Limits) -> Step:
        calls: list[Call] = []
        if record.subject is not None:
            calls.append(self._index_call(key, record, limits))
        calls.append(
            Call(
                CREATE,
                (self._key(key),),
                (
                    # The record's own time is "now" for its lifetime (server TIME if asked).
                    "" if self.server_time else micros(record.last_activity),
                    micros(record.created_at),
                    micros(record.last_activity),
                    micros(record.authenticated_at),
                    optional(record.subject),
                    optional(record.tenant),
                    seconds_or_blank(limits.idle_timeout),
                    seconds_or_blank(limits.absolute_timeout),
                    self._grace,
                ),
            )
        )
        # The index is written first: should the record's write then fail, a
        # dangling index entry is harmless, a session missing from it is not.
        yield calls

    def _index_call(self, key: str, record: SessionRecord, limits: Limits) -> Call:
        assert record.subject is not None
        if limits.absolute_timeout is None:
            oldest, lifetime = "", ""
        else:
            oldest = repr(record.created_at - limits.absolute_timeout - self.tombstone_ttl)
            lifetime = str(round((limits.absolute_timeout + self.tombstone_ttl) * 1000))
        return Call(
            INDEX,
            (self._index(record.subject),),
            (key, repr(record.created_at), oldest, lifetime),
        )

    def _end_call(self, key: str, reason: EndReason, now: float) -> Call:
        return Call(
            END,
            (self._key(key),),
            (reason.value, self._now(now), self._grace, self.channel),
            confirm=True,
        )

    def _end(self, key: str, reason: EndReason, now: float) -> Step:
        (reply,) = yield [self._end_call(key, reason, now)]
        if reply is None:
            return None
        record = record_from_fields(*reply)
        return None if record.ended is not None else record

    def _reauthenticate(self, key: str, now: float) -> Step:
        (reply,) = yield [Call(REAUTHENTICATE, (self._key(key),), (self._now(now), self.channel))]
        return bool(reply)

    def _sessions_of(self, subject: str) -> Step:
        index = self._index(subject)
        (members,) = yield [command("ZRANGE", index, "0", "-1")]
        if not members:
            return []
        replies = yield [
            command("HMGET", self._key(member), "c", "l", "a", "s", "t", "e") for member in members
        ]
        found, gone = [], []
        for member, fields in zip(members, replies, strict=True):
            record = record_from_fields(*fields)
            if record.ended is None and record.subject == subject:
                found.append((member, record))
            else:
                gone.append(member)
        if gone:
            yield [command("ZREM", index, *gone)]
        return found

    def _revoke_subject(self, subject: str, now: float) -> Step:
        live = yield from self._sessions_of(subject)
        if not live:
            return []
        # Each tombstone goes to its own session's node (Cluster groups them).
        replies = yield [self._end_call(key, EndReason.REVOKED, now) for key, _ in live]
        ended = []
        for (key, _), reply in zip(live, replies, strict=True):
            if reply is not None:
                record = record_from_fields(*reply)
                if record.ended is None:
                    ended.append((key, record))
        return ended

    def _sweep(self, now: float, nodes: list[str | None], batch: int = 500) -> Step:
        prefix_pattern = glob_escape(self.key_prefix) + "{*"
        start = len(self.key_prefix) + 1
        expired: list[tuple[str, SessionRecord, EndReason]] = []
        # One SCAN walk per primary: under Cluster each holds its own slots' keys.
        for node in nodes:
            cursor = "0"
            while True:
                ((cursor, keys),) = yield [
                    command("SCAN", cursor, "MATCH", prefix_pattern, "COUNT", str(batch), node=node)
                ]
                if keys:
                    # One script call per key: each key is its own slot under Cluster.
                    replies = yield [
                        Call(
                            SWEEP,
                            (full,),
                            (self._now(now), self._tolerance, self._grace, self.channel),
                            True,
                        )
                        for full in keys
                    ]
                    for reply in replies:
                        for full, reason, *fields in reply:
                            found = record_from_fields(*fields)
                            expired.append((full[start:-1], found, EndReason(reason)))
                if str(cursor) == "0":
                    break
        return expired

    def _confirm_expiry(self, key: str, result: Check, now: float) -> Call | None:
        """The tombstone a check just wrote, written again to wait for replicas on it.

        The check's own connection is gone back to the pool by now; a `WAIT` on
        another one confirms only what that connection wrote. Ending the session
        again (a no-op but for the tombstone's expiry) gives `WAIT` a write that
        comes after the check's.
        """
        decision = result[0]
        if not self.durability.on or decision.verdict not in _EXPIRIES:
            return None
        assert decision.reason is not None
        return self._end_call(key, decision.reason, now)

    def _unconfirmed_expiry(self, error: StoreUnavailable) -> None:
        # The request is refused either way; the operator must know the
        # tombstone may not survive a failover.
        logger.error("idleguard: an expiry tombstone is not confirmed by a replica: %s", error)
