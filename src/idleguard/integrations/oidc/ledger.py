"""What single sign-on must remember on the server, beside the session store.

Per session: the IdP's id token (the `id_token_hint` of its logout URL), the
IdP session (`sid`) and user (`sub`) it came with, and when a step-up was
asked for. Per IdP session: which idleguard sessions it signed in, so a
back-channel logout naming a `sid` finds them. Per logout token: its `jti`,
so the same token is refused a second time. Never in the browser: an id token
in a cookie would be the bearer credential the IdP logout trusts.

Every entry expires (`ttl`, seconds); a lost entry is safe (no `id_token_hint`,
or no session found for a `sid`) except a `jti`, which is why the memory
ledger never drops a live one for room. Two kinds: in-process (beside a memory
store) and Redis (beside a Redis store, on its server).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, Protocol

import anyio.to_thread
import cachetools

from ...errors import ConfigError, StoreUnavailable
from ...stores.base import Store
from ...stores.cookie import CookieStore
from ...stores.memory import MemoryStore

__all__ = ["Ledger", "MemoryLedger", "RedisLedger", "ledger_for"]

Entry = dict[str, Any]


class Ledger(Protocol):
    """The single sign-on entries of one identity provider; each method has an `a` twin."""

    def put(self, key: str, entry: Entry, ttl: float) -> None: ...
    def get(self, key: str) -> Entry | None: ...
    def link(self, group: str, key: str, ttl: float) -> None: ...
    def members(self, group: str) -> list[str]: ...
    def claim(self, token_id: str, ttl: float) -> bool: ...
    def release(self, token_id: str) -> None: ...
    async def aget(self, key: str) -> Entry | None: ...
    async def amembers(self, group: str) -> list[str]: ...
    async def aclaim(self, token_id: str, ttl: float) -> bool: ...
    async def arelease(self, token_id: str) -> None: ...
    def close(self) -> None: ...


class MemoryLedger:
    """Entries in this process, beside a memory store (one worker, or tests).

    Args:
        clock: The middleware's clock (seconds since the epoch).
        maxsize: How many entries it holds; past that the soonest to expire
            goes first. A `jti` is kept apart and never dropped before its time,
            so a full ledger cannot let a logout token be replayed.
    """

    def __init__(self, clock: Callable[[], float], maxsize: int = 100_000) -> None:
        def expires(_key: str, value: tuple[Any, float], _now: float) -> float:
            return value[1]

        self._entries: cachetools.TLRUCache[str, tuple[Any, float]] = cachetools.TLRUCache(
            maxsize, ttu=expires, timer=clock
        )
        self._seen: dict[str, float] = {}
        self._clock = clock
        self._lock = threading.Lock()

    def put(self, key: str, entry: Entry, ttl: float) -> None:
        with self._lock:
            self._entries["s:" + key] = (dict(entry), self._clock() + ttl)

    def get(self, key: str) -> Entry | None:
        with self._lock:
            found = self._entries.get("s:" + key)
        return None if found is None else dict(found[0])

    def link(self, group: str, key: str, ttl: float) -> None:
        with self._lock:
            found = self._entries.get("g:" + group)
            keys = set() if found is None else set(found[0])
            keys.add(key)
            self._entries["g:" + group] = (frozenset(keys), self._clock() + ttl)

    def members(self, group: str) -> list[str]:
        with self._lock:
            found = self._entries.get("g:" + group)
        return [] if found is None else sorted(found[0])

    def claim(self, token_id: str, ttl: float) -> bool:
        now = self._clock()
        with self._lock:
            for seen, until in list(self._seen.items()):
                if until <= now:
                    del self._seen[seen]
            if token_id in self._seen:
                return False
            self._seen[token_id] = now + ttl
            return True

    def release(self, token_id: str) -> None:
        with self._lock:
            self._seen.pop(token_id, None)

    # In-process: nothing blocks, the twins call straight through.
    async def aget(self, key: str) -> Entry | None:
        return self.get(key)

    async def amembers(self, group: str) -> list[str]:
        return self.members(group)

    async def aclaim(self, token_id: str, ttl: float) -> bool:
        return self.claim(token_id, ttl)

    async def arelease(self, token_id: str) -> None:
        self.release(token_id)

    def close(self) -> None:
        """Nothing to release."""


class RedisLedger:
    """Entries on a Redis server, shared by every worker (beside a Redis store).

    The async twins run the sync client on a worker thread: these calls come
    at sign-in, expiry and logout, not on every request, and a thread works
    under any event loop.

    Args:
        url: The Redis URL (the session store's).
        key_prefix: Put in front of every key.
        socket_timeout: Seconds a call may take before it counts as an outage.
    """

    def __init__(
        self, url: str, *, key_prefix: str = "idleguard:sso:", socket_timeout: float = 2.0
    ) -> None:
        import redis

        self._errors = (redis.RedisError, UnicodeDecodeError, ValueError)
        self._client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
        )
        self._prefix = key_prefix

    def _run(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except self._errors as error:
            raise StoreUnavailable(f"redis: {type(error).__name__}: {error}") from error

    def put(self, key: str, entry: Entry, ttl: float) -> None:
        value = json.dumps(entry, separators=(",", ":"))
        self._run(lambda: self._client.set(self._prefix + "s:" + key, value, px=_ms(ttl)))

    def get(self, key: str) -> Entry | None:
        raw = self._run(lambda: self._client.get(self._prefix + "s:" + key))
        if raw is None:
            return None
        entry = json.loads(raw)
        return entry if isinstance(entry, dict) else None

    def link(self, group: str, key: str, ttl: float) -> None:
        name = self._prefix + "g:" + group

        def add() -> None:
            with self._client.pipeline() as pipe:
                pipe.sadd(name, key)
                pipe.pexpire(name, _ms(ttl))
                pipe.execute()

        self._run(add)

    def members(self, group: str) -> list[str]:
        found = self._run(lambda: self._client.smembers(self._prefix + "g:" + group))
        return sorted(found)

    def claim(self, token_id: str, ttl: float) -> bool:
        name = self._prefix + "j:" + token_id
        return bool(self._run(lambda: self._client.set(name, "1", nx=True, px=_ms(ttl))))

    def release(self, token_id: str) -> None:
        self._run(lambda: self._client.delete(self._prefix + "j:" + token_id))

    async def aget(self, key: str) -> Entry | None:
        entry: Entry | None = await anyio.to_thread.run_sync(self.get, key)
        return entry

    async def amembers(self, group: str) -> list[str]:
        members: list[str] = await anyio.to_thread.run_sync(self.members, group)
        return members

    async def aclaim(self, token_id: str, ttl: float) -> bool:
        claimed: bool = await anyio.to_thread.run_sync(self.claim, token_id, ttl)
        return claimed

    async def arelease(self, token_id: str) -> None:
        await anyio.to_thread.run_sync(self.release, token_id)

    def close(self) -> None:
        """Close the connections."""
        self._client.close()


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def ledger_for(option: Ledger | str | None, store: Store, clock: Callable[[], float]) -> Ledger:
    """The ledger `option` names, or the one beside `store` (memory beside memory, Redis beside
    Redis, the denylist's beside a cookie store).

    Raises:
        ConfigError: `option` is no ledger URL, or `store` has no room for entries.
    """
    if isinstance(option, str):
        if option.startswith("memory:"):
            return MemoryLedger(clock)
        if option.startswith("redis"):
            return RedisLedger(option)
        raise ConfigError(f"ledger={option!r}: use a memory:// or redis:// URL, or a Ledger")
    if isinstance(store, CookieStore) and store.denylist is not None:
        store = store.denylist
    # Local decisions are a layer over the Redis store: the ledger goes beside that store.
    store = getattr(store, "inner", store)
    if isinstance(store, MemoryStore):
        return MemoryLedger(clock)
    url = getattr(store, "url", None)
    if type(store).__name__ == "RedisStore" and isinstance(url, str):
        if not getattr(store, "single_server", True):
            raise ConfigError(
                "OpenIDProvider keeps its ledger on one Redis server: beside a Redis Cluster "
                "or Sentinel store pass ledger='redis://...' naming one"
            )
        return RedisLedger(url)
    raise ConfigError(
        f"OpenIDProvider keeps id tokens and logout links on the server; with a "
        f"{type(store).__name__} pass ledger='redis://...' (or 'memory://' for one process)"
    )
