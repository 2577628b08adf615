"""`manage.py idleguard`: sweep expired sessions, revoke a user's sessions, check the settings.

```shell
python manage.py idleguard purge
python manage.py idleguard revoke --subject 42
python manage.py idleguard revoke --username ann --dry-run
python manage.py idleguard check
```

Each reads `settings.IDLEGUARD` as the middleware does
(`idleguard.integrations.django.settings_from_django`), so it reaches the same store
and reports what it ends through the same `on_event` sinks, redacted. A subject is what
`login()` records: the user's primary key, as text.

Exit status: `0` done, `1` the store did not answer or the check found a problem,
`2` `settings.IDLEGUARD` cannot start the middleware (the message says why).
"""

from __future__ import annotations

import getpass
import io
from typing import Any

from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from .....audit import printable
from .....cli.check import render
from .....cli.sessions import write_rows
from .....errors import StoreUnavailable
from .....operations import check_built, purge_expired, revoke_sessions, unknown_names
from .....settings import Settings
from ... import DJANGO_SETTINGS, settings_from_django

__all__ = ["Command"]

#: What the events of a revocation say ended the sessions (`metadata["via"]`).
VIA = "manage.py idleguard revoke"
SOURCE = "settings.IDLEGUARD"
EXIT_FAILED = 1
EXIT_USAGE = 2


class Command(BaseCommand):
    """`manage.py idleguard purge | revoke | check`."""

    help = (
        "idleguard operations over settings.IDLEGUARD: purge (end and report sessions past "
        "their deadline), revoke (end every session of a user), check (validate the settings "
        "and reach the store)."
    )

    # The command refuses settings.IDLEGUARD itself, with exit status 2 and one line; the
    # system checks (which report the same) would stop it first with status 1.
    requires_system_checks = []  # noqa: RUF012 - Django's own attribute, read from the class

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        actions.add_parser(
            "purge",
            help="end every session past its deadline and report each through on_event",
        )
        revoke = actions.add_parser("revoke", help="end every session of one user")
        whose = revoke.add_mutually_exclusive_group(required=True)
        whose.add_argument("--subject", help="the user's subject: its primary key, as text")
        whose.add_argument("--username", help="the user, by user name")
        revoke.add_argument(
            "--dry-run", action="store_true", help="show what would be ended; change nothing"
        )
        revoke.add_argument("--actor", help="who is revoking, for the events (default: your login)")
        actions.add_parser("check", help="validate settings.IDLEGUARD and reach its store")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "check":
            self._check()
            return
        settings = _settings()
        try:
            if action == "purge":
                self._purge(settings)
            else:
                self._revoke(settings, options)
        except StoreUnavailable as error:
            raise CommandError(
                f"the store did not answer: {error}", returncode=EXIT_FAILED
            ) from None

    def _purge(self, settings: Settings) -> None:
        events = purge_expired(settings)
        reported = "each reported through on_event" if settings.hooks else "no on_event is set"
        self.stdout.write(f"ended {len(events)} session(s) past their deadline ({reported})")

    def _revoke(self, settings: Settings, options: dict[str, Any]) -> None:
        subject = options["subject"]
        if subject is None:
            subject = _subject_of(options["username"])
        rows = revoke_sessions(
            settings,
            subject,
            actor=options["actor"] or _login_name(),
            via=VIA,
            dry_run=options["dry_run"],
        )
        if rows:
            listing = io.StringIO()
            write_rows(rows, listing)
            self.stdout.write(listing.getvalue(), ending="")
        verb = "would revoke" if options["dry_run"] else "revoked"
        tail = " (dry run: nothing was changed)" if options["dry_run"] else ""
        self.stdout.write(f"{verb} {len(rows)} session(s) of subject {printable(subject)}{tail}")

    def _check(self) -> None:
        config = getattr(django_settings, "IDLEGUARD", {})
        store = config.get("store", "memory://") if isinstance(config, dict) else None
        result = check_built(
            # The check reaches the store itself, and reports its answer beside the problems.
            lambda: settings_from_django(check_store_at_start=False),
            SOURCE,
            store if isinstance(store, str) else "",
            # The middleware stops at the first unknown key; the check reports every one.
            problems=unknown_names(config, DJANGO_SETTINGS) if isinstance(config, dict) else (),
        )
        report = io.StringIO()
        render(result, report)
        self.stdout.write(report.getvalue(), ending="")
        if not result.ok:
            raise CommandError("the check found a problem", returncode=EXIT_FAILED)


def _settings() -> Settings:
    try:
        return settings_from_django()
    except (ValueError, TypeError, ImportError) as error:
        message = str(error)
        # Most refusals already say where they were written (settings.IDLEGUARD['store']).
        if not message.startswith("settings."):
            message = f"{SOURCE}: {message}"
        raise CommandError(message, returncode=EXIT_USAGE) from None


def _subject_of(username: str) -> str:
    user_model = get_user_model()
    try:
        user = user_model._default_manager.get_by_natural_key(username)
    except user_model.DoesNotExist:
        raise CommandError(f"no user {username!r}", returncode=EXIT_USAGE) from None
    # What the app's login() records as the subject (see begin_on_login).
    return str(user.pk)


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in this environment (a bare container)
        return "unknown"
