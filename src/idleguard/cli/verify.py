"""`idleguard verify`: probe running deployments over HTTP and report what they enforce.

```shell
IDLEGUARD_VERIFY_USER=qa@example.com IDLEGUARD_VERIFY_PASSWORD=... \
  idleguard verify https://app.example.com --preset pci-dss --login-url /login \
  --check-path /api/me --logout-url /logout --json evidence.json --html evidence.html
```

Exit status: `0` every probe passed, `1` drift (a probe failed or could not conclude), `2`
the command could not run as asked.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from typing import Any
from urllib.parse import urlsplit

from ..durations import read_limit
from ..verify import (
    CROSS_SERVICE_PROBES,
    PROBES_PER_TARGET,
    CommandSignIn,
    Endpoint,
    Expectation,
    FormSignIn,
    GivenCookies,
    HookSignIn,
    RealTime,
    Report,
    SignIn,
    SignInFailed,
    Target,
    Timeline,
    run,
    to_html,
    to_json_text,
    to_markdown,
)
from ..verify.progress import Progress
from .common import EXIT_FAILED, EXIT_OK, UsageError

__all__ = ["add_parser", "execute", "plan", "render_text"]

#: What `idleguard verify` imports beyond idleguard, and the extra that brings it.
EXTRA = "verify"
DEFAULT_USER_VARIABLES = ("IDLEGUARD_VERIFY_USER", "IDLEGUARD_VERIFY_PASSWORD")
#: `--idle off` means "no idle limit is claimed", which an absent `--idle` does not.
NOT_GIVEN: Any = object()


def _length(text: str) -> float | None:
    try:
        return read_limit(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_parser(commands: Any) -> None:
    """Add `verify` to the `idleguard` subcommands."""
    parser = commands.add_parser(
        "verify",
        help="prove over HTTP that deployments enforce their session limits",
        description="Sign in to each deployment and probe it as a client would: idle and "
        "absolute expiry, passive requests, keepalive, sign-out, cookie attributes, session "
        "rotation; across several deployments, one session and one sign-out everywhere and "
        "the same limits. Exit status 0: as claimed; 1: drift or inconclusive; 2: bad arguments.",
    )
    parser.add_argument("urls", nargs="+", metavar="URL", help="a deployment's base URL")
    claim = parser.add_argument_group("what to expect")
    claim.add_argument("--preset", help="a policy preset (pci-dss, fedramp-moderate, ...)")
    claim.add_argument(
        "--idle", type=_length, default=NOT_GIVEN, help="the idle limit: 15m, 900, off"
    )
    claim.add_argument(
        "--absolute", type=_length, default=NOT_GIVEN, help="the absolute limit: 12h, off"
    )
    claim.add_argument(
        "--tolerance",
        type=_length,
        help="how late an expiry may land (default 5%% of the shortest limit, at least 1 s)",
    )
    claim.add_argument(
        "--wait",
        choices=("real", "compressed"),
        default="real",
        help="real: wait the real limits (hours, on a schedule); compressed: the deployment divides every limit by --compress",
    )
    claim.add_argument(
        "--compress",
        type=float,
        default=60.0,
        help="the factor a compressed deployment divides its limits by (default 60)",
    )
    paths = parser.add_argument_group("the deployment's requests")
    paths.add_argument(
        "--check-path",
        default="/",
        help="a request that answers 2xx to a signed-in session (default /)",
    )
    paths.add_argument("--passive-path", help="a background request that must not extend a session")
    paths.add_argument("--keepalive-path", help="a request that extends a session (POST)")
    paths.add_argument("--logout-url", help="the sign-out request (POST)")
    paths.add_argument(
        "--idleguard",
        nargs="?",
        const="/_idleguard/",
        metavar="PREFIX",
        help="an idleguard deployment: probe its client endpoints (default prefix /_idleguard/)",
    )
    sign_in = parser.add_argument_group("signing in (one of)")
    sign_in.add_argument("--login-url", help="post a sign-in form here")
    sign_in.add_argument(
        "--user-field", default="username", help="the form's user field (default username)"
    )
    sign_in.add_argument(
        "--password-field", default="password", help="the form's password field (default password)"
    )
    sign_in.add_argument(
        "--field", action="append", default=[], metavar="NAME=VALUE", help="another form field"
    )
    sign_in.add_argument(
        "--user-env",
        action="append",
        default=[],
        metavar="USER_VAR:PASSWORD_VAR",
        help="environment variables holding a user and password (repeat for more users; default IDLEGUARD_VERIFY_USER:IDLEGUARD_VERIFY_PASSWORD)",
    )
    sign_in.add_argument(
        "--sign-in-command",
        metavar="COMMAND",
        help="a command printing a credential (Cookie: ..., Authorization: ..., name=value)",
    )
    sign_in.add_argument(
        "--sign-in-hook",
        metavar="MODULE:FUNCTION",
        help="a Python function returning a credential line",
    )
    sign_in.add_argument(
        "--cookie",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a session cookie given directly (repeat: one session each)",
    )
    run_group = parser.add_argument_group("the run")
    run_group.add_argument(
        "--sessions", type=int, default=4, help="sessions per round of the idle search (default 4)"
    )
    run_group.add_argument(
        "--probe",
        action="append",
        default=[],
        choices=[*PROBES_PER_TARGET, *CROSS_SERVICE_PROBES, "limits-parity"],
        help="run only this probe (repeat)",
    )
    run_group.add_argument(
        "--ca-bundle",
        metavar="FILE",
        help="trust the certificates in this PEM file (a staging deployment's own CA)",
    )
    run_group.add_argument(
        "--timeout", type=float, default=30.0, help="seconds one request may take (default 30)"
    )
    run_group.add_argument("--json", metavar="FILE", help="write the JSON report here")
    run_group.add_argument(
        "--markdown", metavar="FILE", help="write the Markdown evidence report here"
    )
    run_group.add_argument("--html", metavar="FILE", help="write the HTML evidence report here")
    run_group.add_argument(
        "--quiet", action="store_true", help="no progress line on standard error"
    )
    parser.set_defaults(run=execute, prog=parser.prog)


def _recipe(arguments: argparse.Namespace) -> SignIn:
    chosen = [
        name
        for name, given in (
            ("--login-url", arguments.login_url),
            ("--sign-in-command", arguments.sign_in_command),
            ("--sign-in-hook", arguments.sign_in_hook),
            ("--cookie", arguments.cookie),
        )
        if given
    ]
    if len(chosen) != 1:
        raise UsageError(
            f"{arguments.prog}: say how to sign in with one of --login-url, --sign-in-command, --sign-in-hook, --cookie"
            + (f" (not {' and '.join(chosen)})" if chosen else "")
        )
    if arguments.sign_in_command:
        return CommandSignIn(arguments.sign_in_command)
    if arguments.sign_in_hook:
        # As uvicorn and flask --app do: a module beside the operator is importable, even
        # when `idleguard` runs as an installed script (whose path does not include it).
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        return HookSignIn(arguments.sign_in_hook)
    if arguments.cookie:
        return GivenCookies(arguments.cookie)
    variables = []
    for pair in arguments.user_env or [":".join(DEFAULT_USER_VARIABLES)]:
        user, colon, password = pair.partition(":")
        if not colon or not user or not password:
            raise UsageError(
                f"{arguments.prog}: --user-env takes USER_VAR:PASSWORD_VAR, not {pair!r}"
            )
        variables.append((user, password))
    fields = {}
    for field in arguments.field:
        name, equals, value = field.partition("=")
        if not equals or not name:
            raise UsageError(f"{arguments.prog}: --field takes NAME=VALUE, not {field!r}")
        fields[name] = value
    return FormSignIn.from_environment(
        arguments.login_url,
        variables,
        user_field=arguments.user_field,
        password_field=arguments.password_field,
        fields=fields,
    )


def plan(arguments: argparse.Namespace) -> tuple[list[Target], Expectation, SignIn]:
    """The deployments, the expectation and the recipe the arguments describe.

    Raises:
        UsageError: The arguments do not describe a run.
    """
    try:
        expectation = Expectation.build(
            preset=arguments.preset,
            idle=None if arguments.idle is NOT_GIVEN else arguments.idle,
            absolute=None if arguments.absolute is NOT_GIVEN else arguments.absolute,
            idle_given=arguments.idle is not NOT_GIVEN,
            absolute_given=arguments.absolute is not NOT_GIVEN,
            tolerance=arguments.tolerance,
            compression=arguments.compress if arguments.wait == "compressed" else 1.0,
        )
        recipe = _recipe(arguments)
    except (ValueError, SignInFailed) as error:
        raise UsageError(f"{arguments.prog}: {error}") from None
    if arguments.sessions < 2:
        raise UsageError(f"{arguments.prog}: --sessions must be 2 or more")
    for url in arguments.urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"{arguments.prog}: {url!r} is not an http:// or https:// URL")
    prefix = arguments.idleguard
    idleguard_headers = {"x-idleguard": "1"}
    keepalive = None
    if arguments.keepalive_path:
        keepalive = Endpoint("POST", arguments.keepalive_path, idleguard_headers if prefix else {})
    elif prefix:
        keepalive = Endpoint("POST", prefix.rstrip("/") + "/keepalive", idleguard_headers)
    passive = None
    if arguments.passive_path:
        passive = Endpoint("GET", arguments.passive_path)
    elif prefix:
        passive = Endpoint("GET", prefix.rstrip("/") + "/status")
    targets = [
        Target(
            url.rstrip("/"),
            check=Endpoint("GET", arguments.check_path),
            passive=passive,
            keepalive=keepalive,
            logout=Endpoint("POST", arguments.logout_url) if arguments.logout_url else None,
            client_prefix=prefix,
        )
        for url in arguments.urls
    ]
    return targets, expectation, recipe


def missing_requirement(arguments: argparse.Namespace) -> str | None:
    """What the run needs that is not installed, with the command that installs it."""
    needed = ["httpx", *(["jinja2"] if arguments.html else [])]
    for module in needed:
        if importlib.util.find_spec(module) is None:
            return f'idleguard verify needs {module}, which is not installed: pip install "idleguard[{EXTRA}]"'
    return None


def execute(arguments: argparse.Namespace, timeline: Timeline | None = None) -> int:
    """`idleguard verify`; `timeline` replaces the wall clock (tests)."""
    missing = missing_requirement(arguments)
    if missing is not None:
        raise UsageError(f"{arguments.prog}: {missing}")
    import httpx

    targets, expectation, recipe = plan(arguments)
    clock = RealTime() if timeline is None else timeline
    progress = None if arguments.quiet else Progress(clock, sys.stderr)
    verify_tls: str | bool = arguments.ca_bundle or True
    try:
        with httpx.Client(
            follow_redirects=False, timeout=arguments.timeout, verify=verify_tls
        ) as http:
            report = run(
                targets,
                expectation,
                recipe,
                clock,
                http,
                wait=arguments.wait,
                parallel=arguments.sessions,
                only=arguments.probe,
                on_wait=progress,
            )
    except KeyboardInterrupt:
        # Hours into a run, Ctrl-C is an answer, not a crash: no traceback, no partial report
        # that could pass for a whole one.
        print(f"\n{arguments.prog}: interrupted; no report written", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if progress is not None:
            progress.done()
    for path, text in (
        (arguments.json, to_json_text),
        (arguments.markdown, to_markdown),
        (arguments.html, to_html),
    ):
        if path:
            with open(path, "w", encoding="utf-8") as out:
                out.write(text(report))
    sys.stdout.write(render_text(report))
    return EXIT_OK if report.passed else EXIT_FAILED


def render_text(report: Report) -> str:
    """The report as lines of text: one per probe, then the verdict."""
    from ..audit import printable

    lines = [
        f"{result.verdict.value.upper():<8} {result.probe:<20} {printable(result.target)}: {printable(result.summary)}"
        for result in report.results
    ]
    counts = ", ".join(f"{count} {verdict}" for verdict, count in report.counts().items() if count)
    lines.append(f"verify: {'PASSED' if report.passed else 'FAILED'} ({counts})")
    return "\n".join(lines) + "\n"
