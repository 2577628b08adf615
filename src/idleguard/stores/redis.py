"""The Redis store (and Valkey): one round trip per request, shared by every worker.

A request's check is a single `EVALSHA` of `lua/check.lua`, which reads the
record, makes the decision of [`idleguard.stores.decide`][idleguard.stores.decide]
(`lua/decide.lua` mirrors it), writes the last activity only when `touch_interval` has passed,
and ends the session with a tombstone when a limit is reached, all inside
Redis where nothing can run in between. A request racing a sign-out or an
expiry therefore can never bring the session back.

Every operation is written once, as a generator that yields the script calls
it needs (`_Step`); `RedisStore._sync` runs them with redis-py's
client (WSGI) and `RedisStore._async` with `redis.asyncio` (ASGI).

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
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, ClassVar

from redis.backoff import NoBackoff
from redis.exceptions import RedisClusterException, RedisError
from redis.retry import Retry

from ..core import CLOCK_TOLERANCE, Decision, EndReason, Limits, SessionRecord, Verdict
from ..errors import ConfigError
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
from .redis_topologies import AsyncClients, SyncClients, is_outage
from .redis_urls import SCHEMES, RedisTarget, Topology, durability, parse_url
from .stepped import SteppedStore

__all__ = ["RedisStore"]

logger = logging.getLogger("idleguard")


class RedisStore(SteppedStore):
    """Sessions in Redis or Valkey, shared by every worker and host.

    One server, a Sentinel set or a Cluster, as the URL says
    ([`redis_urls`][idleguard.stores.redis_urls] lists the forms).

    Args:
        url: `redis://[:password@]host:port/db`, `rediss://` for TLS,
            `unix:///path/to/redis.sock?db=0`,
            `redis+cluster://host1:port1,host2:port2/`,
            `redis+sentinel://host1:port1,host2:port2/service_name/db`, and
            the same with `valkey`. The store's own options in the query
            string are read by [`from_url`][idleguard.stores.from_url]; for one
            server, other query parameters go to redis-py.
        key_prefix: Prepended to every key, so several apps can share one
            database.
        socket_timeout: Seconds a call may take before the store counts as
            unavailable (the request then gets the fail-closed answer). The ASGI
            middleware also bounds each call with its `store_timeout`.
        connect_timeout: Seconds a connection attempt may take, likewise.
        server_time: Decide with Redis's own clock (`TIME`) instead of the
            app's, for fleets whose hosts' clocks cannot be trusted to agree.
        tombstone_ttl: Seconds an ended session's tombstone is kept (and a
            session past its deadline that no request has seen yet, so the
            expiry is still found and reported).
        max_connections: Size of each connection pool (sync and async, per
            node under Cluster). A request that finds every connection busy
            waits for one, for at most `socket_timeout`.
        durable: Whether a tombstone (sign-out, revocation, expiry) must reach
            a replica (`WAIT`) before it counts: `True` for one replica, a
            number for that many, `False` for none. On by default for Cluster
            and Sentinel, off for one server.
        durable_timeout: Seconds the replicas have to confirm a tombstone;
            shorter than `socket_timeout`.
        **redis_options: Passed to redis-py's connection pool (one server).

    Raises:
        ValueError: A timeout is not a positive number of seconds.
        ConfigError: The URL cannot work, or `durable_timeout` is not shorter
            than `socket_timeout`.
    """

    schemes: ClassVar[tuple[str, ...]] = SCHEMES
    remote: ClassVar[bool] = True

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        key_prefix: str = "ig:",
        socket_timeout: float = 1.0,
        connect_timeout: float = 1.0,
        server_time: bool = False,
        tombstone_ttl: float = 24 * 3600.0,
        max_connections: int = 64,
        durable: bool | int | None = None,
        durable_timeout: float | None = None,
        **redis_options: Any,
    ) -> None:
        if socket_timeout <= 0 or connect_timeout <= 0:
            raise ValueError("socket_timeout and connect_timeout must be positive seconds")
        self.target: RedisTarget = parse_url(url, {})[0]
        self.url = self.target.url
        self.durability = durability(self.target.topology, durable, durable_timeout)
        if self.durability.on and self.durability.timeout >= socket_timeout:
            raise ConfigError(
                f"durable_timeout ({self.durability.timeout:g} s) must be shorter than "
                f"socket_timeout ({socket_timeout:g} s): a longer WAIT reads as an outage"
            )
        if redis_options and self.target.topology is not Topology.STANDALONE:
            raise ConfigError(
                f"options {sorted(redis_options)} are for one server's redis-py pool; "
                f"a {self.target.topology.value} URL takes its options in the query string"
            )
        self.key_prefix = key_prefix
        self.server_time = server_time
        self.tombstone_ttl = tombstone_ttl
        self._grace = str(max(1, round(tombstone_ttl * 1000)))
        self._tolerance = repr(CLOCK_TOLERANCE)
        self._options: dict[str, Any] = {
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": connect_timeout,
            "max_connections": max_connections,
        }
        if self.target.topology is Topology.STANDALONE:
            self._options |= {
                # No silent retries: a retried check could report an expiry twice or
                # never; the caller's fail-closed answer is the defined outcome.
                "retry": Retry(NoBackoff(), 0),
                "decode_responses": True,
                # A burst of more requests than connections waits for one (up to
                # the timeout) instead of failing at once with "Too many connections".
                "timeout": socket_timeout,
                **redis_options,
            }
        self._clients = SyncClients(self.target, self._options, self.durability)
        self._async_clients: AsyncClients | None = None
        self._async_loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisStore:
        """Build from a URL; `?key_prefix=`, `?durable=0` and timeouts may ride in it.

        Args:
            url: The Redis URL, with any of the constructor's options in its
                query string (`key_prefix`, `socket_timeout`, `connect_timeout`,
                `tombstone_ttl`, `server_time`, `max_connections`, `durable`,
                `durable_timeout`); for one server, other parameters go to
                redis-py.
            **options: The constructor's keyword arguments; they win over the
                URL's.

        Returns:
            The store.

        Raises:
            ConfigError: The URL cannot work; the message says why.
        """
        _, merged = parse_url(url, options)
        return cls(url, **merged)

    @property
    def _client(self) -> Any:
        """The blocking redis-py client, for tests and benchmarks that look at the keys."""
        return self._clients.client()

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
            END, (self._key(key),), (reason.value, self._now(now), self._grace), confirm=True
        )

    def _end(self, key: str, reason: EndReason, now: float) -> Step:
        (reply,) = yield [self._end_call(key, reason, now)]
        if reply is None:
            return None
        record = record_from_fields(*reply)
        return None if record.ended is not None else record

    def _reauthenticate(self, key: str, now: float) -> Step:
        (reply,) = yield [Call(REAUTHENTICATE, (self._key(key),), (self._now(now),))]
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
                        Call(SWEEP, (full,), (self._now(now), self._tolerance, self._grace), True)
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

    # -- sync (WSGI) ----------------------------------------------------------
    def _sync(self, step: Step) -> Any:
        try:
            replies: list[Any] | None = None
            while True:
                try:
                    calls = step.send(replies) if replies is not None else next(step)
                except StopIteration as stop:
                    return stop.value
                replies = self._clients.run(calls)
        except (RedisError, RedisClusterException, UnicodeDecodeError) as error:
            raise _unavailable(error) from error

    def check(self, key: str, limits: Limits, activity: bool, now: float) -> Check:
        try:
            (reply,) = self._clients.run([self._check_call(key, limits, activity, now)])
        except (RedisError, RedisClusterException) as error:
            raise _unavailable(error) from error
        result = self._check_result(reply)
        confirm = self._confirm_expiry(key, result, now)
        if confirm is not None:
            try:
                self._sync(_once(confirm))
            except StoreUnavailable as error:
                self._unconfirmed_expiry(error)
        return result

    def purge_expired(
        self, now: float, *, batch: int = 500
    ) -> list[tuple[str, SessionRecord, EndReason]]:
        """End every session past its deadline that no request has discovered yet.

        Walks the keys with `SCAN` (every primary's, under Cluster) and ends
        each expired session under the limits it was last written with.

        Args:
            now: The time of the sweep.
            batch: Keys read per `SCAN` call.

        Returns:
            `(key, record, reason)` for each session ended, to be reported as
                expiry events.

        Raises:
            StoreUnavailable: Redis could not answer.
        """
        try:
            nodes = self._clients.primaries()
        except (RedisError, RedisClusterException) as error:
            raise _unavailable(error) from error
        expired: list[tuple[str, SessionRecord, EndReason]] = self._sync(
            self._sweep(now, nodes, batch)
        )
        return expired

    def close(self) -> None:
        self._clients.close()

    # -- async (ASGI) ---------------------------------------------------------
    def _aclients(self) -> AsyncClients:
        loop = asyncio.get_running_loop()
        # An asyncio connection belongs to the loop that opened it.
        if self._async_clients is None or self._async_loop is not loop:
            self._async_clients = AsyncClients(self.target, self._options, self.durability)
            self._async_loop = loop
        return self._async_clients

    async def _async(self, step: Step) -> Any:
        try:
            replies: list[Any] | None = None
            while True:
                try:
                    calls = step.send(replies) if replies is not None else next(step)
                except StopIteration as stop:
                    return stop.value
                replies = await self._aclients().run(calls)
        except (RedisError, RedisClusterException, UnicodeDecodeError) as error:
            raise _unavailable(error) from error

    async def acheck(self, key: str, limits: Limits, activity: bool, now: float) -> Check:
        try:
            (reply,) = await self._aclients().run([self._check_call(key, limits, activity, now)])
        except (RedisError, RedisClusterException) as error:
            raise _unavailable(error) from error
        result = self._check_result(reply)
        confirm = self._confirm_expiry(key, result, now)
        if confirm is not None:
            try:
                await self._async(_once(confirm))
            except StoreUnavailable as error:
                self._unconfirmed_expiry(error)
        return result

    async def apurge_expired(
        self, now: float, *, batch: int = 500
    ) -> list[tuple[str, SessionRecord, EndReason]]:
        """The async twin of `purge_expired`."""
        try:
            nodes = await self._aclients().primaries()
        except (RedisError, RedisClusterException) as error:
            raise _unavailable(error) from error
        expired: list[tuple[str, SessionRecord, EndReason]] = await self._async(
            self._sweep(now, nodes, batch)
        )
        return expired

    async def aclose(self) -> None:
        if self._async_clients is not None:
            await self._async_clients.aclose()
            self._async_clients = None
        self._clients.close()


_EXPIRIES = (Verdict.EXPIRED_IDLE, Verdict.EXPIRED_ABSOLUTE)


def _once(call: Call) -> Step:
    """A step of one call."""
    (reply,) = yield [call]
    return reply


def _unavailable(error: Exception) -> StoreUnavailable:
    """The outage `error` is; anything else is not an outage and is raised as it is."""
    if isinstance(error, StoreUnavailable):
        return error
    if not (is_outage(error) or isinstance(error, UnicodeDecodeError)):
        raise error
    return StoreUnavailable(f"redis: {type(error).__name__}: {error}")
