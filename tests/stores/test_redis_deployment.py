"""Redis in a deployment: the round trips of one request, and two servers sharing sessions."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from idleguard import IdleGuard, IdleGuardWSGI, Policy
from idleguard.testing import SettableClock

from ..servers import RedisServer, free_port
from .apps import SECRET, asgi_app, wsgi_app

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
JSON = {"accept": "application/json"}
#: What Redis counts for the commands a script runs inside itself.
SCRIPT_INTERNALS = {"hmget", "hset", "pexpire"}


def command_calls(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): int(values["calls"])
        for name, values in stats.items()
        if name.removeprefix("cmdstat_") not in {"info", "config"}
    }


TOUCH_CASES = [
    pytest.param(1.0, set(), id="within-touch-interval"),
    pytest.param(100.0, {"hset", "pexpire"}, id="touching"),
]


def guard_options(url: str, clock: SettableClock) -> dict[str, Any]:
    return {
        "store": url,
        "secret_key": SECRET,
        "policy": Policy(idle_timeout=600, touch_interval=30),
        "clock": clock,
        "https_only": False,
        "login_url": None,
    }


def assert_one_script_call(calls: dict[str, int], writes: set[str]) -> None:
    assert calls.pop("evalsha") == 1
    # Everything else Redis counted ran inside that one script: its read, and its
    # write only when the touch interval has passed.
    assert calls == {"hmget": 1, **dict.fromkeys(writes, 1)}
    assert set(calls) <= SCRIPT_INTERNALS


@pytest.mark.parametrize(("elapsed", "writes"), TOUCH_CASES)
async def test_one_asgi_request_is_one_evalsha(
    own_redis: RedisServer, elapsed: float, writes: set[str]
) -> None:
    clock = SettableClock()
    guard = IdleGuard(asgi_app, **guard_options(own_redis.url, clock))
    inspector = redis.Redis.from_url(own_redis.url, decode_responses=True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=guard), base_url="http://app", headers=JSON
    ) as client:
        await client.get("/login?user=alice")
        await client.get("/me")  # connections open, scripts cached: the steady state
        clock.advance(elapsed)
        inspector.config_resetstat()
        answer = await client.get("/me")
        calls = command_calls(inspector)
    await guard.store.aclose()
    inspector.close()
    assert answer.json() == {"subject": "alice"}
    assert_one_script_call(calls, writes)


@pytest.mark.parametrize(("elapsed", "writes"), TOUCH_CASES)
def test_one_wsgi_request_is_one_evalsha(
    own_redis: RedisServer, elapsed: float, writes: set[str]
) -> None:
    clock = SettableClock()
    guard = IdleGuardWSGI(wsgi_app, **guard_options(own_redis.url, clock))
    inspector = redis.Redis.from_url(own_redis.url, decode_responses=True)
    with httpx.Client(
        transport=httpx.WSGITransport(app=guard), base_url="http://app", headers=JSON
    ) as client:
        client.get("/login?user=alice")
        client.get("/me")
        clock.advance(elapsed)
        inspector.config_resetstat()
        answer = client.get("/me")
        calls = command_calls(inspector)
    guard.store.close()
    inspector.close()
    assert answer.json() == {"subject": "alice"}
    assert_one_script_call(calls, writes)


@pytest.fixture
def two_servers(redis_url: str) -> Iterator[tuple[str, str]]:
    environment = {**os.environ, "IDLEGUARD_TEST_STORE": redis_url.rsplit("/", 1)[0] + "/3"}
    processes, urls = [], []
    try:
        for _ in range(2):
            port = free_port()
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "--factory",
                        "tests.stores.apps:guarded_from_env",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--log-level",
                        "warning",
                    ],
                    cwd=ROOT,
                    env=environment,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            _wait_for(url)
        yield urls[0], urls[1]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/me", timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"uvicorn at {url} did not start")


@pytest.mark.slow
def test_two_servers_share_one_session_through_redis(two_servers: tuple[str, str]) -> None:
    first, second = two_servers
    with httpx.Client(headers=JSON) as client:
        assert client.get(first + "/login?user=alice").json() == {"signed_in": "alice"}
        # Activity through the first server only, for longer than the idle limit (2 s)...
        started = time.monotonic()
        while time.monotonic() - started < 3.0:
            assert client.get(first + "/me").json() == {"subject": "alice"}
            time.sleep(0.4)
        # ...keeps the session alive for the second.
        assert client.get(second + "/me").json() == {"subject": "alice"}
        # Sign-out through the second is seen by the first on its next request,
        # even from a copy of the cookies taken before it.
        copied = dict(client.cookies)
        assert client.get(second + "/logout").json() == {"signed_out": True}
    with httpx.Client(headers=JSON, cookies=copied) as replay:
        answer = replay.get(first + "/me")
    assert answer.status_code == 401
    assert answer.json() == {"error": "session_expired", "reason": "signed_out"}


def test_redis_over_a_unix_socket_as_the_docs_write_it(own_redis: RedisServer) -> None:
    url = f"unix://{own_redis.socket_path}?db=0"
    clock = SettableClock()
    asgi = IdleGuard(asgi_app, **guard_options(url, clock))
    wsgi = IdleGuardWSGI(wsgi_app, **guard_options(url, clock))

    async def sign_in_over_asgi() -> dict[str, str]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=asgi), base_url="http://app", headers=JSON
        ) as client:
            await client.get("/login?user=alice")
            assert (await client.get("/me")).json() == {"subject": "alice"}
            cookies = dict(client.cookies)
        await asgi.store.aclose()
        return cookies

    cookies = asyncio.run(sign_in_over_asgi())
    with httpx.Client(
        transport=httpx.WSGITransport(app=wsgi),
        base_url="http://app",
        headers=JSON,
        cookies=cookies,
    ) as client:
        assert client.get("/me").json() == {"subject": "alice"}, "one store, both drivers"
    wsgi.store.close()


def test_redis_under_trio_signs_in_and_checks(own_redis: RedisServer) -> None:
    # redis.asyncio needs asyncio: under trio the store's sync client runs on a worker thread.
    from tests.apps import starlette_app
    from tests.harness import AsgiHarness

    clock = SettableClock()
    options = guard_options(own_redis.url, clock)
    client = AsgiHarness(
        starlette_app(clock, store=options["store"], login_url=None), backend="trio"
    )
    assert client.post("/login?user=alice").status == 200
    assert client.get("/me").json()["user"] == "alice"
    clock.advance(3600)
    assert client.get("/me").status == 401
