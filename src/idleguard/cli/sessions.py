"""`idleguard sessions list` and `idleguard sessions revoke`: a subject's sessions.

```shell
idleguard sessions list --store redis://redis.internal:6379/0 --subject alice
idleguard sessions revoke --store redis://redis.internal:6379/0 --subject alice --dry-run
```
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from pathlib import Path
from typing import IO, Any

from ..audit import JsonLinesSink, Sink, printable
from ..errors import PolicyError
from ..operations import (
    Configuration,
    ConfigurationRefused,
    SessionRow,
    build_settings,
    list_sessions,
    revoke_sessions,
)
from ..policy import Policy
from ..settings import Settings
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_configuration_arguments,
    duration,
    moment,
    read_configuration,
    table,
    write_json,
)

__all__ = ["HEADERS", "add_parser", "write_rows"]

HEADERS = (
    "SESSION",
    "SUBJECT",
    "TENANT",
    "CREATED",
    "LAST ACTIVITY",
    "AUTHENTICATED",
    "IDLE LEFT",
    "ABSOLUTE LEFT",
)
#: What the events of a revocation say ended the sessions (`metadata["via"]`).
VIA = "idleguard sessions revoke"


def add_parser(commands: Any) -> None:
    """Add `sessions` and its actions to the `idleguard` subcommands."""
    sessions = commands.add_parser(
        "sessions",
        help="list or revoke a subject's sessions",
        description="A subject's sessions in the store the app uses.",
    )
    actions = sessions.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list",
        help="list a subject's live sessions",
        description="List the live sessions of one or more subjects: each session's tag (as "
        "the audit trail names it), tenant, times, and the time it has left.",
    )
    _add_common(listing)
    listing.add_argument(
        "--subject", required=True, action="append", help="whose sessions (repeat for more)"
    )
    listing.add_argument(
        "--policy",
        metavar="PRESET",
        help="measure the time left under this preset (e.g. pci-dss, 15m; default: the "
        "configuration's policy)",
    )
    listing.set_defaults(run=run_list, prog=listing.prog)
    revoke = actions.add_parser(
        "revoke",
        help="end every session of a subject",
        description="End every session of a subject (sign out everywhere): each one is ended "
        "in the store at once, and its next request is refused.",
    )
    _add_common(revoke)
    revoke.add_argument("--subject", required=True, help="whose sessions")
    revoke.add_argument(
        "--dry-run", action="store_true", help="show what would be ended; change nothing"
    )
    revoke.add_argument(
        "--events",
        metavar="FILE_OR_URL",
        help="append a session_revoked event per session to this JSON Lines file or SQL "
        "database (the app's audit trail); needs the app's secret_key",
    )
    revoke.add_argument("--actor", help="who is revoking, for the events (default: your login)")
    revoke.set_defaults(run=run_revoke, prog=revoke.prog)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        help="the app's store (default: the configuration's store, e.g. IDLEGUARD_STORE)",
    )
    add_configuration_arguments(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text")


def _settings(
    arguments: argparse.Namespace, configuration: Configuration, **overrides: Any
) -> Settings:
    """The app's settings, with the command line's store."""
    prog = arguments.prog
    if arguments.store is not None:
        overrides["store"] = arguments.store
    store = overrides.get("store", configuration.options.get("store"))
    if store is None:
        raise UsageError(
            f"{prog}: which store? Give --store URL, or set IDLEGUARD_STORE (store in --config)"
        )
    if isinstance(store, str) and (missing := _missing_database(store)) is not None:
        raise UsageError(f"{prog}: no SQLite database at {missing}")
    if not _tagged(configuration):
        overrides["secret_key"] = secrets.token_urlsafe(32)
    try:
        settings = build_settings(configuration, **overrides)
    except ConfigurationRefused as refused:
        more = len(refused.problems) - 1
        hint = f" (and {more} more: idleguard check lists them)" if more else ""
        raise UsageError(f"{prog}: {refused.problems[0]}{hint}") from None
    if isinstance(store, str) and store.startswith(("memory:", "cookie:")):
        kind = (
            "memory:// lives inside one process"
            if store.startswith("memory:")
            else "cookie:// keeps no sessions on the server"
        )
        print(f"{prog}: note: {kind}; this command finds nothing there", file=sys.stderr)
    return settings


def _missing_database(url: str) -> str | None:
    """The file a `sqlite:///` URL names, when it does not exist.

    SQLite would create it, and the store its table: a mistyped path would read as a store
    with no sessions, and leave an empty database behind.
    """
    scheme, _, rest = url.partition(":///")
    if not scheme.lower().startswith("sqlite") or not rest:
        return None
    path = rest.split("?", 1)[0]
    if path == ":memory:" or Path(path).exists():
        return None
    return path


def _tagged(configuration: Configuration) -> bool:
    """Whether sessions are tagged as the app tags them: with the app's secret.

    Without it the tags are keyed by a secret of this run, and name its sessions only.
    """
    return configuration.options.get("secret_key") is not None


def _close(settings: Settings) -> None:
    settings.audit.close()
    settings.store.close()


def _as_json(row: SessionRow) -> dict[str, Any]:
    return {
        "session": row.session,
        "subject": row.subject,
        "tenant": row.tenant,
        "created_at": moment(row.created_at),
        "last_activity": moment(row.last_activity),
        "authenticated_at": moment(row.authenticated_at),
        "idle_remaining": row.idle_remaining,
        "absolute_remaining": row.absolute_remaining,
        "expired": row.expired,
    }


def write_rows(rows: list[SessionRow], out: IO[str]) -> None:
    """Sessions as a table under `HEADERS`, each cell escaped for the terminal."""
    table(
        HEADERS,
        [
            (
                row.session,
                row.subject,
                row.tenant or "",
                moment(row.created_at),
                moment(row.last_activity),
                moment(row.authenticated_at),
                f"expired ({row.expired})" if row.expired else duration(row.idle_remaining),
                "" if row.expired else duration(row.absolute_remaining),
            )
            for row in rows
        ],
        out,
    )


def _policy_words(policy: Policy) -> str:
    idle, absolute = policy.idle_timeout, policy.absolute_timeout
    return (
        f"idle {duration(idle) if idle is not None else 'off'}, "
        f"absolute {duration(absolute) if absolute is not None else 'off'}"
    )


def _untagged_note(prog: str) -> None:
    print(
        f"{prog}: note: no secret_key configured (IDLEGUARD_SECRET_KEY or --config): the "
        "SESSION tags name sessions in this listing only, not as the audit trail does",
        file=sys.stderr,
    )


def run_list(arguments: argparse.Namespace) -> int:
    """`idleguard sessions list`."""
    policy = None
    if arguments.policy is not None:
        try:
            policy = Policy.preset(arguments.policy)
        except PolicyError as error:
            raise UsageError(f"{arguments.prog}: --policy: {error}") from None
    configuration = read_configuration(arguments)
    tagged = _tagged(configuration)
    settings = _settings(arguments, configuration)
    try:
        now = settings.clock()
        rows = list_sessions(settings, arguments.subject, policy=policy, now=now)
        measured = policy if policy is not None else settings.policy
    finally:
        _close(settings)
    if rows and not tagged:
        _untagged_note(arguments.prog)
    if arguments.format == "json":
        write_json(
            {
                "store": type(settings.store).__name__,
                "subjects": arguments.subject,
                "at": moment(now),
                "policy": measured.as_dict(),
                "tags_match_audit_trail": tagged,
                "sessions": [_as_json(row) for row in rows],
            }
        )
        return EXIT_OK
    if rows:
        write_rows(rows, sys.stdout)
    print(f"{len(rows)} live session(s); time left under {_policy_words(measured)}")
    return EXIT_OK


def _events_sink(target: str) -> Sink:
    if "://" in target:
        from ..audit.sql import SqlSink  # SQLAlchemy is an extra: imported when asked for

        return SqlSink(target)
    return JsonLinesSink(target)


def _actor(arguments: argparse.Namespace) -> str:
    if arguments.actor:
        return str(arguments.actor)
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in this environment (a bare container)
        return "unknown"


def run_revoke(arguments: argparse.Namespace) -> int:
    """`idleguard sessions revoke`."""
    prog = arguments.prog
    configuration = read_configuration(arguments)
    tagged = _tagged(configuration)
    overrides: dict[str, Any] = {}
    if arguments.events is not None and not arguments.dry_run:
        if not tagged:
            raise UsageError(
                f"{prog}: --events needs the app's secret_key (IDLEGUARD_SECRET_KEY or "
                "--config), so that each event names its session as the app's events do"
            )
        try:
            overrides["on_event"] = _events_sink(arguments.events)
        except (OSError, ImportError, ValueError) as error:
            raise UsageError(f"{prog}: --events {arguments.events}: {error}") from None
    settings = _settings(arguments, configuration, **overrides)
    try:
        rows = revoke_sessions(
            settings,
            arguments.subject,
            actor=_actor(arguments),
            via=VIA,
            dry_run=arguments.dry_run,
        )
    finally:
        _close(settings)
    lost = settings.audit.reporter.total()
    if arguments.format == "json":
        write_json(
            {
                "subject": arguments.subject,
                "dry_run": arguments.dry_run,
                "revoked": 0 if arguments.dry_run else len(rows),
                "sessions": [_as_json(row) for row in rows],
                "events_lost": lost,
            }
        )
        return EXIT_FAILED if lost else EXIT_OK
    if rows:
        if not tagged:
            _untagged_note(prog)
        write_rows(rows, sys.stdout)
    verb = "would revoke" if arguments.dry_run else "revoked"
    tail = " (dry run: nothing was changed)" if arguments.dry_run else ""
    print(f"{verb} {len(rows)} session(s) of {printable(arguments.subject)}{tail}")
    if lost:
        # The sessions are over either way; what is missing is their record in the trail.
        print(f"{prog}: {lost} session_revoked event(s) could not be written", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
