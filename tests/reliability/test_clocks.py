"""Clocks: app servers that disagree about the time, and a clock that jumps backwards.

A clock stepping back (NTP, a VM resumed) must never move a deadline later, on any store.
Servers whose clocks differ by up to the tolerance agree on expiry when the Redis store
decides by Redis's own clock (``server_time=True``); without it, a server that is behind
may see a session alive a little longer, but never brings back one another server ended.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from idleguard import IdleGuard, Policy
from idleguard.core import CLOCK_TOLERANCE, EndReason, SessionRecord, Verdict
from idleguard.stores import Store
from idleguard.stores.redis import RedisStore
from tests.stores.apps import SECRET, asgi_app
from tests.stores.conftest import BACKENDS, make_store

from .load import Client

T0 = 1_800_000_000.0
IDLE = 600.0
LIMITS = Policy(idle_timeout=IDLE, absolute_timeout=3600, touch_interval=30).limits


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made = make_store(request.param, request, tmp_path)
    yield made
    made.close()


JUMPS = [
    pytest.param(1.0, id="1s"),
    pytest.param(120.0, id="2min"),
    pytest.param(CLOCK_TOLERANCE, id="the-tolerance"),
    pytest.param(CLOCK_TOLERANCE + 1, id="past-the-tolerance"),
    pytest.param(86_400.0, id="a-day"),
]


@pytest.mark.parametrize("jump", JUMPS)
def test_a_clock_jumping_back_never_extends_a_session(store: Store, jump: float) -> None:
    store.create("k", SessionRecord("alice", None, T0, T0, T0), LIMITS)
    touched_at = T0 + 500
    assert store.check("k", LIMITS, True, touched_at)[0].touch
    deadline = touched_at + IDLE
    # The clock steps back; activity there is checked, and moves nothing back or forward.
    for seconds_later in (0.0, 40.0, 100.0):
        now = touched_at - jump + seconds_later
        if now >= touched_at:
            break
        decision, record = store.check("k", LIMITS, True, now)
        assert decision.verdict in {Verdict.ALLOW, Verdict.ENDED}
        if decision.verdict is Verdict.ENDED:
            # Times further in the future than the tolerance are not trusted: refused.
            assert jump > CLOCK_TOLERANCE
            assert decision.reason is EndReason.INVALID
        else:
            assert record is not None
            assert record.last_activity == touched_at
            assert decision.idle_remaining is not None
            assert decision.idle_remaining <= IDLE
    # Back to the right time: the deadline is where the last real touch put it.
    alive, _ = store.check("k", LIMITS, False, deadline - 1)
    assert alive.verdict is Verdict.ALLOW
    over, _ = store.check("k", LIMITS, False, deadline)
    assert over.verdict is Verdict.EXPIRED_IDLE
    # And stepping back after the end brings nothing back.
    again, _ = store.check("k", LIMITS, True, deadline - jump)
    assert again.verdict is Verdict.ENDED


# -- servers whose clocks disagree, sharing one Redis -------------------------------------
SKEW = 120.0  # each server is this far off, one ahead and one behind: 240 s apart


def skewed(seconds: float) -> Callable[[], float]:
    def clock() -> float:
        return time.time() + seconds

    return clock


def guard(redis_url: str, prefix: str, skew: float, *, server_time: bool) -> IdleGuard:
    return IdleGuard(
        asgi_app,
        store=RedisStore(redis_url, key_prefix=prefix, server_time=server_time),
        secret_key=SECRET,
        policy=Policy(idle_timeout=1.0, absolute_timeout=60, touch_interval=0.1, warn_before=0.5),
        clock=skewed(skew),
        https_only=False,
        login_url=None,
    )


@pytest.mark.redis
async def test_skewed_servers_agree_on_expiry_with_redis_time(redis_url: str) -> None:
    guards = [
        guard(redis_url, "skew-agree:", +SKEW, server_time=True),
        guard(redis_url, "skew-agree:", -SKEW, server_time=True),
    ]
    ahead, behind = Client(guards[0]), Client(guards[1])
    try:
        signed_in = time.monotonic()
        cookie = await ahead.sign_in("alice")
        # Requests through either server; the behind one is where a skew would show.
        await asyncio.sleep(0.6)
        assert (await behind.send("/me", cookie)) == (200, "alice")
        assert (await ahead.send("/me", cookie)) == (200, "alice")
        # The last activity is now about 0.6 s after sign-in; 1 s idle later, both say over.
        await asyncio.sleep(max(0.0, signed_in + 0.6 + 1.2 - time.monotonic()))
        assert (await behind.send("/me", cookie))[0] == 401
        assert (await ahead.send("/me", cookie))[0] == 401
    finally:
        for client, made in ((ahead, guards[0]), (behind, guards[1])):
            await client.close()
            await made.store.aclose()


@pytest.mark.redis
async def test_a_server_behind_never_revives_what_one_ahead_ended(redis_url: str) -> None:
    guards = [
        guard(redis_url, "skew-revive:", +SKEW, server_time=False),
        guard(redis_url, "skew-revive:", -SKEW, server_time=False),
    ]
    ahead, behind = Client(guards[0]), Client(guards[1])
    try:
        cookie = await behind.sign_in("alice")
        # On the ahead server's clock the session is long over (240 s idle): it ends it.
        status, _ = await ahead.send("/me", cookie)
        assert status == 401
        # The behind server, whose own clock would still call it alive, refuses it.
        answer = await behind.get("/me", cookie)
        assert (answer.status_code, answer.json()["reason"]) == (401, "idle")
    finally:
        for client, made in ((ahead, guards[0]), (behind, guards[1])):
            await client.close()
            await made.store.aclose()
