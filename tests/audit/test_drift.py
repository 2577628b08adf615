"""Drift over time: the audit report flags the periods in which the recorded policy was not the expected one."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from idleguard import Policy
from idleguard.audit import JsonLinesSink
from idleguard.audit.cli import main
from idleguard.audit.drift import ExpectedLimits, drift_periods
from idleguard.events import Event, EventType
from idleguard.testing import SettableClock

from .harness import WsgiClient, make_client

START = datetime(2026, 7, 1, tzinfo=timezone.utc).timestamp()
DAY = 86400.0


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat()


def traffic(path: Path) -> tuple[float, float]:
    """A week of sign-ins on PCI DSS's 15 minutes, with two days on 30 in the middle."""
    clock = SettableClock(START)
    client = make_client(
        "wsgi",
        clock=clock,
        on_event=[JsonLinesSink(path)],
        policy=Policy(idle_timeout=900, absolute_timeout=8 * 3600),
    )
    assert isinstance(client, WsgiClient)
    policies = client.app.settings.policies
    laxer_from = laxer_until = 0.0
    for day in range(7):
        if day == 2:
            laxer_from = clock()
            policies.update(Policy(idle_timeout=1800), actor="oops@acme", tenant="acme")
        if day == 4:
            laxer_until = clock()
            policies.update(Policy(idle_timeout=900), actor="fix@acme", tenant="acme")
        client.request("POST", "/login", "user=ada&tenant=acme")
        clock.advance(600)
        client.request("GET", "/page")
        client.request("POST", "/logout")
        clock.advance(DAY - 600)
    client.app.settings.audit.close()
    return laxer_from, laxer_until


def test_a_laxer_period_is_flagged_with_its_bounds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "events.jsonl"
    laxer_from, laxer_until = traffic(log)
    assert main(["audit", str(log), "--expect-preset", "pci-dss", "--format", "json"]) == 1
    captured = capsys.readouterr()
    assert "laxer than expected" in captured.err
    report = json.loads(captured.out)
    assert report["expected"] == {
        "idle_timeout": 900.0,
        "absolute_timeout": 8 * 3600,
        "tolerance": 0.0,
    }
    (period,) = report["drift"]
    assert period["direction"] == "laxer"
    assert period["tenant"] == "acme"
    assert period["idle_timeout"] == 1800
    assert period["since"] == _iso(laxer_from)
    assert period["until"] == _iso(laxer_until)
    assert period["events"] >= 4  # the change, and the sign-ins and sign-outs under it


def test_the_text_and_the_page_show_the_period(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "events.jsonl"
    traffic(log)
    assert main(["audit", str(log), "--expect-idle", "15m", "--expect-absolute", "8h"]) == 1
    text = capsys.readouterr().out
    assert "Drift from the expected policy (idle 900, absolute 28800, tolerance 0; seconds)" in text
    assert "LAXER     acme" in text
    page = tmp_path / "report.html"
    assert (
        main(["audit", str(log), "--expect-preset", "pci-dss", "--format", "html", "-o", str(page)])
        == 1
    )
    assert '<section id="drift">' in page.read_text()


def test_no_drift_when_the_period_excludes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "events.jsonl"
    _, laxer_until = traffic(log)
    since = datetime.fromtimestamp(laxer_until + 60, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    assert main(["audit", str(log), "--since", since, "--expect-preset", "pci-dss"]) == 0
    assert "none: every recorded policy was the expected one" in capsys.readouterr().out


def test_an_unknown_expected_preset_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text("")
    assert main(["audit", str(log), "--expect-preset", "pci-dds"]) == 2
    assert "did you mean 'pci-dss'" in capsys.readouterr().err


def _event(at: float, **policy: float | None) -> Event:
    return Event(EventType.SESSION_STARTED, at, tenant="acme", policy=policy)


@pytest.mark.parametrize(
    ("recorded", "direction"),
    [
        pytest.param({"idle_timeout": 900.0, "absolute_timeout": 28800.0}, None, id="as-expected"),
        pytest.param(
            {"idle_timeout": 905.0, "absolute_timeout": 28800.0}, None, id="within-tolerance"
        ),
        pytest.param({"idle_timeout": 911.0, "absolute_timeout": 28800.0}, "laxer", id="longer"),
        pytest.param({"idle_timeout": None, "absolute_timeout": 28800.0}, "laxer", id="idle-off"),
        pytest.param(
            {"idle_timeout": 300.0, "absolute_timeout": 28800.0}, "stricter", id="shorter"
        ),
        pytest.param(
            {"idle_timeout": 300.0, "absolute_timeout": 99999.0}, "laxer", id="mixed-is-laxer"
        ),
    ],
)
def test_what_counts_as_drift(recorded: dict[str, float | None], direction: str | None) -> None:
    expected = ExpectedLimits(900, 28800, tolerance=10)
    periods = drift_periods([_event(1.0, **recorded), _event(2.0, idle_timeout=900.0)], expected)
    assert [period.direction for period in periods] == ([direction] if direction else [])
    if direction:
        assert (periods[0].since, periods[0].until) == (1.0, 2.0)


def test_a_change_of_wrong_limits_starts_a_new_period() -> None:
    expected = ExpectedLimits(900, None)
    events = [
        _event(1, idle_timeout=1200),
        _event(2, idle_timeout=1200),
        _event(3, idle_timeout=1800),
    ]
    periods = drift_periods(events, expected)
    assert [(p.since, p.until, p.idle_timeout, p.events) for p in periods] == [
        (1, 3, 1200, 2),
        (3, None, 1800, 1),
    ]
