"""Cost per request and memory per live session at 1 thousand to 1 million sessions.

Memory store: the guarded Starlette app, its store filled with live
sessions through the store's own ``create``; memory measured with
:mod:`tracemalloc` around the filling (keys, records and index together).
Redis: the guarded Flask app on the sync client; the sessions loaded by a Lua
script in batches, each a hash with the fields a real session has under a
key of a real key's length; memory from ``INFO memory`` before and after.
Requests go to 1,000 real signed-in sessions among them, in random order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import random
import time
import tracemalloc
from typing import Any

import redis

from benchmarks import apps
from benchmarks.harness import Variant, interleaved, looped
from idleguard import IdleGuard, IdleGuardWSGI
from idleguard.core import SessionRecord
from idleguard.identity import digest, new_session_id
from idleguard.stores import MemoryStore

__all__ = ["ScalePoint", "run_scale"]

#: Fills ARGV[1] sessions numbered from ARGV[2]: the fields and TTL of a live session.
_LOADER = """
local prefix, first, count, now = ARGV[3], tonumber(ARGV[2]), tonumber(ARGV[1]), ARGV[4]
for number = first, first + count - 1 do
  local key = prefix .. '{' .. string.format('%043d', number) .. '}'
  redis.call('HSET', key, 'c', now, 'l', now, 'a', now, 's', 'user-' .. number)
  redis.call('PEXPIRE', key, 3600000)
end
return count
"""


@dataclasses.dataclass
class ScalePoint:
    store: str
    sessions: int
    us_per_request: float
    bytes_per_session: float


def _memory_point(sessions: int, rounds: int, per_batch: int) -> ScalePoint:
    store = MemoryStore()
    limits = apps.POLICY.limits
    now = time.time()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for number in range(sessions):
        store.create(
            digest(new_session_id()), SessionRecord(f"user-{number}", None, now, now, now), limits
        )
    gc.collect()
    per_session = (tracemalloc.get_traced_memory()[0] - before) / sessions
    tracemalloc.stop()
    guard = IdleGuard(
        apps.starlette_app(),
        secret_key=apps.SECRET,
        policy=apps.POLICY,
        store=store,
        login_url=None,
    )
    loop = asyncio.new_event_loop()
    try:
        cookies = [apps.asgi_login(guard, loop) for _ in range(1000)]
        requests = [apps.asgi_request(guard, cookie) for cookie in cookies]
        picks = iter(random.choices(requests, k=10_000_000))

        async def one() -> None:
            await next(picks)()

        samples = interleaved([Variant("memory", "scale", looped(loop, one))], rounds, per_batch)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    return ScalePoint("memory (ASGI)", sessions, samples["memory"].median, per_session)


def _redis_point(url: str, sessions: int, rounds: int, per_batch: int) -> ScalePoint:
    inspector = redis.Redis.from_url(url)
    inspector.flushall()
    before = int(inspector.info("memory")["used_memory"])
    loader = inspector.register_script(_LOADER)
    now = str(round(time.time() * 1e6))
    batch = 50_000
    for first in range(0, sessions, batch):
        loader(args=[min(batch, sessions - first), first, "ig:", now])
    per_session = (int(inspector.info("memory")["used_memory"]) - before) / sessions
    guard = IdleGuardWSGI(
        apps.flask_app(False).wsgi_app,
        secret_key=apps.SECRET,
        policy=apps.POLICY,
        store=url,
        login_url=None,
    )
    cookies = [apps.wsgi_login(guard) for _ in range(1000)]
    requests = [apps.wsgi_request(guard, cookie) for cookie in cookies]

    def run(count: int) -> None:
        for request in random.choices(requests, k=count):
            request()

    samples = interleaved([Variant("redis", "scale", run, io=True)], rounds, per_batch)
    guard.store.close()
    inspector.flushall()
    inspector.close()
    return ScalePoint("redis (WSGI, sync)", sessions, samples["redis"].median, per_session)


def run_scale(
    urls: dict[str, str], sizes: list[int], rounds: int, per_batch: int
) -> list[ScalePoint]:
    points = []
    for size in sizes:
        points.append(_memory_point(size, rounds, per_batch))
        gc.collect()
        if "redis" in urls:
            points.append(_redis_point(urls["redis"], size, rounds, per_batch))
    return points


def redis_key_usage(url: str) -> Any:
    """``MEMORY USAGE`` of one real session's key, as Redis reports it."""
    guard = IdleGuardWSGI(
        apps.flask_app(False).wsgi_app,
        secret_key=apps.SECRET,
        policy=apps.POLICY,
        store=url,
        login_url=None,
    )
    apps.wsgi_login(guard)
    client = redis.Redis.from_url(url, decode_responses=True)
    keys = [k for k in client.scan_iter("ig:{*", count=1000)][:1]
    usage = client.memory_usage(keys[0]) if keys else None
    client.close()
    guard.store.close()
    return usage
