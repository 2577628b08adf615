"""What the Redis store adds to a request, against one bare EVALSHA from the same client.

Run with ``python -m benchmarks.stores`` (it starts its own redis-server on
127.0.0.1). It prints:

* the added cost per request of IdleGuard on the Redis store (guarded app
  minus the bare app, driven in-process with no HTTP server), WSGI with the
  sync client and ASGI with ``redis.asyncio``, next to one bare ``EVALSHA``
  of a script that only returns, and one of the check script itself;
* store writes per session under steady activity (one request a second);
* the added cost with 1,000 and with 100,000 live sessions in Redis.
"""

from __future__ import annotations

import asyncio
import io
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import redis

from idleguard import IdleGuard, IdleGuardWSGI, Policy
from idleguard.stores.redis import _CHECK, RedisStore
from idleguard.testing import SettableClock
from tests.servers import RedisServer

SECRET = "b" * 40
POLICY = Policy(idle_timeout=1800, absolute_timeout=8 * 3600)
ROUNDS = 7
REQUESTS = 2000
TRIVIAL = "return 1"


def interleaved(runs: dict[str, Callable[[], None]], count: int = REQUESTS) -> dict[str, float]:
    """Median µs per call of each run, the runs taking turns in every round.

    Taking turns keeps a noisy neighbour from landing on one variant only.
    """
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(ROUNDS):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            samples[name].append((time.perf_counter() - started) / count * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


async def ainterleaved(
    runs: dict[str, Callable[[], Awaitable[None]]], count: int = REQUESTS
) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(ROUNDS):
        for name, run in runs.items():
            started = time.perf_counter()
            await run()
            samples[name].append((time.perf_counter() - started) / count * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


# -- the apps ------------------------------------------------------------------
def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("content-type", "text/plain")])
    return [b"ok"]


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def environ(cookie: str | None) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "wsgi.input": io.BytesIO(),
        "HTTP_ACCEPT": "application/json",
    }
    if cookie is not None:
        env["HTTP_COOKIE"] = cookie
    return env


def scope(cookie: str | None) -> dict[str, Any]:
    headers = [(b"accept", b"application/json")]
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    return {"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": b""}


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return None


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: Any) -> None:
    return None


# -- sessions ------------------------------------------------------------------
def populate(
    store: RedisStore, guard: IdleGuardWSGI, count: int, now: float
) -> list[tuple[str, str]]:
    """``count`` live sessions straight into Redis; (cookie, key) for up to 1,000 of them."""
    identity = guard.settings.identity
    client = store._client
    cookies = []
    micros = str(round(now * 1e6))
    pipe = client.pipeline(transaction=False)
    for number in range(count):
        credential, key = identity.issue()
        if number < 1000:
            cookies.append((f"{guard.settings.cookie_name}={credential}", key))
        pipe.hset(
            store._key(key), mapping={"c": micros, "l": micros, "a": micros, "s": f"user-{number}"}
        )
        pipe.expire(store._key(key), 3600)
        if number % 2000 == 1999:
            pipe.execute()
    pipe.execute()
    return cookies


def guarded_wsgi(url: str, clock: SettableClock) -> IdleGuardWSGI:
    return IdleGuardWSGI(
        wsgi_app, store=url, secret_key=SECRET, policy=POLICY, clock=clock, https_only=False
    )


def run_sync(url: str) -> dict[str, float]:
    clock = SettableClock(time.time())
    guard = guarded_wsgi(url, clock)
    store = guard.store
    assert isinstance(store, RedisStore)
    cookies = populate(store, guard, 1000, clock())
    # The baseline runs on the store's own client: same pool, timeouts and parser.
    client = store._client
    trivial_sha = client.script_load(TRIVIAL)
    client.script_load(_CHECK.source)
    picks = [random.choice(cookies) for _ in range(REQUESTS)]
    # The baseline runs the same script on the same live sessions, without idleguard around it.
    calls = [store._check_call(key, POLICY.limits, True, clock()) for _, key in picks]

    def bare_app() -> None:
        for cookie, _ in picks:
            wsgi_app(environ(cookie), start_response)

    def guarded() -> None:
        for cookie, _ in picks:
            guard(environ(cookie), start_response)

    def trivial() -> None:
        for _ in range(REQUESTS):
            client.evalsha(trivial_sha, 0)

    def check_script() -> None:
        for call in calls:
            client.evalsha(_CHECK.sha, 1, *call.keys, *call.args)

    guarded()  # warm: connections, script cache, signature cache
    figures = interleaved(
        {
            "bare app": bare_app,
            "guarded app": guarded,
            "EVALSHA return 1": trivial,
            "EVALSHA check.lua": check_script,
        }
    )
    figures["added by idleguard"] = figures["guarded app"] - figures["bare app"]
    store.close()
    return figures


