"""Policy: sensible defaults, and a nonsense policy fails at start-up with a clear message."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from idleguard import Policy, PolicyError


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
        pytest.param({"idle_timeout": "15m"}, "number of seconds or a timedelta", id="text"),
        pytest.param({"idle_timeout": True}, "number of seconds or a timedelta", id="bool"),
        pytest.param({"warn_before": None}, "use 0 for no warning", id="no-warn"),
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


def test_from_env_refuses_what_is_not_a_number() -> None:
    with pytest.raises(PolicyError, match="IDLEGUARD_IDLE_TIMEOUT='15 minutes'"):
        Policy.from_env(environ={"IDLEGUARD_IDLE_TIMEOUT": "15 minutes"})
