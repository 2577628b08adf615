"""What every `idleguard` subcommand shares: its errors, its parser, its configuration.

A subcommand is a module with `add_parser(commands)`, which adds its parser to the
subparsers and sets `run` (`arguments -> exit status`) as its default; see
`idleguard.cli.COMMANDS`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import IO, Any, NoReturn

from ..audit import printable
from ..errors import ConfigError
from ..operations import Configuration, from_environment, from_file

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Parser",
    "UsageError",
    "add_configuration_arguments",
    "duration",
    "moment",
    "read_configuration",
    "table",
    "write_json",
]

EXIT_OK = 0
#: The command ran and found a problem: a store that did not answer, a check that failed.
EXIT_FAILED = 1
#: The command could not run as asked: bad arguments, a configuration it cannot use.
EXIT_USAGE = 2


class UsageError(Exception):
    """A mistake in the command line or the configuration: shown as one line, exit 2."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose refusals are one line, raised rather than exiting."""

    def error(self, message: str) -> NoReturn:
        # argparse would print the whole usage and exit; one line says it, and the
        # caller (main, or a test) decides what an error means.
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def add_configuration_arguments(parser: argparse.ArgumentParser) -> None:
    """`--config`: where the middleware's settings come from (default: the environment)."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="the middleware's settings in a TOML or JSON file (default: IDLEGUARD_* "
        "environment variables)",
    )


def read_configuration(arguments: argparse.Namespace) -> Configuration:
    """The configuration `--config` names, or the environment's.

    Raises:
        UsageError: The file cannot be read or parsed.
    """
    if arguments.config is None:
        return from_environment()
    try:
        return from_file(arguments.config)
    except ConfigError as error:
        raise UsageError(f"{arguments.prog}: {error}") from None


def moment(at: float) -> str:
    """A time as ISO 8601 in UTC, to the second (`2026-07-01T09:30:00Z`)."""
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(seconds: float | None) -> str:
    """Seconds as a reader says them: `45s`, `14m 52s`, `3h 59m`; `-` for none."""
    if seconds is None:
        return "-"
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], out: IO[str]) -> None:
    """Columns aligned under their headers; every cell shown with `printable`.

    Subjects and tenants come from requests: a newline or an escape sequence in one
    must not start a line of its own or drive the terminal.
    """
    cells = [[printable("" if cell is None else str(cell)) for cell in row] for row in rows]
    widths = [
        max([len(header), *(len(row[index]) for row in cells)])
        for index, header in enumerate(headers)
    ]
    for row in [list(headers), *cells]:
        out.write(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
        out.write("\n")


def write_json(data: Any, out: IO[str] | None = None) -> None:
    """`data` as indented JSON and a newline (every control character escaped)."""
    stream = sys.stdout if out is None else out
    json.dump(data, stream, indent=2)
    stream.write("\n")
