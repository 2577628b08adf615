"""``idleguard verify`` against an app that is not idleguard: right, then wrong in one way at a time."""

from __future__ import annotations

import json
import re

import pytest

from idleguard.testing import SettableClock
from idleguard.verify import Endpoint, Expectation, FormSignIn, Target, to_html, to_markdown
from tests.examples.servers import serve_asgi

from .conftest import Verify, result
from .faulty import PASSWORD, USER, Faults, faulty_app

CLAIM = Expectation.build(
    idle=900, absolute=3600, idle_given=True, absolute_given=True, tolerance=30
)
RECIPE = FormSignIn("/login", [(USER, PASSWORD)])


def target(url: str) -> Target:
    return Target(
        url,
        check=Endpoint("GET", "/me"),
        passive=Endpoint("GET", "/poll"),
        keepalive=Endpoint("POST", "/keepalive"),
        logout=Endpoint("POST", "/logout"),
    )


def test_an_app_that_keeps_its_claims_passes(clock: SettableClock, verify: Verify) -> None:
    with serve_asgi(faulty_app(clock, Faults())) as url:
        report = verify([target(url)], CLAIM, RECIPE)
    verdicts = {entry["probe"]: entry["verdict"] for entry in report.to_json()["results"]}
    assert verdicts == {
        "idle-expiry": "passed",
        "absolute-expiry": "passed",
        "passive-path": "passed",
        "keepalive-bound": "passed",
        "sign-out-replay": "passed",
        "sign-out-headers": "passed",
        "cookie-attributes": "passed",
        "session-rotation": "passed",
        "client-endpoints": "skipped",  # not an idleguard deployment
    }
    assert report.passed
    idle = result(report, "idle-expiry")["measured"]
    assert isinstance(idle, dict)
    # The search narrowed the expiry to within a quarter of the tolerance around 900 s.
    assert 900 - 6 <= idle["last_alive_after"] < 900 <= idle["first_refused_after"] <= 900 + 7.5
    assert result(report, "cookie-attributes")["advice"] == [
        "sid: a __Host- prefix would bind it to this host over HTTPS"
    ]


@pytest.mark.parametrize(
    ("faults", "probe", "finding"),
    [
        pytest.param(
            Faults(idle=1200),
            "idle-expiry",
            "past the claimed 900.00 s (15m 00s) + 30.00 s",
            id="idle-longer",
        ),
        pytest.param(
            Faults(idle=600), "idle-expiry", "before the claimed 900.00 s", id="idle-shorter"
        ),
        pytest.param(Faults(idle=7200), "idle-expiry", "never refused", id="idle-never"),
        pytest.param(
            Faults(passive_extends=True),
            "passive-path",
            "GET /poll extends the session",
            id="passive-extends",
        ),
        pytest.param(
            Faults(keepalive_renews_absolute=True),
            "keepalive-bound",
            "past 3600.00 s",
            id="keepalive-past-absolute",
        ),
        pytest.param(
            Faults(absolute=7200), "absolute-expiry", "past 3600.00 s", id="absolute-longer"
        ),
        pytest.param(
            Faults(secure_cookie=False),
            "cookie-attributes",
            "sid: no Secure attribute",
            id="cookie-not-secure",
        ),
        pytest.param(
            Faults(logout_invalidates=False),
            "sign-out-replay",
            "the old cookie still works",
            id="sign-out-does-not-invalidate",
        ),
        pytest.param(
            Faults(keeps_planted_id=True),
            "session-rotation",
            "sid: the value sent with the sign-in was kept",
            id="fixation",
        ),
    ],
)
def test_each_fault_fails_its_probe_with_evidence(
    clock: SettableClock, verify: Verify, faults: Faults, probe: str, finding: str
) -> None:
    with serve_asgi(faulty_app(clock, faults)) as url:
        report = verify([target(url)], CLAIM, RECIPE)
    assert not report.passed
    failed = result(report, probe)
    assert failed["verdict"] == "failed"
    findings = failed["findings"]
    assert isinstance(findings, list)
    assert any(finding in line for line in findings), findings
    assert failed["exchanges"], "a failure comes with the requests that show it"
    markdown = to_markdown(report)
    assert f"### {probe}: FAILED" in markdown
    assert finding in markdown
    page = to_html(report)
    assert f"{probe}: FAILED" in page
    # The secrets of the run never reach a report: the password, and no session id.
    for text in (json.dumps(report.to_json()), markdown, page):
        assert PASSWORD not in text
        assert re.search(r"REDACTED\\?\]#[0-9a-f]{8}", text), "cookies show as fingerprints"


