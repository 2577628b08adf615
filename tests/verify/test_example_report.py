"""The example evidence report in the docs is what a run against the demo writes today.

``make verify-example`` writes it again (``WRITE_EXAMPLES=1``); otherwise this test
compares a fresh run with the committed files, the server's port and the cookies'
fingerprints aside (they differ on every run), and fails when they part.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from examples.demo import create_app
from examples.demo.accounts import USERS
from idleguard import Policy
from idleguard.testing import SettableClock
from idleguard.verify import ClockTime, Expectation, FormSignIn, run, to_html, to_markdown
from tests.examples.servers import serve_asgi

from .conftest import idleguard_target

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = {"md": DOCS / "verify-example.md", "html": DOCS / "assets" / "verify" / "evidence.html"}
SHOWN_URL = "https://acme.example"
START = datetime(2026, 7, 1, 9, 0, tzinfo=timezone.utc).timestamp()
FINGERPRINT = re.compile(r"#[0-9a-f]{8}")


def _normal(text: str) -> str:
    return FINGERPRINT.sub("#........", text)


def test_the_example_report_is_a_run_against_the_demo() -> None:
    clock = SettableClock(START)
    app = create_app(clock=clock, policy=Policy.preset("pci-dss"), https_only=True)
    with (
        serve_asgi(app) as url,
        httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as http,
    ):
        report = run(
            [idleguard_target(url)],
            Expectation.build(preset="pci-dss", tolerance=60),
            FormSignIn(
                "/login", [(user.email, user.password) for user in USERS], user_field="email"
            ),
            ClockTime(clock, clock.advance),
            http,
            wait="test clock",
        )
    assert report.passed
    fresh = {
        "md": to_markdown(report).replace(url, SHOWN_URL),
        "html": to_html(report).replace(url, SHOWN_URL),
    }
    if os.environ.get("WRITE_EXAMPLES") == "1":
        for form, path in EXAMPLES.items():
            path.write_text(fresh[form], encoding="utf-8")
    for form, path in EXAMPLES.items():
        assert path.exists(), f"{path} is missing: run make verify-example"
        if _normal(path.read_text(encoding="utf-8")) != _normal(fresh[form]):
            pytest.fail(
                f"{path} is not what a run writes today: run make verify-example", pytrace=False
            )
