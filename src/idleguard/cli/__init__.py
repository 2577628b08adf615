"""The `idleguard` command: `audit`, `sessions list`, `sessions revoke`, `check`, `verify`.

```shell
idleguard audit /var/log/app/sessions.jsonl --quarter 2026Q3 --format html -o q3.html
idleguard sessions list --store redis://redis.internal:6379/0 --subject alice
idleguard sessions revoke --store redis://redis.internal:6379/0 --subject alice
idleguard check --config idleguard.toml
idleguard verify https://app.example.com --preset pci-dss --login-url /login --check-path /api/me
```

Each subcommand is a module with `add_parser(commands)`, listed in `COMMANDS`;
its parser sets `run` (`arguments -> exit status`) and `prog` as defaults. A new
subcommand is one more module and one more entry. What the subcommands do is in
`idleguard.operations`; here they parse arguments and print.

Exit status: `0` done, `1` the command ran and something failed (a store that did not
answer, a check that found a problem, a report source that could not be read), `2` the
command could not run as asked (bad arguments, a configuration it cannot use). A user's
mistake is one line on standard error, never a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, Protocol

from .. import __version__
from ..audit import cli as audit
from ..errors import StoreUnavailable
from . import check, sessions, verify
from .common import EXIT_FAILED, EXIT_USAGE, Parser, UsageError

__all__ = ["COMMANDS", "Subcommand", "main", "parser"]


class Subcommand(Protocol):
    """A module that adds one subcommand (and its own subcommands) to `idleguard`."""

    def add_parser(self, commands: Any, /) -> Any: ...


#: The subcommands, in the order `idleguard --help` lists them.
COMMANDS: tuple[Subcommand, ...] = (audit, sessions, check, verify)


def parser() -> Parser:
    """The whole `idleguard` command line."""
    root = Parser(
        prog="idleguard",
        description="Operate idleguard: report on the audit trail, list and revoke sessions, "
        "check a configuration, verify what a deployment enforces.",
    )
    root.add_argument("--version", action="version", version=f"idleguard {__version__}")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `idleguard` command line; returns the exit status.

    Args:
        argv: The arguments after the program's name; default `sys.argv[1:]`.
    """
    try:
        arguments = parser().parse_args(argv)
        status: int = arguments.run(arguments)
    except UsageError as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE
    except StoreUnavailable as error:
        # Raised only by a subcommand's run, after its arguments parsed.
        print(f"{arguments.prog}: the store did not answer: {error}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        # The reader went away (`idleguard ... | head`): stop quietly, as other tools do,
        # and keep the interpreter from failing again when it flushes standard output.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    return status
