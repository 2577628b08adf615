"""The organisation's audit log: the guard's events, kept in memory, shown in words.

:class:`AuditLog` is an ``on_event`` sink. The middleware redacts every event
before a sink sees it, and a plain callable is called on the request thread,
so the page shows an event as soon as the request that caused it is answered.
The same events, as JSON Lines, are what ``idleguard audit`` reads; the
report page is that command's text report.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from idleguard import Event, EventType
from idleguard.audit.report import build_report, render

from ..session_end import in_words

__all__ = ["AuditLog", "Entry"]

WHAT = {
    EventType.SESSION_STARTED: "Signed in",
    EventType.SESSION_ENDED: "Signed out",
    EventType.SESSION_EXTENDED: "Chose to stay signed in",
    EventType.SESSION_EXPIRED_INACTIVITY: "Signed out for inactivity",
    EventType.SESSION_EXPIRED_ABSOLUTE: "Session expired",
    EventType.SESSION_REVOKED: "Session revoked",
    EventType.STEP_UP_REQUIRED: "Asked to confirm identity",
    EventType.REAUTHENTICATED: "Confirmed identity",
    EventType.INACTIVITY_TIMEOUT_UPDATED: "Inactivity timeout changed",
    EventType.STORE_UNAVAILABLE: "Session store unavailable",
}
WHY = {
    "idle": "No activity",
    "absolute": "Session expiration reached",
    "signed_out": "Signed out",
    "revoked": "Revoked",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """One row of the audit page."""

    at: str
    what: str
    type: str
    user: str
    actor: str
    reason: str
    details: str


def _limit(value: Any) -> str:
    if value is None:
        return "off"
    if value == "never":
        return "never"
    return in_words(float(value))


def _setting(value: Any, key: str) -> str:
    # A change's old or new value: a policy as a dict, a user's choice as a dict, or nothing.
    if value is None:
        return "the organisation's setting" if key == "choice" else "the default"
    if key == "choice":
        return _limit(value.get("idle_timeout"))
    return _limit(value.get(key))


def _details(event: Event) -> str:
    metadata = event.metadata
    if event.type is EventType.INACTIVITY_TIMEOUT_UPDATED:
        old, new = metadata.get("old"), metadata.get("new")
        if metadata.get("scope") == "user":
            return f"Own choice: {_setting(old, 'choice')} → {_setting(new, 'choice')}"
        changes = [
            (label, _setting(old, key), _setting(new, key))
            for label, key in (
                ("Inactivity timeout", "idle_timeout"),
                ("session expiration", "absolute_timeout"),
            )
        ]
        shown = [change for change in changes if change[1] != change[2]] or changes
        return "; ".join(f"{label}: {before} → {after}" for label, before, after in shown)
    if event.type is EventType.SESSION_EXPIRED_INACTIVITY and event.idle_seconds is not None:
        return f"Inactive for {in_words(event.idle_seconds)}"
    if event.path and event.type is not EventType.SESSION_STARTED:
        return f"{event.method or ''} {event.path}".strip()
    return ""


def entry(event: Event) -> Entry:
    """An event as the audit page shows it."""
    if event.type is EventType.INACTIVITY_TIMEOUT_UPDATED:
        actor = str(event.metadata.get("actor") or "")
    elif event.type in (EventType.SESSION_EXPIRED_INACTIVITY, EventType.SESSION_EXPIRED_ABSOLUTE):
        actor = "the server"
    else:
        actor = event.subject or ""
    moment = datetime.fromtimestamp(event.at, timezone.utc)
    return Entry(
        at=moment.strftime("%Y-%m-%d %H:%M:%S UTC"),
        what=WHAT.get(event.type, event.type.value),
        type=event.type.value,
        user=event.subject or "",
        actor=actor,
        reason=WHY.get(event.reason or "", event.reason or ""),
        details=_details(event),
    )


class AuditLog:
    """An ``on_event`` sink keeping the latest ``size`` events of the whole app."""

    def __init__(self, size: int = 500) -> None:
        self._events: collections.deque[Event] = collections.deque(maxlen=size)
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)

    def events(self, tenant: str | None = None) -> list[Event]:
        """Oldest first; only ``tenant``'s when given."""
        with self._lock:
            events = list(self._events)
        return [event for event in events if tenant is None or event.tenant == tenant]

    def entries(self, tenant: str) -> Iterator[Entry]:
        """The tenant's events, newest first, in words."""
        for event in reversed(self.events(tenant)):
            yield entry(event)

    def policy_changes(self, tenant: str, limit: int = 3) -> list[Entry]:
        """The latest changes to the organisation's timeout, for the notification poll."""
        changes = [
            event
            for event in self.events(tenant)
            if event.type is EventType.INACTIVITY_TIMEOUT_UPDATED
            and event.metadata.get("scope") == "tenant"
        ]
        return [entry(event) for event in reversed(changes[-limit:])]

    def json_lines(self, tenant: str) -> str:
        """The tenant's events as JSON Lines: what ``idleguard audit FILE`` reads."""
        return "".join(event.to_json() + "\n" for event in self.events(tenant))

    def report(self, tenant: str) -> str:
        """The text report ``idleguard audit`` prints for these events."""
        out = io.StringIO()
        render(build_report(self.events(tenant)), "text", out)
        return out.getvalue()
