"""Running ``idleguard verify`` against servers the suite starts, with the servers' clock moved by the waits."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from idleguard.testing import SettableClock
from idleguard.verify import ClockTime, Endpoint, Report
from idleguard.verify.bench import Target
from idleguard.verify.expectation import Expectation
from idleguard.verify.recipes import SignIn
from idleguard.verify.runner import run

# Each test starts with no IDLEGUARD_* variable, as the command line's own tests do.
from ..cli.conftest import no_idleguard_variables  # noqa: F401

Verify = Callable[..., Report]


def idleguard_target(url: str) -> Target:
    """An idleguard app with the demo's paths: its own check, poll and sign-out, and the client's."""
    return Target(
        url,
        check=Endpoint("GET", "/api/me"),
        passive=Endpoint("GET", "/api/notifications"),
        keepalive=Endpoint("POST", "/_idleguard/keepalive", {"x-idleguard": "1"}),
        logout=Endpoint("POST", "/logout"),
        client_prefix="/_idleguard/",
    )


@pytest.fixture
def timeline(clock: SettableClock) -> ClockTime:
    """The verifier's waits move the clock the servers under test read: hours pass at once."""
    return ClockTime(clock, clock.advance)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    # No connection is kept between requests: a server stopped at the end of a test then
    # has none open, which its event loop would otherwise report as never closed.
    with httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        yield client


@pytest.fixture
def verify(timeline: ClockTime, http: httpx.Client) -> Verify:
    """``verify(targets, expectation, recipe, only=...)``: one run on the test's timeline."""

    def go(
        targets: list[Target], expectation: Expectation, recipe: SignIn, **options: object
    ) -> Report:
        return run(targets, expectation, recipe, timeline, http, **options)  # type: ignore[arg-type]

    return go


def result(report: Report, probe: str, target: str | None = None) -> dict[str, object]:
    """The JSON of one probe's result (the first against ``target`` when given)."""
    found = [
        entry
        for entry in report.to_json()["results"]
        if entry["probe"] == probe and (target is None or entry["target"] == target)
    ]
    assert found, f"no {probe} result in the report"
    outcome: dict[str, object] = found[0]
    return outcome
