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
import dataclasses
import hashlib
import json
import re
from collections.abc import Generator, Sequence
from importlib import resources
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError
from redis.retry import Retry

from ..core import (
    CLOCK_TOLERANCE,
    Decision,
    EndReason,
    Limits,
    SessionRecord,
    Verdict,
    record_from_mapping,
)
from .base import Check, StoreUnavailable
from .stepped import SteppedStore

__all__ = ["RedisStore"]

_MICROS = re.compile(r"-?\d+\Z")


@dataclasses.dataclass(frozen=True, slots=True)
class _Script:
    """A Lua script shipped with the package, known to Redis by its SHA1."""

    name: str
    source: str
    sha: str

    @classmethod
    def load(cls, name: str, *, with_decide: bool = True) -> _Script:
        folder = resources.files("idleguard.stores").joinpath("lua")
        body = folder.joinpath(f"{name}.lua").read_text("utf-8")
        # The shared functions are prepended, so every script is self-contained.
        source = (
            folder.joinpath("decide.lua").read_text("utf-8") + "\n" + body if with_decide else body
        )
        return cls(name, source, hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest())


_CHECK = _Script.load("check")
_CREATE = _Script.load("create")
_INDEX = _Script.load("index", with_decide=False)
_END = _Script.load("end")
_REAUTHENTICATE = _Script.load("reauthenticate")
_SWEEP = _Script.load("sweep")


@dataclasses.dataclass(frozen=True, slots=True)
class _Call:
    """One call in a batch: a script with its keys and arguments, or (no script) a command."""

    script: _Script | None
    keys: Sequence[str]
    args: Sequence[str]


def _command(*words: str) -> _Call:
    return _Call(None, (), words)


#: An operation: yields batches of calls (sent in one round trip), gets their replies.
_Step = Generator[list[_Call], list[Any], Any]


def _micros(seconds: float) -> str:
    return str(round(seconds * 1_000_000))


def _seconds_or_blank(value: float | None) -> str:
    if value is None:
        return ""
    # Whole seconds as an integer: Redis keeps integer-looking fields compactly.
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _optional(value: str | None) -> str:
    return "" if value is None else "=" + value


def _record(
    created: Any, last: Any, authenticated: Any, subject: Any, tenant: Any, ended: Any = None
) -> SessionRecord:
    """A record from stored fields; anything malformed reads as an `invalid` tombstone."""
    data: dict[str, Any] = {}
    for name, raw in (("c", created), ("l", last), ("a", authenticated)):
        if isinstance(raw, str) and _MICROS.match(raw):
            data[name] = int(raw) / 1e6
    for name, value in (("s", subject), ("t", tenant), ("e", ended)):
        if value is not None:
            data[name] = value
    return record_from_mapping(data)


def _float_or_none(raw: Any) -> float | None:
    return None if raw is None else float(raw)


