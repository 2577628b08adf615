"""The cache in front of the app's tenant and user resolvers.

Not `cachetools.TTLCache`: an entry past its time must stay, so that a
resolver that fails can be answered with the last value it gave ("stale
beats nothing"), and cachetools drops expired entries. Bounded, least
recently written first, behind one lock.
"""

from __future__ import annotations

import collections
import threading
from typing import Generic, TypeVar

__all__ = ["DEFAULT_POLICY_CACHE_TTL", "ResolverCache"]

#: Seconds a tenant or user resolver's answer is reused unless configured otherwise.
DEFAULT_POLICY_CACHE_TTL = 30.0

K = TypeVar("K")
V = TypeVar("V")


class ResolverCache(Generic[K, V]):
    """A small thread-safe cache whose entries go stale after `ttl` seconds.

    A stale entry is kept (up to `maxsize` entries) so that a resolver that
    fails can be answered with the last value it gave.
    """

    def __init__(self, ttl: float, maxsize: int) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self._data: collections.OrderedDict[K, tuple[V, float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, now: float) -> tuple[bool, V | None, bool]:
        """(found, value, still fresh)."""
        with self._lock:
            entry = self._data.get(key)
        if entry is None:
            return False, None, False
        return True, entry[0], now < entry[1]

    def put(self, key: K, value: V, now: float, ttl: float | None = None) -> None:
        with self._lock:
            self._data[key] = (value, now + (self.ttl if ttl is None else ttl))
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def drop(self, key: K) -> None:
        with self._lock:
            self._data.pop(key, None)
