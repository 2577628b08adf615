"""Local decisions decide as the one-round-trip store does, over random workloads.

Two `LocalDecisions` (two processes, each with its copies and its push connection) and
two plain `RedisStore`s run the same operations at the same times on one real Redis,
under two key prefixes. After each operation every announcement is let through (a
sentinel message is waited for), which is what a request sent after an acknowledged
end finds. Then: the same verdict, the same touch, the same absolute time left, and an
idle time left never more than the store's (a copy may miss another process's touch,
which only brings its deadline nearer) and never less by more than two touch intervals.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from idleguard.core import EndReason, Limits, SessionRecord
from idleguard.stores.local import LocalDecisions
from idleguard.stores.redis import RedisStore

from .conftest import wait_until_healthy

pytestmark = pytest.mark.redis

T0 = 1_800_000_000.0
LIMITS = Limits(idle_timeout=600, absolute_timeout=3600, touch_interval=30)
KEYS = ("a", "b")
_runs = itertools.count()

operation = st.one_of(
    st.tuples(st.just("check"), st.sampled_from(KEYS), st.integers(0, 1), st.booleans()),
    st.tuples(st.just("end"), st.sampled_from(KEYS), st.integers(0, 1), st.just(False)),
    st.tuples(st.just("reauthenticate"), st.sampled_from(KEYS), st.integers(0, 1), st.just(False)),
    st.tuples(st.just("revoke"), st.just("alice"), st.integers(0, 1), st.just(False)),
    st.tuples(
        st.just("advance"),
        # Around the touch interval (30 s), the margin (1 s) and the limits (600, 3600 s).
        st.sampled_from([0, 0.5, 1, 10, 29, 29.5, 30, 31, 100, 570, 599, 600, 3000])
        | st.integers(0, 400)
        # A clock stepping back, within the tolerance for stored times and past it.
        | st.sampled_from([-30, -299, -400, -86_400]),
        st.just(0),
        st.just(False),
    ),
)


class Pair:
    """Two stores standing for two processes over one key prefix."""

    def __init__(self, stores: list[Any]) -> None:
        self.stores = stores

    def run(self, step: tuple[Any, ...], now: float) -> Any:
        kind, target, process, activity = step
        store = self.stores[process]
        if kind == "check":
            decision, _ = store.check(target, LIMITS, activity, now)
            return decision
        if kind == "end":
            return store.end(target, EndReason.SIGNED_OUT, now) is not None
        if kind == "reauthenticate":
            return store.reauthenticate(target, now)
        return sorted(key for key, _ in store.revoke_subject(target, now))


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def settle(client: redis.Redis, local: LocalDecisions, others: list[LocalDecisions]) -> None:
    """Wait until every store has applied every announcement made so far."""
    inner = local.inner
    assert isinstance(inner, RedisStore)
    sentinel = f"{inner.key_prefix}{{settle-{next(_runs)}}}"
    client.publish(inner.channel, sentinel)
    deadline = time.monotonic() + 5
    for store in others:
        while store.push.last_message != sentinel:
            assert time.monotonic() < deadline, "an announcement did not arrive"
            time.sleep(0.0005)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(operation, min_size=1, max_size=25))
# A clock past the tolerance refuses the session without ending it; back on time, it lives.
@example(
    steps=[
        ("advance", -400, 0, False),
        ("check", "a", 0, True),
        ("advance", 400, 0, False),
        ("check", "a", 0, True),
    ]
)
# Another process keeps the session active for minutes while this one only polls.
@example(
    steps=[("advance", 31, 0, False), ("check", "a", 1, True)] * 6 + [("check", "a", 0, False)]
)
def test_local_decisions_decide_as_the_store(
    redis_url: str, redis_client: redis.Redis, steps: list[tuple[Any, ...]]
) -> None:
    run = next(_runs)
    local_stores = [
        LocalDecisions(RedisStore(redis_url, key_prefix=f"diff{run}l:")) for _ in range(2)
    ]
    plain = Pair([RedisStore(redis_url, key_prefix=f"diff{run}p:") for _ in range(2)])
    local = Pair(local_stores)
    try:
        for store in local_stores:
            wait_until_healthy(store)
        now = T0
        for key in KEYS:
            for pair in (local, plain):
                pair.stores[0].create(key, SessionRecord("alice", None, now, now, now), LIMITS)
        settle(redis_client, local_stores[0], local_stores)
        for step in steps:
            if step[0] == "advance":
                now += step[1]
                continue
            expected = plain.run(step, now)
            got = local.run(step, now)
            settle(redis_client, local_stores[0], local_stores)
            if step[0] != "check":
                assert got == expected, step
                continue
            assert (got.verdict, got.touch, got.reason) == (
                expected.verdict,
                expected.touch,
                expected.reason,
            ), step
            assert got.absolute_remaining == pytest.approx(expected.absolute_remaining), step
            if expected.idle_remaining is not None:
                # Behind by at most what the store itself may lag, plus a copy's own age.
                lag = 2 * LIMITS.touch_interval + 1e-6
                assert expected.idle_remaining - lag <= got.idle_remaining, step
                assert got.idle_remaining <= expected.idle_remaining + 1e-6, step
    finally:
        for store in (*local_stores, *plain.stores):
            store.close()