def test_the_idle_fault_is_measured_not_only_flagged(clock: SettableClock, verify: Verify) -> None:
    with serve_asgi(faulty_app(clock, Faults(idle=1200))) as url:
        report = verify([target(url)], CLAIM, RECIPE, only=["idle-expiry"])
    measured = result(report, "idle-expiry")["measured"]
    assert isinstance(measured, dict)
    assert measured["last_alive_after"] < 1200 <= measured["first_refused_after"]
    # The search beyond the limit stepped 667 s at a time; two more rounds narrowed it to
    # a twenty-fifth of that.
    assert measured["first_refused_after"] - measured["last_alive_after"] < 30


def test_an_answer_that_is_neither_alive_nor_refused_is_inconclusive(
    clock: SettableClock, verify: Verify
) -> None:
    with serve_asgi(faulty_app(clock, Faults())) as url:
        wrong = Target(url, check=Endpoint("GET", "/nowhere"), logout=Endpoint("POST", "/logout"))
        report = verify([wrong], CLAIM, RECIPE, only=["idle-expiry", "sign-out-replay"])
    assert not report.passed
    for probe in ("idle-expiry", "sign-out-replay"):
        entry = result(report, probe)
        assert entry["verdict"] == "error"
        assert "404" in str(entry["summary"])


def test_sessions_that_expire_unevenly_are_inconclusive(
    clock: SettableClock, verify: Verify
) -> None:
    with serve_asgi(faulty_app(clock, Faults(uneven=True))) as url:
        report = verify([target(url)], CLAIM, RECIPE, only=["idle-expiry"])
    entry = result(report, "idle-expiry")
    assert entry["verdict"] == "error"
    assert "does not expire sessions consistently" in str(entry["summary"])


def test_a_check_request_anyone_may_see_is_inconclusive(
    clock: SettableClock, verify: Verify
) -> None:
    with serve_asgi(faulty_app(clock, Faults())) as url:
        public = Target(url, check=Endpoint("GET", "/public"))
        report = verify([public], CLAIM, RECIPE, only=["idle-expiry"])
    entry = result(report, "idle-expiry")
    assert entry["verdict"] == "error"
    assert "answered 200 without a session" in str(entry["summary"])


def test_a_sign_in_that_gives_no_live_session_is_inconclusive(
    clock: SettableClock, verify: Verify
) -> None:
    # The form "succeeds" (a redirect and a cookie) but the protected page refuses the
    # session at once: every wait would look like an early expiry without this check.
    with serve_asgi(faulty_app(clock, Faults(idle=0.0))) as url:
        report = verify([target(url)], CLAIM, RECIPE, only=["idle-expiry", "passive-path"])
    for probe in ("idle-expiry", "passive-path"):
        entry = result(report, probe)
        assert entry["verdict"] == "error"
        assert "answered 401 to the session the sign-in gave" in str(entry["summary"])


def test_a_sign_in_that_fails_is_inconclusive(clock: SettableClock, verify: Verify) -> None:
    with serve_asgi(faulty_app(clock, Faults())) as url:
        report = verify(
            [target(url)], CLAIM, FormSignIn("/login", [(USER, "wrong")]), only=["idle-expiry"]
        )
    entry = result(report, "idle-expiry")
    assert entry["verdict"] == "error"
    assert "answered 401" in str(entry["summary"])
    assert not report.passed
