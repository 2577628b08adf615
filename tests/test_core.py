"""The decision core against a reference model, over random requests and clock jumps."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idleguard.core import (
    CLOCK_TOLERANCE,
    EndReason,
    SessionRecord,
    Verdict,
    decide,
    record_from_mapping,
    tombstone,
    touched,
)
from idleguard.policy import Limits

T0 = 1_800_000_000.0


@dataclasses.dataclass
class Model:
    """The rules as a user would state them, written as plainly as possible."""

    created: float
    stored_last: float
    idle: float | None
    absolute: float | None
    touch: float
    ended: str | None = None

    def request(self, now: float, activity: bool) -> str:
        if self.ended is not None:
            return "ended"
        if max(self.created, self.stored_last) > now + CLOCK_TOLERANCE:
            # Times from the future are not trusted: refused, never believed.
            return "ended"
        idle_deadline = self.stored_last + self.idle if self.idle is not None else None
        absolute_deadline = self.created + self.absolute if self.absolute is not None else None
        due = [
            (deadline, reason)
            for deadline, reason in ((absolute_deadline, "absolute"), (idle_deadline, "idle"))
            if deadline is not None and now >= deadline
        ]
        if due:
            self.ended = min(due)[1]
            return "expired_" + self.ended
        if activity and now - self.stored_last >= self.touch:
            self.stored_last = max(self.stored_last, now)
        return "allow"


limits_strategy = st.builds(
    lambda idle, absolute_extra, touch_share, idle_on, absolute_on: Limits(
        idle if idle_on else None,
        (idle + absolute_extra) if absolute_on else None,
        idle * touch_share,
    ),
    st.floats(60, 7200),
    st.floats(0, 36000),
    st.floats(0, 0.2),
    st.booleans(),
    st.booleans(),
)
steps_strategy = st.lists(
    st.tuples(st.floats(-CLOCK_TOLERANCE / 2, 4000), st.booleans()), min_size=1, max_size=60
)


@settings(max_examples=400, deadline=None)
@given(limits=limits_strategy, steps=steps_strategy)
def test_decide_matches_the_reference_model(
    limits: Limits, steps: list[tuple[float, bool]]
) -> None:
    record: SessionRecord | None = SessionRecord("u", None, T0, T0, T0)
    model = Model(T0, T0, limits.idle_timeout, limits.absolute_timeout, limits.touch_interval)
    now = T0
    true_last = T0
    for step, activity in steps:
        now += step
        assert record is not None
        decision = decide(record, limits, activity, now)
        expected = model.request(now, activity)
        assert decision.verdict.value == expected
        if decision.verdict is Verdict.ENDED:
            assert decision.reason is (EndReason.INVALID if record.ended is None else record.ended)
            continue
        previous_last = record.last_activity
        if decision.verdict is Verdict.ALLOW:
            if limits.idle_timeout is not None:
                assert now - true_last < limits.idle_timeout, "alive past the idle limit"
                assert decision.idle_remaining is not None
                assert decision.idle_remaining <= limits.idle_timeout
            if limits.absolute_timeout is not None:
                assert now < T0 + limits.absolute_timeout, "alive past the absolute limit"
                assert decision.absolute_remaining is not None
                assert decision.idle_remaining is None or (
                    decision.idle_remaining <= decision.absolute_remaining
                )
            if decision.touch:
                record = touched(record, now)
            if activity:
                true_last = max(true_last, now)
        elif decision.expired_now:
            if decision.verdict is Verdict.EXPIRED_IDLE:
                assert limits.idle_timeout is not None
                # Early by at most one touch interval: the promise of touch_interval.
                assert now - true_last >= limits.idle_timeout - limits.touch_interval - 1e-6
            record = tombstone(record, decision.reason or EndReason.IDLE, now)
        assert record.last_activity >= previous_last, "last activity never moves back"
        assert record.last_activity == model.stored_last or record.ended is not None


@pytest.mark.parametrize(
    ("record", "verdict"),
    [
        pytest.param(None, Verdict.NO_SESSION, id="no-record"),
        pytest.param(
            SessionRecord("u", None, T0, T0, T0, EndReason.SIGNED_OUT),
            Verdict.ENDED,
            id="tombstone",
        ),
        pytest.param(
            SessionRecord("u", None, T0 + 10_000, T0 + 10_000, T0),
            Verdict.ENDED,
            id="created-in-future",
        ),
        pytest.param(
            SessionRecord("u", None, T0, T0 + 10_000, T0), Verdict.ENDED, id="activity-in-future"
        ),
        pytest.param(
            SessionRecord("u", None, T0, T0 - 5, T0), Verdict.ENDED, id="activity-before-creation"
        ),
    ],
)
def test_records_that_cannot_be_trusted(record: SessionRecord | None, verdict: Verdict) -> None:
    decision = decide(record, Limits(900, 3600, 10), True, T0 + 1)
    assert decision.verdict is verdict
    assert not decision.alive


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({}, id="empty"),
        pytest.param({"c": "x", "l": 1, "a": 1}, id="text-time"),
        pytest.param({"c": float("nan"), "l": 1, "a": 1}, id="nan"),
        pytest.param({"c": 1, "l": float("inf"), "a": 1}, id="infinite"),
        pytest.param({"c": True, "l": 1, "a": 1}, id="bool-time"),
        pytest.param({"c": 1, "l": 1, "a": 1, "s": 5}, id="subject-not-text"),
        pytest.param({"c": 1, "l": 1, "a": 1, "e": "nope"}, id="unknown-end"),
    ],
)
def test_a_corrupted_stored_record_reads_as_ended(data: dict[str, object]) -> None:
    record = record_from_mapping(data)
    assert record.ended is EndReason.INVALID
    assert decide(record, Limits(900, None, 10), True, T0).verdict is Verdict.ENDED


@given(
    st.builds(
        SessionRecord,
        st.one_of(st.none(), st.text(max_size=20)),
        st.one_of(st.none(), st.text(max_size=20)),
        st.floats(0, 2e9),
        st.floats(0, 2e9),
        st.floats(0, 2e9),
        st.one_of(st.none(), st.sampled_from(EndReason)),
    )
)
def test_records_round_trip_through_their_mapping(record: SessionRecord) -> None:
    assert record_from_mapping(record.to_mapping()) == record


def test_touch_only_after_the_touch_interval() -> None:
    limits = Limits(900, None, 30)
    record = SessionRecord("u", None, T0, T0, T0)
    assert not decide(record, limits, True, T0 + 29).touch
    assert decide(record, limits, True, T0 + 30).touch
    assert not decide(record, limits, False, T0 + 30).touch, "passive never touches"
