"""``idleguard verify`` on the command line: its refusals, and each way of signing in."""

from __future__ import annotations

import importlib.util
import shlex
import sys
from typing import Any

import httpx
import pytest

from idleguard.cli import main, parser
from idleguard.cli.verify import execute
from idleguard.testing import SettableClock
from idleguard.verify import ClockTime
from tests.examples.servers import serve_asgi

from . import hooks
from .faulty import PASSWORD, USER, Faults, faulty_app

CLAIM = ["--idle", "15m", "--absolute", "1h", "--tolerance", "30s", "--check-path", "/me"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param([*CLAIM], "say how to sign in with one of --login-url", id="no-recipe"),
        pytest.param(
            [*CLAIM, "--cookie", "a=1", "--login-url", "/login"],
            "(not --login-url and --cookie)",
            id="two-recipes",
        ),
        pytest.param(
            [*CLAIM, "--login-url", "/login"],
            "set IDLEGUARD_VERIFY_USER and IDLEGUARD_VERIFY_PASSWORD",
            id="no-credentials",
        ),
        pytest.param(
            [*CLAIM, "--login-url", "/login", "--user-env", "ONE"],
            "--user-env takes USER_VAR:PASSWORD_VAR",
            id="bad-user-env",
        ),
        pytest.param(
            ["--check-path", "/me", "--cookie", "a=1"], "say what to expect", id="no-claim"
        ),
        pytest.param(
            ["--idle", "15x", "--cookie", "a=1"], "'15x' is not a duration", id="bad-length"
        ),
        pytest.param(
            ["--idle", "off", "--absolute", "off", "--cookie", "a=1"],
            "claim at least one limit",
            id="all-off",
        ),
        pytest.param(
            [*CLAIM, "--cookie", "a=1", "--sessions", "1"],
            "--sessions must be 2 or more",
            id="one-session",
        ),
        pytest.param(
            [*CLAIM, "--sign-in-hook", "nowhere"], "must be module:function", id="bad-hook"
        ),
        pytest.param(
            [*CLAIM, "--sign-in-hook", "tests.verify.hooks:absent"],
            "cannot load the sign-in hook",
            id="missing-hook",
        ),
        pytest.param(
            [*CLAIM, "--cookie", "a=1", "--probe", "idle"],
            "invalid choice: 'idle'",
            id="unknown-probe",
        ),
    ],
)
def test_a_run_it_cannot_make_is_one_line_and_status_two(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _refused(["verify", "http://127.0.0.1:9", *argv], message, capsys)


@pytest.mark.parametrize(
    "url", ["example.com", "ftp://example.com", "http://", "javascript:alert(1)"]
)
def test_a_url_that_is_not_http_is_refused(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(
        ["verify", url, *CLAIM, "--cookie", "a=1"], "is not an http:// or https:// URL", capsys
    )


def _refused(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_a_missing_http_client_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *rest: None if name == "httpx" else real(name, *rest),
    )
    assert main(["verify", "http://127.0.0.1:9", *CLAIM, "--cookie", "a=1"]) == 2
    assert 'pip install "idleguard[verify]"' in capsys.readouterr().err


def _run(
    argv: list[str], clock: SettableClock, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    arguments = parser().parse_args(argv)
    status = execute(arguments, ClockTime(clock, clock.advance))
    return status, capsys.readouterr().out


def _lines(out: str) -> dict[str, str]:
    return {line.split()[1]: line.split()[0] for line in out.splitlines()[:-1]}


def _cookie(url: str) -> str:
    response = httpx.post(f"{url}/login", data={"username": USER, "password": PASSWORD})
    return response.headers["set-cookie"].split(";")[0]


def test_cookies_given_are_one_session_each(
    clock: SettableClock, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve_asgi(faulty_app(clock, Faults())) as url:
        argv = ["verify", url, *CLAIM, "--logout-url", "/logout", "--quiet"]
        argv += ["--cookie", _cookie(url), "--cookie", _cookie(url)]
        argv += [
            "--probe",
            "sign-out-replay",
            "--probe",
            "idle-expiry",
            "--probe",
            "cookie-attributes",
        ]
        status, out = _run(argv, clock, capsys)
    assert _lines(out) == {
        "sign-out-replay": "PASSED",
        "idle-expiry": "SKIPPED",
        "cookie-attributes": "SKIPPED",
    }
    assert "2 credential(s) were given, and this probe needs 4 more than the others took" in out
    assert status == 0  # skipped probes are not drift


@pytest.mark.parametrize("recipe", ["command", "hook"])
def test_a_command_or_a_hook_makes_each_session(
    recipe: str,
    clock: SettableClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with serve_asgi(faulty_app(clock, Faults(idle=1200))) as url:
        if recipe == "command":
            script = (
                "import os, httpx; r = httpx.post(os.environ['IDLEGUARD_VERIFY_URL'] + '/login', "
                f"data={{'username': {USER!r}, 'password': {PASSWORD!r}}}); "
                "print('Cookie: ' + r.headers['set-cookie'].split(';')[0])"
            )
            how = ["--sign-in-command", shlex.join([sys.executable, "-c", script])]
        else:
            monkeypatch.setattr(hooks, "BASE_URL", url)
            how = ["--sign-in-hook", "tests.verify.hooks:sign_in"]
        status, out = _run(
            ["verify", url, *CLAIM, *how, "--quiet", "--probe", "idle-expiry"], clock, capsys
        )
    assert status == 1
    assert _lines(out) == {"idle-expiry": "FAILED"}
    assert "idle limit longer than claimed" in out


def test_the_reports_go_where_they_are_asked(
    clock: SettableClock, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    with serve_asgi(faulty_app(clock, Faults(secure_cookie=False))) as url:
        paths = {form: tmp_path / f"out.{form}" for form in ("json", "md", "html")}
        argv = [
            "verify",
            url,
            *CLAIM,
            "--cookie",
            _cookie(url),
            "--quiet",
            "--probe",
            "sign-out-replay",
        ]
        argv += [
            "--logout-url",
            "/logout",
            "--json",
            str(paths["json"]),
            "--markdown",
            str(paths["md"]),
            "--html",
            str(paths["html"]),
        ]
        status, _ = _run(argv, clock, capsys)
    assert status == 0
    assert paths["json"].read_text().startswith("{")
    assert paths["md"].read_text().startswith("# Session enforcement evidence")
    assert paths["html"].read_text().startswith("<!DOCTYPE html>")


def test_an_interrupted_run_writes_no_report(
    clock: SettableClock, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    path = tmp_path / "out.json"
    argv = [
        "verify",
        "http://127.0.0.1:9",
        *CLAIM,
        "--sign-in-hook",
        "tests.verify.hooks:interrupt",
    ]
    arguments = parser().parse_args([*argv, "--quiet", "--json", str(path)])
    assert execute(arguments, ClockTime(clock, clock.advance)) == 1
    assert not path.exists()
    assert "interrupted; no report written" in capsys.readouterr().err


def test_a_long_run_tells_what_it_waits_for(
    clock: SettableClock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_asgi(faulty_app(clock, Faults())) as url:
        monkeypatch.setattr(hooks, "BASE_URL", url)
        argv = ["verify", url, *CLAIM, "--sign-in-hook", "tests.verify.hooks:sign_in"]
        arguments = parser().parse_args([*argv, "--probe", "idle-expiry"])
        assert execute(arguments, ClockTime(clock, clock.advance)) == 0
    waits = capsys.readouterr().err.splitlines()
    # The first wait: until just before the idle limit (15 minutes less a fifth of 30 s).
    assert waits[0].startswith("idleguard verify: waiting 14m 54s (until ")
    assert waits[0].endswith(", 1 probe(s) running")
    assert all(line.startswith("idleguard verify: waiting ") for line in waits)
