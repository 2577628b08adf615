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

What is sent (the keys, the scripts and their arguments) is
`redis_operations`; how it reaches the
servers of each topology is `redis_topologies`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from redis.backoff import NoBackoff
from redis.exceptions import RedisClusterException, RedisError
from redis.retry import Retry

from ..core import CLOCK_TOLERANCE, EndReason, Limits, SessionRecord
from ..errors import ConfigError
from .base import Check, StoreUnavailable
from .redis_async_clients import AsyncClients
from .redis_operations import RedisOperations
from .redis_scripts import (
    Call,
    Step,
)
from .redis_topologies import SyncClients, is_outage
from .redis_urls import SCHEMES, RedisTarget, Topology, durability, parse_url
from .stepped import SteppedStore

__all__ = ["RedisStore"]

logger = logging.getLogger("idleguard")


class RedisStore(RedisOperations, SteppedStore):
    """Sessions in Redis or Valkey, shared by every worker and host.

    One server, a Sentinel set or a Cluster, as the URL says
    (`redis_urls` lists the forms).

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
        self.channel = f"{key_prefix}changed"
        #: One server (or Valkey), which local decisions can subscribe to.
        self.single_server = self.target.topology is Topology.STANDALONE
        #: redis-py's options for every connection (a subscriber opens its own with them).
        self.connection_options: dict[str, Any] = {
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": connect_timeout,
            "max_connections": max_connections,
        }
        if self.target.topology is Topology.STANDALONE:
            self.connection_options |= {
                # No silent retries: a retried check could report an expiry twice or
                # never; the caller's fail-closed answer is the defined outcome.
                "retry": Retry(NoBackoff(), 0),
                "decode_responses": True,
                # A burst of more requests than connections waits for one (up to
                # the timeout) instead of failing at once with "Too many connections".
                "timeout": socket_timeout,
                **redis_options,
            }
        self._clients = SyncClients(self.target, self.connection_options, self.durability)
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
            self._async_clients = AsyncClients(
                self.target, self.connection_options, self.durability
            )
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
