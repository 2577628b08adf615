"""Policy: sensible defaults, and a nonsense policy fails at start-up with a clear message."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from idleguard import Policy, PolicyError
from idleguard.durations import parse_duration


def test_defaults() -> None:
    policy = Policy()
    assert policy.idle_timeout == 1800
    assert policy.absolute_timeout == 8 * 3600
    assert policy.warn_before == 120
    assert policy.touch_interval == pytest.approx(36), "2 % of the idle limit"


def test_timedelta_and_seconds_are_the_same() -> None:
    assert Policy(idle_timeout=timedelta(minutes=15)) == Policy(idle_timeout=900)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"idle_timeout": -1}, "must not be negative", id="negative-idle"),
        pytest.param({"idle_timeout": 0}, "use None to turn it off", id="zero-idle"),
        pytest.param({"absolute_timeout": 0}, "use None to turn it off", id="zero-absolute"),
        pytest.param(
            {"idle_timeout": 7200, "absolute_timeout": 3600}, "longer than absolute", id="idle>abs"
        ),
        pytest.param(
            {"idle_timeout": 100, "warn_before": 100}, "shorter than idle", id="warn>=idle"
        ),
        pytest.param({"touch_interval": 5000}, "touch_interval", id="touch>=idle"),
        pytest.param({"idle_timeout": float("nan")}, "finite", id="nan"),
        pytest.param({"idle_timeout": float("inf")}, "finite", id="infinite"),
        pytest.param({"idle_timeout": "15 minutes"}, "is not a duration: write", id="text"),
        pytest.param({"idle_timeout": "30m1h"}, "is not a duration", id="units-out-of-order"),
        pytest.param({"idle_timeout": True}, "number of seconds, a timedelta or", id="bool"),
        pytest.param(
            {"idle_timeout": 60, "warn_before": 120}, "shorter than idle", id="warning-set-too-long"
        ),
    ],
)
def test_nonsense_is_refused_with_a_reason(options: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        Policy(**options)


def test_disabled_limits() -> None:
    policy = Policy(idle_timeout=None, absolute_timeout=None)
    assert policy.limits.idle_timeout is None
    assert policy.limits.absolute_timeout is None


def test_replace_validates_and_follows_the_idle_limit() -> None:
    policy = Policy().replace(idle_timeout=600)
    assert policy.touch_interval == pytest.approx(12)
    with pytest.raises(PolicyError, match="unknown policy field"):
        Policy().replace(idle=5)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param({}, Policy(), id="nothing-set"),
        pytest.param({"IDLEGUARD_IDLE_TIMEOUT": "900"}, Policy(idle_timeout=900), id="idle"),
        pytest.param(
            {"IDLEGUARD_ABSOLUTE_TIMEOUT": "off", "IDLEGUARD_WARN_BEFORE": "30"},
            Policy(absolute_timeout=None, warn_before=30),
            id="absolute-off",
        ),
        pytest.param({"IDLEGUARD_IDLE_TIMEOUT": " "}, Policy(), id="blank-is-unset"),
    ],
)
def test_from_env(environ: dict[str, str], expected: Policy) -> None:
    assert Policy.from_env(environ=environ) == expected


def test_from_env_refuses_what_is_not_a_duration() -> None:
    with pytest.raises(
        PolicyError, match=r"^IDLEGUARD_IDLE_TIMEOUT: '15 minutes' is not a duration: write seconds"
    ):
        Policy.from_env(environ={"IDLEGUARD_IDLE_TIMEOUT": "15 minutes"})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("900", 900, id="seconds"),
        pytest.param(" 2.5 ", 2.5, id="fraction"),
        pytest.param("15m", 900, id="minutes"),
        pytest.param("8h", 8 * 3600, id="hours"),
        pytest.param("90s", 90, id="seconds-unit"),
        pytest.param("1h30m", 5400, id="hours-and-minutes"),
        pytest.param("1H 30M 15S", 5415, id="spaced-upper-case"),
        pytest.param("1d", 86400, id="days"),
        pytest.param("1.5h", 5400, id="fractional-hours"),
    ],
)
def test_durations_read_as_written(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    # Every front end reads a policy field through the same reader.
    assert Policy(idle_timeout=text, absolute_timeout=None).idle_timeout == seconds
    environ = {"IDLEGUARD_IDLE_TIMEOUT": text, "IDLEGUARD_ABSOLUTE_TIMEOUT": "off"}
    assert Policy.from_env(environ=environ).idle_timeout == seconds


@pytest.mark.parametrize("text", ["", "m", "15 minutes", "30m1h", "1h1h", "15m!", "-5m"])
def test_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration: write seconds"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("policy", "warning"),
    [
        pytest.param(Policy(), 120, id="default"),
        pytest.param(Policy(idle_timeout=60), 30, id="short-idle-half"),
        pytest.param(Policy(idle_timeout=240), 120, id="two-minutes-at-four"),
        pytest.param(Policy(idle_timeout=None), 120, id="no-idle-limit"),
        pytest.param(Policy().replace(idle_timeout=60), 30, id="follows-through-replace"),
        pytest.param(Policy.preset("15m", idle_timeout=100), 50, id="preset-override"),
        pytest.param(
            Policy(idle_timeout=900, warn_before=300).replace(idle_timeout=600),
            300,
            id="set-on-purpose-stays",
        ),
        pytest.param(Policy(idle_timeout=60, warn_before=0), 0, id="no-warning"),
    ],
)
def test_the_default_warning_fits_the_idle_limit(policy: Policy, warning: float) -> None:
    assert policy.warn_before == warning


def test_a_short_idle_limit_from_the_environment_alone_starts() -> None:
    # IDLEGUARD_IDLE_TIMEOUT=60 used to fail on the 2-minute default warning it never named.
    policy = Policy.from_env(environ={"IDLEGUARD_IDLE_TIMEOUT": "60"})
    assert (policy.idle_timeout, policy.warn_before) == (60, 30)
    assert Policy.from_env(environ={"IDLEGUARD_WARN_BEFORE": "off"}).warn_before == 0


def test_an_environment_error_names_its_variables() -> None:
    with pytest.raises(PolicyError) as refused:
        Policy.from_env(Policy(warn_before=120), environ={"IDLEGUARD_IDLE_TIMEOUT": " 1m "})
    assert str(refused.value) == (
        "IDLEGUARD_IDLE_TIMEOUT=1m: warn_before (120 s) must be shorter than idle_timeout "
        "(60 s), or the warning would show before any inactivity; warn_before is the base "
        "policy's: set IDLEGUARD_WARN_BEFORE to change it"
    )
    with pytest.raises(PolicyError, match=r"^IDLEGUARD_IDLE_TIMEOUT=10h: idle_timeout \(36000 s\)"):
        Policy.from_env(environ={"IDLEGUARD_IDLE_TIMEOUT": "10h"})
