"""Whether a configuration would start the middleware, and whether its store answers.

What `idleguard check` and `manage.py idleguard check` report: every problem the
configuration has, with the message the application would stop with; then one harmless
call to the store (listing the sessions of a subject no app has), how long it took, and the
driver's own message when it failed. Nothing here prints; the commands do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from ..probe import PROBE_SUBJECT, StoreProbe, probe, redacted
from ..settings import Settings
from ..stores import MemoryStore, from_url
from .configuration import Configuration, ConfigurationRefused, build_settings

__all__ = [
    "PROBE_SUBJECT",
    "CheckResult",
    "StoreProbe",
    "check",
    "check_built",
    "probe",
    "redacted",
]


@dataclasses.dataclass
class CheckResult:
    """A configuration's check.

    Attributes:
        source: Where the configuration came from.
        problems: Each thing that would stop the middleware from starting, one line each
            (the store's answer is in `store`).
        notes: Things worth knowing that would not (`fail_open` is on, ...).
        settings: What the built settings say (`Settings.describe`), when they built.
        store: The store's probe, when a store could be built.
    """

    source: str
    problems: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    settings: dict[str, Any] | None = None
    store: StoreProbe | None = None

    @property
    def ok(self) -> bool:
        """True when the middleware would start and its store answered."""
        return not self.problems and self.store is not None and self.store.ok


def _notes(settings: Settings) -> list[str]:
    notes = []
    if isinstance(settings.store, MemoryStore):
        notes.append(
            "the memory:// store keeps sessions inside one process: every worker has its own, "
            "and a sign-out in one is not seen by the others"
        )
    if not settings.https_only:
        notes.append("https_only is off: cookies also travel over plain HTTP (development only)")
    if settings.fail_open:
        notes.append("fail_open is on: while the store is down, requests are served unguarded")
    return notes


def check_built(
    build: Callable[[], Settings],
    source: str,
    location: str = "",
    *,
    problems: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> CheckResult:
    """Check the settings `build` makes (as the middleware or an integration makes them).

    When they do not build (or `problems` were found before), but the store's URL does,
    the store is still reached on its own, so one run shows every problem there is.

    Args:
        build: Makes the settings; its `ValueError`, `TypeError` or
            `ImportError` is a problem of the configuration.
        source: Where the configuration comes from, for the report.
        location: The store's URL, for the report and for reaching it on its own.
        problems: Problems found before building; `build` is then not called.
        notes: Notes found before building.

    Returns:
        The result; `CheckResult.ok` says whether all is well.
    """
    result = CheckResult(source, list(problems), list(notes))
    if not result.problems:
        try:
            settings = build()
        except ConfigurationRefused as refused:
            result.problems.extend(refused.problems)
        except (ValueError, TypeError, ImportError) as error:
            result.problems.append(str(error))
        else:
            result.notes.extend(_notes(settings))
            result.settings = settings.describe()
            try:
                result.store = probe(settings.store, location, clock=settings.clock)
            finally:
                if location:  # built here from its URL; a store object may be the app's own
                    settings.store.close()
            return result
    if location and not location.startswith(("memory:", "cookie:")):
        try:
            store = from_url(location)
        except (ValueError, TypeError, ImportError) as error:
            # The same refusal, perhaps already reported with where the URL was written.
            if not any(problem.endswith(str(error)) for problem in result.problems):
                result.problems.append(str(error))
            return result
        try:
            result.store = probe(store, location)
        finally:
            store.close()
    return result


def check(configuration: Configuration, **overrides: Any) -> CheckResult:
    """Check a configuration read from the environment or a file, and reach its store.

    The settings are built by the middleware itself (`build_settings`).

    Args:
        configuration: What was read.
        **overrides: Settings that replace what was read (`store` from the command line).

    Returns:
        The result; `CheckResult.ok` says whether all is well.
    """
    store_setting = overrides.get("store", configuration.options.get("store", "memory://"))
    return check_built(
        # The check reaches the store itself, and reports its answer beside the problems.
        lambda: build_settings(configuration, **{"check_store_at_start": False, **overrides}),
        configuration.source,
        store_setting if isinstance(store_setting, str) else "",
        problems=configuration.problems,
        notes=configuration.notes,
    )
