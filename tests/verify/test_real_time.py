"""One run on the wall clock: the real waiter, against the demo configured with limits of seconds."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from examples.demo import create_app
from examples.demo.accounts import USERS
from idleguard import Policy
from idleguard.cli import main
from tests.examples.servers import serve_asgi

IDLE, ABSOLUTE, TOLERANCE = 2.0, 4.0, 0.8


# On the wall clock a busy machine can hold one request back past a fifth of the tolerance
# (160 ms here); a second run tells that from a real fault.
@pytest.mark.flaky(reruns=1)
def test_a_real_time_run_waits_for_real(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    user = USERS[0]
    monkeypatch.setenv("IDLEGUARD_VERIFY_USER", user.email)
    monkeypatch.setenv("IDLEGUARD_VERIFY_PASSWORD", user.password)
    app = create_app(
        policy=Policy(idle_timeout=IDLE, absolute_timeout=ABSOLUTE, warn_before=0), https_only=True
    )
    report_path = tmp_path / "evidence.json"
    with serve_asgi(app) as url:
        started = time.monotonic()
        status = main(
            [
                "verify",
                url,
                "--idle",
                f"{IDLE:g}s",
                "--absolute",
                f"{ABSOLUTE:g}s",
                "--tolerance",
                f"{TOLERANCE:g}",
                "--login-url",
                "/login",
                "--user-field",
                "email",
                "--check-path",
                "/api/me",
                "--logout-url",
                "/logout",
                "--idleguard",
                "--quiet",
                "--probe",
                "idle-expiry",
                "--probe",
                "absolute-expiry",
                "--probe",
                "keepalive-bound",
                "--json",
                str(report_path),
            ]
        )
        took = time.monotonic() - started
    out = capsys.readouterr().out
    assert status == 0, out
    # It waited through the absolute limit and its tolerance, and not much longer.
    assert ABSOLUTE <= took < ABSOLUTE + TOLERANCE + 3
    report = json.loads(report_path.read_text())
    idle = next(entry for entry in report["results"] if entry["probe"] == "idle-expiry")
    assert IDLE - TOLERANCE / 5 <= idle["measured"]["last_alive_after"] < IDLE
    assert IDLE <= idle["measured"]["first_refused_after"] <= IDLE + TOLERANCE
