"""The Lua decision in ``check.lua`` against :func:`idleguard.core.decide`, on a real Redis."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idleguard.core import CLOCK_TOLERANCE, EndReason, SessionRecord, Verdict, decide
from idleguard.policy import Limits
from idleguard.stores.redis import RedisStore

pytestmark = pytest.mark.redis

T0_MICROS = 1_800_000_000_000_000
_keys = itertools.count()


@pytest.fixture(scope="module")
def redis_store(redis_url: str) -> Iterator[RedisStore]:
    store = RedisStore(redis_url, key_prefix="lua:")
    yield store
    store.close()


micros = st.integers(min_value=-4_000_000_000, max_value=4_000_000_000).map(
    lambda offset: T0_MICROS + offset
)
limit = st.one_of(st.none(), st.integers(min_value=1, max_value=4000).map(float))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    created=micros,
    last=micros,
    authenticated=micros,
    # UNKNOWN is a reply's reason for an app credential with no record: never stored.
    ended=st.one_of(
        st.none(), st.sampled_from([r for r in EndReason if r is not EndReason.UNKNOWN])
    ),
    idle=limit,
    absolute=limit,
    touch_interval=st.sampled_from([0.0, 1.0, 30.0, 36.5]),
    activity=st.booleans(),
    now=micros,
)
def test_the_script_decides_exactly_as_the_core(
    redis_store: RedisStore,
    created: int,
    last: int,
    authenticated: int,
    ended: EndReason | None,
    idle: float | None,
    absolute: float | None,
    touch_interval: float,
    activity: bool,
    now: int,
) -> None:
    key = f"case{next(_keys)}"
    fields: dict[
        str | bytes | bytearray | memoryview | int | float,
        str | bytes | bytearray | memoryview | int | float,
    ] = {
        "c": str(created),
        "l": str(last),
        "a": str(authenticated),
        "s": "alice",
    }
    if ended is not None:
        fields["e"] = ended.value
    redis_store._client.hset(redis_store._key(key), mapping=fields)
    record = SessionRecord("alice", None, created / 1e6, last / 1e6, authenticated / 1e6, ended)
    limits = Limits(idle, absolute, touch_interval)

    decision, read = redis_store.check(key, limits, activity, now / 1e6)

    assert decision == decide(record, limits, activity, now / 1e6)
    assert read == record
    stored = redis_store._client.hgetall(redis_store._key(key))
    if decision.expired_now:
        assert stored["e"] == (decision.reason or EndReason.IDLE).value
    else:
        assert stored.get("e") == fields.get("e")
    expected_last = now if decision.touch and now > last else last
    assert int(stored["l"]) == expected_last


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param({"c": "x", "l": "1", "a": "1"}, EndReason.INVALID, id="not-a-number"),
        pytest.param({"l": "1", "a": "1"}, EndReason.INVALID, id="missing-created"),
        pytest.param(
            {"c": "1", "l": "1", "a": "1", "e": "bogus"}, EndReason.INVALID, id="bad-reason"
        ),
        pytest.param(
            {"c": str(T0_MICROS), "l": str(T0_MICROS + int((CLOCK_TOLERANCE + 1) * 1e6)), "a": "1"},
            EndReason.INVALID,
            id="from-the-future",
        ),
    ],
)
def test_a_corrupted_record_never_reads_as_alive(
    redis_store: RedisStore,
    fields: dict[
        str | bytes | bytearray | memoryview | int | float,
        str | bytes | bytearray | memoryview | int | float,
    ],
    reason: EndReason,
) -> None:
    key = f"bad{next(_keys)}"
    redis_store._client.hset(redis_store._key(key), mapping=fields)
    decision, _ = redis_store.check(key, Limits(600.0, 3600.0, 0.0), True, T0_MICROS / 1e6)
    assert (decision.verdict, decision.reason) == (Verdict.ENDED, reason)


def test_a_live_session_costs_at_most_200_bytes(redis_store: RedisStore) -> None:
    now = T0_MICROS / 1e6
    redis_store.create(
        "m" * 43,
        SessionRecord("user-1234567", "acme", now, now, now),
        Limits(1800.0, 28800.0, 36.0),
    )
    usage = redis_store._client.memory_usage(redis_store._key("m" * 43))
    assert usage is not None
    assert usage <= 200


def test_the_key_lives_until_the_deadline_plus_the_tombstone_grace(redis_store: RedisStore) -> None:
    now = T0_MICROS / 1e6
    redis_store.create("ttl", SessionRecord(None, None, now, now, now), Limits(600.0, 3600.0, 30.0))
    remaining = redis_store._client.pttl(redis_store._key("ttl")) / 1000
    assert redis_store.tombstone_ttl + 590 < remaining <= redis_store.tombstone_ttl + 600
    redis_store.end("ttl", EndReason.SIGNED_OUT, now)
    remaining = redis_store._client.pttl(redis_store._key("ttl")) / 1000
    assert redis_store.tombstone_ttl - 10 < remaining <= redis_store.tombstone_ttl
