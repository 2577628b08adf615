"""`idleguard audit`: the report an assessor asks for, from the kept events.

```shell
idleguard audit /var/log/app/sessions.jsonl --quarter 2026Q3
idleguard audit postgresql+psycopg://auditor@db/app --since 2026-07-01 --format csv
idleguard audit /var/log/app/sessions.jsonl --quarter 2026Q3 --format html -o q3.html
idleguard audit /var/log/app/sessions.jsonl --since 2026-07-01 --expect-preset pci-dss
```

With an expected policy (`--expect-preset`, `--expect-idle`, `--expect-absolute`), the
report also lists the periods in which the recorded limits were not the expected ones, and
the exit status is 1 when one of them was laxer.

The whole `idleguard` command is `idleguard.cli`; this module is its `audit`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, TextIO

from ..durations import read_limit
from ..presets import lookup
from .drift import ExpectedLimits, drift_periods
from .html_report import missing_requirement, render_html
from .report import Report, build_report, load, render

#: The report's forms: text to read, CSV for a spreadsheet, JSON for tools, a page to keep.
FORMATS = ("text", "csv", "json", "html")

__all__ = ["add_parser", "main", "parser", "run"]


def _moment(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date or time (e.g. 2026-07-01 or 2026-07-01T09:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _quarter(text: str) -> tuple[float, float]:
    cleaned = text.strip().upper().replace("-", "")
    try:
        year_text, quarter_text = cleaned.split("Q")
        year, quarter = int(year_text), int(quarter_text)
        if not 1 <= quarter <= 4:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a quarter like 2026Q3") from None
    start = datetime(year, 3 * quarter - 2, 1, tzinfo=timezone.utc)
    end = (
        datetime(year + 1, 1, 1, tzinfo=timezone.utc)
        if quarter == 4
        else datetime(year, 3 * quarter + 1, 1, tzinfo=timezone.utc)
    )
    return start.timestamp(), end.timestamp()


def _length(text: str) -> float | None:
    try:
        return read_limit(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _expected(arguments: argparse.Namespace) -> ExpectedLimits | None:
    """The limits `--expect-*` name, or `None` when none is given.

    Raises:
        PolicyError: The preset is unknown (the message names the closest).
    """
    preset = getattr(arguments, "expect_preset", None)
    idle = getattr(arguments, "expect_idle", None)
    absolute = getattr(arguments, "expect_absolute", None)
    if preset is None and idle is None and absolute is None:
        return None
    if preset is not None:
        found = lookup(preset)
        idle = found.idle_timeout if idle is None else idle
        absolute = found.absolute_timeout if absolute is None else absolute
    return ExpectedLimits(idle, absolute, arguments.expect_tolerance or 0.0)


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add `audit` to the `idleguard` subcommands; it runs `run`."""
    audit: argparse.ArgumentParser = commands.add_parser(
        "audit",
        help="report on kept session events",
        description="Sessions ended by reason, inactivity timeout changes with actor, and the "
        "policy in force per tenant, from a JSON Lines file or a SQL table of events.",
    )
    audit.add_argument(
        "source", help="a JSON Lines file ('-' for stdin) or a database URL (sqlite:///..., ...)"
    )
    audit.add_argument("--table", help="the SQL table (default idleguard_audit_events)")
    audit.add_argument("--since", type=_moment, help="start of the period (ISO 8601, inclusive)")
    audit.add_argument("--until", type=_moment, help="end of the period (ISO 8601, exclusive)")
    audit.add_argument("--quarter", type=_quarter, help="the period as a quarter, e.g. 2026Q3")
    audit.add_argument("--tenant", help="one tenant only ('(none)' for sessions without one)")
    audit.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (default), csv, json, or html: one self-contained page for an assessor",
    )
    audit.add_argument("--output", "-o", help="write to this file instead of standard output")
    expect = audit.add_argument_group("drift: the policy the events should have recorded")
    expect.add_argument("--expect-preset", metavar="NAME", help="a preset (pci-dss, ...)")
    expect.add_argument("--expect-idle", type=_length, metavar="LENGTH", help="15m, 900, ...")
    expect.add_argument("--expect-absolute", type=_length, metavar="LENGTH", help="8h, ...")
    expect.add_argument(
        "--expect-tolerance",
        type=_length,
        default=0.0,
        metavar="LENGTH",
        help="how far a recorded limit may differ (default 0)",
    )
    audit.set_defaults(run=run, prog=audit.prog)
    return audit


def parser() -> argparse.ArgumentParser:
    """A command line with the one subcommand `audit` (see `idleguard.cli` for all)."""
    root = argparse.ArgumentParser(prog="idleguard", description="idleguard tools")
    add_parser(root.add_subparsers(dest="command", required=True))
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run `idleguard audit ...`; returns the exit status (0 done, 1 source unreadable, 2 usage).

    `argv` starts with `audit`, as on the `idleguard` command line.
    """
    return run(parser().parse_args(argv))


def run(arguments: argparse.Namespace) -> int:
    """Make the report the parsed `arguments` ask for; returns the exit status."""
    since, until = arguments.since, arguments.until
    if arguments.quarter is not None:
        if since is not None or until is not None:
            print("idleguard audit: use --quarter or --since/--until, not both", file=sys.stderr)
            return 2
        since, until = arguments.quarter
    if since is not None and until is not None and since >= until:
        print("idleguard audit: --since must be before --until", file=sys.stderr)
        return 2
    if arguments.format == "html" and (missing := missing_requirement()) is not None:
        print(f"idleguard audit: --format html needs {missing}", file=sys.stderr)
        return 2
    try:
        expected = _expected(arguments)
    except ValueError as error:
        print(f"idleguard audit: {error}", file=sys.stderr)
        return 2
    try:
        events, skipped = load(arguments.source, table=arguments.table, until=until)
    except (OSError, ImportError) as error:
        print(f"idleguard audit: cannot read {arguments.source}: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # a database driver's own errors, with no traceback for the user
        print(
            f"idleguard audit: cannot read {arguments.source}: {type(error).__name__}: {error}",
            file=sys.stderr,
        )
        return 1
    report = build_report(events, since, until, arguments.tenant)
    report.skipped = skipped
    laxer = False
    if expected is not None:
        report.expected = dataclasses.asdict(expected)
        report.drift = [
            dataclasses.asdict(period)
            for period in drift_periods(events, expected, since, until, arguments.tenant)
        ]
        laxer = any(period["direction"] == "laxer" for period in report.drift)
    if skipped:
        print(f"idleguard audit: skipped {skipped} unreadable record(s)", file=sys.stderr)
    if arguments.output:
        with open(arguments.output, "w", encoding="utf-8", newline="") as out:
            _write(report, arguments, out)
    else:
        _write(report, arguments, sys.stdout)
    if laxer:
        print("idleguard audit: the recorded policy was laxer than expected", file=sys.stderr)
        return 1
    return 0


def _write(report: Report, arguments: argparse.Namespace, out: TextIO) -> None:
    if arguments.format == "html":
        render_html(report, out, tenant=arguments.tenant)
    else:
        render(report, arguments.format, out)
