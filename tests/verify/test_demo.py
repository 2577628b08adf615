"""``idleguard verify`` from its command line against the demo on a real server: every probe passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from examples.demo import create_app
from examples.demo.accounts import USERS
from idleguard import Policy
from idleguard.cli import parser
from idleguard.cli.verify import execute
from idleguard.testing import SettableClock
from idleguard.verify import ClockTime
from tests.examples.servers import serve_asgi

ADMIN, MEMBER = USERS


def demo_arguments(url: str, *extra: str) -> list[str]:
    return [
        "verify",
        url,
        "--login-url", "/login",
        "--user-field", "email",
        "--user-env", "ADMIN_EMAIL:ADMIN_PASSWORD",
        "--user-env", "MEMBER_EMAIL:MEMBER_PASSWORD",
        "--check-path", "/api/me",
        "--passive-path", "/api/notifications",
        "--logout-url", "/logout",
        "--idleguard",
        "--quiet",
        *extra,
    ]  # fmt: skip


@pytest.fixture(autouse=True)
def accounts(monkeypatch: pytest.MonkeyPatch) -> None:
    for prefix, user in (("ADMIN", ADMIN), ("MEMBER", MEMBER)):
        monkeypatch.setenv(f"{prefix}_EMAIL", user.email)
        monkeypatch.setenv(f"{prefix}_PASSWORD", user.password)


def test_the_demo_enforces_the_pci_dss_preset(
    clock: SettableClock,
    timeline: ClockTime,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = create_app(clock=clock, policy=Policy.preset("pci-dss"), https_only=True)
    files = {form: tmp_path / f"evidence.{form}" for form in ("json", "md", "html")}
    with serve_asgi(app) as url:
        arguments = parser().parse_args(
            demo_arguments(
                url,
                "--preset",
                "pci-dss",
                "--tolerance",
                "1m",
                "--json",
                str(files["json"]),
                "--markdown",
                str(files["md"]),
                "--html",
                str(files["html"]),
            )
        )
        status = execute(arguments, timeline)
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.endswith("verify: PASSED (9 passed)\n")
    report = json.loads(files["json"].read_text())
    assert report["passed"] is True
    assert report["expected"]["idle_timeout"] == 900
    assert report["expected"]["absolute_timeout"] == 8 * 3600
    assert {row["control"]: row["status"] for row in report["controls"]}[
        "PCI DSS 8.2.8"
    ] == "evidenced"
    # Sessions were signed in as both users, taking turns.
    signed_in = {
        exchange["note"]
        for entry in report["results"]
        for exchange in entry["exchanges"]
        if exchange["note"].startswith("sign in")
    }
    assert signed_in == {f"sign in as {ADMIN.email}", f"sign in as {MEMBER.email}"}
    for form in ("md", "html"):
        text = files[form].read_text()
        assert "PCI DSS 8.2.8" in text
        assert ADMIN.password not in text
        assert MEMBER.password not in text


def test_a_claim_the_demo_does_not_keep_fails_with_status_one(
    clock: SettableClock, timeline: ClockTime, capsys: pytest.CaptureFixture[str]
) -> None:
    # The demo runs 30 minutes idle; the claim is PCI DSS's 15.
    app = create_app(
        clock=clock, policy=Policy(idle_timeout=1800, absolute_timeout=8 * 3600), https_only=True
    )
    with serve_asgi(app) as url:
        arguments = parser().parse_args(
            demo_arguments(
                url, "--preset", "pci-dss", "--probe", "idle-expiry", "--probe", "client-endpoints"
            )
        )
        status = execute(arguments, timeline)
    out = capsys.readouterr().out
    assert status == 1
    assert "FAILED   idle-expiry" in out
    assert "FAILED   client-endpoints" in out
    assert "idle_timeout is 1800" in out


def test_compressed_time_divides_the_claim(
    clock: SettableClock, timeline: ClockTime, tmp_path: Path
) -> None:
    # Staging runs PCI DSS's limits divided by 60: 15 s idle, 8 minutes absolute.
    app = create_app(
        clock=clock,
        policy=Policy(idle_timeout=15, absolute_timeout=480, warn_before=5),
        https_only=True,
    )
    path = tmp_path / "evidence.json"
    with serve_asgi(app) as url:
        arguments = parser().parse_args(
            demo_arguments(url, "--preset", "pci-dss", "--wait", "compressed", "--json", str(path))
        )
        assert execute(arguments, timeline) == 0
    report = json.loads(path.read_text())
    assert report["wait"] == "compressed"
    assert report["expected"]["compression"] == 60
    assert report["expected"]["idle_timeout"] == 15
    assert report["expected"]["tolerance"] == 1.0  # 5 % of 15 s is less than the 1 s floor


def test_the_demo_in_development_mode_fails_the_cookie_probe(
    clock: SettableClock, timeline: ClockTime, capsys: pytest.CaptureFixture[str]
) -> None:
    # IDLEGUARD_DEV=1 (plain HTTP) drops Secure and the __Host- prefix: fine on a laptop,
    # drift anywhere else.
    app = create_app(clock=clock, policy=Policy.preset("pci-dss"), https_only=False)
    with serve_asgi(app) as url:
        arguments = parser().parse_args(
            demo_arguments(url, "--preset", "pci-dss", "--probe", "cookie-attributes")
        )
        assert execute(arguments, timeline) == 1
    out = capsys.readouterr().out
    assert "FAILED   cookie-attributes" in out
    assert "idleguard: no Secure attribute" in out