async def run_async(url: str) -> dict[str, float]:
    clock = SettableClock(time.time())
    sync_guard = guarded_wsgi(url, clock)
    assert isinstance(sync_guard.store, RedisStore)
    cookies = populate(sync_guard.store, sync_guard, 1000, clock())
    guard = IdleGuard(
        asgi_app, store=url, secret_key=SECRET, policy=POLICY, clock=clock, https_only=False
    )
    store = guard.store
    assert isinstance(store, RedisStore)
    client = store._aclient()
    trivial_sha = await client.script_load(TRIVIAL)
    picks = [random.choice(cookies) for _ in range(REQUESTS)]
    # The baseline runs the same script on the same live sessions, without idleguard around it.
    calls = [store._check_call(key, POLICY.limits, True, clock()) for _, key in picks]

    async def bare_app() -> None:
        for cookie, _ in picks:
            await asgi_app(scope(cookie), receive, send)

    async def guarded() -> None:
        for cookie, _ in picks:
            await guard(scope(cookie), receive, send)

    async def trivial() -> None:
        for _ in range(REQUESTS):
            await client.evalsha(trivial_sha, 0)  # type: ignore[misc]

    async def check_script() -> None:
        for call in calls:
            await client.evalsha(_CHECK.sha, 1, *call.keys, *call.args)

    await guarded()
    figures = await ainterleaved(
        {
            "bare app": bare_app,
            "guarded app": guarded,
            "EVALSHA return 1": trivial,
            "EVALSHA check.lua": check_script,
        }
    )
    figures["added by idleguard"] = figures["guarded app"] - figures["bare app"]
    await store.aclose()
    sync_guard.store.close()
    return figures


def writes_per_session(url: str) -> tuple[int, int, float]:
    """One request a second for ten minutes: (requests, writes, touch_interval)."""
    clock = SettableClock(time.time())
    guard = guarded_wsgi(url, clock)
    store = guard.store
    assert isinstance(store, RedisStore)
    cookie = populate(store, guard, 1, clock())[0][0]
    inspector = redis.Redis.from_url(url, decode_responses=True)
    inspector.config_resetstat()
    requests = 600
    for _ in range(requests):
        clock.advance(1.0)
        guard(environ(cookie), start_response)
    stats = inspector.info("commandstats")
    writes = int(stats.get("cmdstat_hset", {}).get("calls", 0))
    inspector.close()
    store.close()
    return requests, writes, POLICY.touch_interval


def cost_at(url: str, live: int) -> tuple[float, float]:
    """(guarded request, bare EVALSHA of check.lua) in µs with ``live`` sessions in Redis."""
    clock = SettableClock(time.time())
    guard = guarded_wsgi(url, clock)
    store = guard.store
    assert isinstance(store, RedisStore)
    client = store._client
    client.flushdb()
    cookies = populate(store, guard, live, clock())
    client.script_load(_CHECK.source)
    picks = [random.choice(cookies) for _ in range(REQUESTS)]
    # The baseline runs the same script on the same live sessions, without idleguard around it.
    calls = [store._check_call(key, POLICY.limits, True, clock()) for _, key in picks]

    def guarded() -> None:
        for cookie, _ in picks:
            guard(environ(cookie), start_response)

    def check_script() -> None:
        for call in calls:
            client.evalsha(_CHECK.sha, 1, *call.keys, *call.args)

    guarded()
    figures = interleaved({"guarded": guarded, "evalsha": check_script})
    store.close()
    return figures["guarded"], figures["evalsha"]


def main() -> int:
    server = RedisServer()
    server.start()
    try:
        url = server.url
        print(f"redis-server on {url}; {ROUNDS} rounds of {REQUESTS} requests, median, µs/request")
        for label, figures in (
            ("sync (WSGI)", run_sync(url)),
            ("async (ASGI)", asyncio.run(run_async(url))),
        ):
            print(f"\n{label}")
            for name, value in figures.items():
                print(f"  {name:<22} {value:8.1f} µs")
            ratio = figures["added by idleguard"] / figures["EVALSHA check.lua"]
            print(f"  {'added / EVALSHA check':<22} {ratio:8.2f}x")
        requests, writes, interval = writes_per_session(url)
        print(
            f"\nwrites: {writes} store writes for {requests} requests at 1/s "
            f"(touch_interval {interval:g} s: at most {requests / interval:.0f} allowed)"
        )
        print("\nguarded WSGI request by live sessions (bare EVALSHA of check.lua beside it)")
        ratios = {}
        for live in (1_000, 100_000):
            guarded, bare = cost_at(url, live)
            ratios[live] = guarded / bare
            print(
                f"  {live:>7,} live: {guarded:7.1f} µs"
                f"  (EVALSHA {bare:6.1f} µs, {guarded / bare:.2f}x)"
            )
        change = (ratios[100_000] / ratios[1_000] - 1) * 100
        print(f"  100,000 against 1,000, relative to EVALSHA: {change:+.1f} %")
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
