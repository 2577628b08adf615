"""`idleguard check`: would this configuration start the middleware, and does its store answer?

```shell
IDLEGUARD_STORE=redis://redis.internal:6379/0 IDLEGUARD_SECRET_KEY=... idleguard check
idleguard check --config idleguard.toml --format json
```
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import IO, Any

from ..audit import printable
from ..operations import CheckResult, check
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    add_configuration_arguments,
    duration,
    read_configuration,
    write_json,
)

__all__ = ["add_parser", "render", "render_json"]


def add_parser(commands: Any) -> None:
    """Add `check` to the `idleguard` subcommands."""
    parser = commands.add_parser(
        "check",
        help="validate a configuration and reach its store",
        description="Build the middleware's settings from IDLEGUARD_* environment variables "
        "(or --config) as the middleware would, report every problem with the message the "
        "app would stop with, then make one harmless call to the store and report how long "
        "it took. Exit status 0: all is well; 1: a problem was found; 2: bad arguments.",
    )
    add_configuration_arguments(parser)
    parser.add_argument(
        "--store", metavar="URL", help="check this store instead of the configuration's"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(run=run, prog=parser.prog)


def run(arguments: argparse.Namespace) -> int:
    """`idleguard check`."""
    configuration = read_configuration(arguments)
    overrides = {"store": arguments.store} if arguments.store is not None else {}
    result = check(configuration, **overrides)
    if arguments.format == "json":
        write_json(render_json(result))
    else:
        render(result, sys.stdout)
    return EXIT_OK if result.ok else EXIT_FAILED


def _limit(value: Any) -> str:
    return duration(value) if isinstance(value, (int, float)) else "off"


def render(result: CheckResult, out: IO[str]) -> None:
    """The result as lines of text: the problems and notes, what was built, the store."""
    out.write(f"configuration: {printable(result.source)}\n")
    for problem in result.problems:
        out.write(f"  problem: {printable(problem)}\n")
    for note in result.notes:
        out.write(f"  note: {printable(note)}\n")
    if result.settings is not None:
        policy = result.settings["policy"]
        out.write(
            f"  policy: idle {_limit(policy.get('idle_timeout'))}, absolute "
            f"{_limit(policy.get('absolute_timeout'))}, warning {_limit(policy.get('warn_before'))}"
            f" before, touch every {_limit(policy.get('touch_interval'))}\n"
        )
        out.write(
            f"  cookie: {printable(str(result.settings['cookie']))}; login_url: "
            f"{printable(str(result.settings['login_url']))}; fail_open: "
            f"{'yes' if result.settings['fail_open'] else 'no'}\n"
        )
    probe = result.store
    if probe is None:
        out.write("store: not reached\n")
    else:
        where = f" {printable(probe.location)}" if probe.location else ""
        milliseconds = probe.seconds * 1000
        if probe.ok:
            out.write(f"store: {probe.store}{where}: OK in {milliseconds:.1f} ms\n")
        else:
            out.write(
                f"store: {probe.store}{where}: FAILED after {milliseconds:.1f} ms: "
                f"{printable(probe.error or '')}\n"
            )
    out.write(f"{_verdict(result)}\n")


def _verdict(result: CheckResult) -> str:
    if result.ok:
        return "OK"
    failures = []
    if result.problems:
        failures.append(f"{len(result.problems)} problem(s) in the configuration")
    if result.store is not None and not result.store.ok:
        failures.append("the store did not answer")
    return "FAILED: " + "; ".join(failures)


def render_json(result: CheckResult) -> dict[str, Any]:
    """The result as a JSON-ready dict."""
    return {
        "ok": result.ok,
        "source": result.source,
        "problems": result.problems,
        "notes": result.notes,
        "settings": result.settings,
        "store": None if result.store is None else dataclasses.asdict(result.store),
    }