class RedisStore(SteppedStore):
    """Sessions in Redis or Valkey, shared by every worker and host.

    Args:
        url: `redis://[:password@]host:port/db`, `rediss://` for TLS,
            `unix:///path/to/redis.sock?db=0`; `valkey://` and `valkeys://` are
            the same. Other query parameters go to redis-py.
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
        max_connections: Size of each connection pool (sync and async). A
            request that finds every connection busy waits for one, for at most
            `socket_timeout`.
        **redis_options: Passed to redis-py's connection pool.

    Raises:
        ValueError: A timeout is not a positive number of seconds.
    """

    schemes: ClassVar[tuple[str, ...]] = ("redis", "rediss", "unix", "valkey", "valkeys")
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
        **redis_options: Any,
    ) -> None:
        if socket_timeout <= 0 or connect_timeout <= 0:
            raise ValueError("socket_timeout and connect_timeout must be positive seconds")
        self.url = _redis_url(url)
        self.key_prefix = key_prefix
        self.server_time = server_time
        self.tombstone_ttl = tombstone_ttl
        self._grace = str(max(1, round(tombstone_ttl * 1000)))
        self._tolerance = repr(CLOCK_TOLERANCE)
        #: Where every end and fresh sign-in is announced, by the script that makes it
        #: (see `idleguard.stores.local`).
        self.channel = f"{key_prefix}changed"
        #: redis-py's options for every connection (a subscriber opens its own with them).
        self.connection_options: dict[str, Any] = {
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": connect_timeout,
            # No silent retries: a retried check could report an expiry twice or
            # never; the caller's fail-closed answer is the defined outcome.
            "retry": Retry(NoBackoff(), 0),
            "decode_responses": True,
            "max_connections": max_connections,
            # A burst of more requests than connections waits for one (up to the
            # timeout) instead of failing at once with "Too many connections".
            "timeout": socket_timeout,
            **redis_options,
        }
        self._client: redis.Redis = redis.Redis.from_pool(
            redis.BlockingConnectionPool.from_url(self.url, **self.connection_options)
        )
        self._async_client: redis.asyncio.Redis | None = None
        self._async_loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisStore:
        """Build from a URL; `?key_prefix=`, `?server_time=1` and timeouts may ride in it.

        Args:
            url: The Redis URL, with any of the constructor's options in its
                query string (`key_prefix`, `socket_timeout`, `connect_timeout`,
                `tombstone_ttl`, `server_time`); other parameters go to redis-py.
            **options: The constructor's keyword arguments; they win over the
                URL's.

        Returns:
            The store.
        """
        parts = urlsplit(url)
        kept = []
        for name, value in parse_qsl(parts.query):
            if name in {"key_prefix"}:
                options.setdefault(name, value)
            elif name in {"socket_timeout", "connect_timeout", "tombstone_ttl"}:
                options.setdefault(name, float(value))
            elif name == "server_time":
                options.setdefault(name, value.lower() in {"1", "true", "yes", "on"})
            else:
                kept.append((name, value))
        # Not urlunsplit: it folds "unix:///run/redis.sock" into "unix:/run/redis.sock",
        # which redis-py then reads as a host named "run".
        base = url.split("?", 1)[0]
        return cls(base + ("?" + urlencode(kept) if kept else ""), **options)

    # -- keys -----------------------------------------------------------------
    def _key(self, key: str) -> str:
        return f"{self.key_prefix}{{{key}}}"

    def _index(self, subject: str) -> str:
        return f"{self.key_prefix}u:{{{subject}}}"

    def _now(self, now: float) -> str:
        return "" if self.server_time else _micros(now)

    # -- the operations, written once -----------------------------------------
    def _check_call(self, key: str, limits: Limits, activity: bool, now: float) -> _Call:
        return _Call(
            _CHECK,
            (self._key(key),),
            (
                self._now(now),
                _seconds_or_blank(limits.idle_timeout),
                _seconds_or_blank(limits.absolute_timeout),
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
            _float_or_none(idle),
            _float_or_none(absolute),
            EndReason(reason) if reason is not None else None,
        )
        return decision, _record(*fields)

    def _create(self, key: str, record: SessionRecord, limits: Limits) -> _Step:
        calls: list[_Call] = []
        if record.subject is not None:
            calls.append(self._index_call(key, record, limits))
        calls.append(
            _Call(
                _CREATE,
                (self._key(key),),
                (
                    # The record's own time is "now" for its lifetime (server TIME if asked).
                    "" if self.server_time else _micros(record.last_activity),
                    _micros(record.created_at),
                    _micros(record.last_activity),
                    _micros(record.authenticated_at),
                    _optional(record.subject),
                    _optional(record.tenant),
                    _seconds_or_blank(limits.idle_timeout),
                    _seconds_or_blank(limits.absolute_timeout),
                    self._grace,
                ),
            )
        )
        # The index is written first: should the record's write then fail, a
        # dangling index entry is harmless, a session missing from it is not.
        yield calls

    def _index_call(self, key: str, record: SessionRecord, limits: Limits) -> _Call:
        assert record.subject is not None
        if limits.absolute_timeout is None:
            oldest, lifetime = "", ""
        else:
            oldest = repr(record.created_at - limits.absolute_timeout - self.tombstone_ttl)
            lifetime = str(round((limits.absolute_timeout + self.tombstone_ttl) * 1000))
        return _Call(
            _INDEX,
            (self._index(record.subject),),
            (key, repr(record.created_at), oldest, lifetime),
        )

    def _end(self, key: str, reason: EndReason, now: float) -> _Step:
        (reply,) = yield [
            _Call(
                _END, (self._key(key),), (reason.value, self._now(now), self._grace, self.channel)
            )
        ]
        if reply is None:
            return None
        record = _record(*reply)
        return None if record.ended is not None else record

    def _reauthenticate(self, key: str, now: float) -> _Step:
        (reply,) = yield [_Call(_REAUTHENTICATE, (self._key(key),), (self._now(now), self.channel))]
        return bool(reply)

    def _sessions_of(self, subject: str) -> _Step:
        index = self._index(subject)
        (members,) = yield [_command("ZRANGE", index, "0", "-1")]
        if not members:
            return []
        replies = yield [
            _command("HMGET", self._key(member), "c", "l", "a", "s", "t", "e") for member in members
        ]
        found, gone = [], []
        for member, fields in zip(members, replies, strict=True):
            record = _record(*fields)
            if record.ended is None and record.subject == subject:
                found.append((member, record))
            else:
                gone.append(member)
        if gone:
            yield [_command("ZREM", index, *gone)]
        return found

    def _revoke_subject(self, subject: str, now: float) -> _Step:
        live = yield from self._sessions_of(subject)
        if not live:
            return []
        calls: list[_Call] = [
            _Call(
                _END,
                (self._key(key),),
                (EndReason.REVOKED.value, self._now(now), self._grace, self.channel),
            )
            for key, _ in live
        ]
        replies = yield calls
        ended = []
        for (key, _), reply in zip(live, replies, strict=True):
            if reply is not None:
                record = _record(*reply)
                if record.ended is None:
                    ended.append((key, record))
        return ended

    def _purge(self, now: float, batch: int = 500) -> _Step:
        prefix_pattern = _glob_escape(self.key_prefix) + "{*"
        start = len(self.key_prefix) + 1
        cursor = "0"
        expired: list[tuple[str, SessionRecord, EndReason]] = []
        while True:
            ((cursor, keys),) = yield [
                _command("SCAN", cursor, "MATCH", prefix_pattern, "COUNT", str(batch))
            ]
            if keys:
                # One script call per key: each key is its own slot under Cluster.
                replies = yield [
                    _Call(
                        _SWEEP,
                        (full,),
                        (self._now(now), self._tolerance, self._grace, self.channel),
                    )
                    for full in keys
                ]
                for reply in replies:
                    for full, reason, *fields in reply:
                        expired.append((full[start:-1], _record(*fields), EndReason(reason)))
            if str(cursor) == "0":
                return expired

    # -- sync (WSGI) ----------------------------------------------------------
    def _call_sync(self, call: _Call) -> Any:
        client = self._client
        script, keys, args = call.script, call.keys, call.args
        if script is None:
            return client.execute_command(*args)  # type: ignore[no-untyped-call]
        try:
            return client.evalsha(script.sha, len(keys), *keys, *args)
        except NoScriptError:
            return client.eval(script.source, len(keys), *keys, *args)

    def _batch_sync(self, calls: list[_Call]) -> list[Any]:
        if len(calls) == 1:
            return [self._call_sync(calls[0])]
        pipe = self._client.pipeline(transaction=False)
        for call in calls:
            if call.script is None:
                pipe.execute_command(*call.args)  # type: ignore[no-untyped-call]
            else:
                pipe.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
        replies = pipe.execute(raise_on_error=False)
        for position, reply in enumerate(replies):
            if isinstance(reply, NoScriptError):
                replies[position] = self._call_sync(calls[position])
            elif isinstance(reply, Exception):
                raise reply
        return list(replies)

    def _sync(self, step: _Step) -> Any:
        try:
            replies: list[Any] | None = None
            while True:
                try:
                    calls = step.send(replies) if replies is not None else next(step)
                except StopIteration as stop:
                    return stop.value
                replies = self._batch_sync(calls)
        except (RedisError, UnicodeDecodeError) as error:
            raise StoreUnavailable(f"redis: {type(error).__name__}: {error}") from error

    def check(self, key: str, limits: Limits, activity: bool, now: float) -> Check:
        try:
            reply = self._call_sync(self._check_call(key, limits, activity, now))
        except RedisError as error:
            raise StoreUnavailable(f"redis: {type(error).__name__}: {error}") from error
        return self._check_result(reply)

    def purge_expired(
        self, now: float, *, batch: int = 500
    ) -> list[tuple[str, SessionRecord, EndReason]]:
        """End every session past its deadline that no request has discovered yet.

        Walks the keys with `SCAN` and ends each expired session under the
        limits it was last written with.

        Args:
            now: The time of the sweep.
            batch: Keys read per `SCAN` call.

        Returns:
            `(key, record, reason)` for each session ended, to be reported as
                expiry events.

        Raises:
            StoreUnavailable: Redis could not answer.
        """
        expired: list[tuple[str, SessionRecord, EndReason]] = self._sync(self._purge(now, batch))
        return expired

    def close(self) -> None:
        self._client.close()

    # -- async (ASGI) ---------------------------------------------------------
    def _aclient(self) -> redis.asyncio.Redis:
        loop = asyncio.get_running_loop()
        # An asyncio connection belongs to the loop that opened it.
        if self._async_client is None or self._async_loop is not loop:
            self._async_client = redis.asyncio.Redis.from_pool(
                redis.asyncio.BlockingConnectionPool.from_url(self.url, **self.connection_options)
            )
            self._async_loop = loop
        return self._async_client

    async def _call_async(self, call: _Call) -> Any:
        client = self._aclient()
        script, keys, args = call.script, call.keys, call.args
        if script is None:
            return await client.execute_command(*args)  # type: ignore[no-untyped-call]
        try:
            return await client.evalsha(script.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.eval(script.source, len(keys), *keys, *args)

    async def _batch_async(self, calls: list[_Call]) -> list[Any]:
        if len(calls) == 1:
            return [await self._call_async(calls[0])]
        pipe = self._aclient().pipeline(transaction=False)
        for call in calls:
            if call.script is None:
                pipe.execute_command(*call.args)
            else:
                pipe.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
        replies = await pipe.execute(raise_on_error=False)
        for position, reply in enumerate(replies):
            if isinstance(reply, NoScriptError):
                replies[position] = await self._call_async(calls[position])
            elif isinstance(reply, Exception):
                raise reply
        return list(replies)

    async def _async(self, step: _Step) -> Any:
        try:
            replies: list[Any] | None = None
            while True:
                try:
                    calls = step.send(replies) if replies is not None else next(step)
                except StopIteration as stop:
                    return stop.value
                replies = await self._batch_async(calls)
        except (RedisError, UnicodeDecodeError) as error:
            raise StoreUnavailable(f"redis: {type(error).__name__}: {error}") from error

    async def acheck(self, key: str, limits: Limits, activity: bool, now: float) -> Check:
        try:
            reply = await self._call_async(self._check_call(key, limits, activity, now))
        except RedisError as error:
            raise StoreUnavailable(f"redis: {type(error).__name__}: {error}") from error
        return self._check_result(reply)

    async def apurge_expired(
        self, now: float, *, batch: int = 500
    ) -> list[tuple[str, SessionRecord, EndReason]]:
        """The async twin of `purge_expired`."""
        expired: list[tuple[str, SessionRecord, EndReason]] = await self._async(
            self._purge(now, batch)
        )
        return expired

    async def aclose(self) -> None:
        if self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None
        self._client.close()


def _redis_url(url: str) -> str:
    """Valkey's schemes are Redis's: the protocol is the same."""
    if url.startswith("valkey://"):
        return "redis://" + url[len("valkey://") :]
    if url.startswith("valkeys://"):
        return "rediss://" + url[len("valkeys://") :]
    return url


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)
