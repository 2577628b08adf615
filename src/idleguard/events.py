"""Audit events: what happened to a session, in a form an auditor can keep.

An event never carries a session id or a credential: ``session`` is a keyed
hash of the store key, enough to follow one session through the log and
useless to anyone who wants to ride it.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import hmac
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timezone
from typing import Any

__all__ = ["SCHEMA_VERSION", "Event", "EventHook", "EventType", "session_tag"]

logger = logging.getLogger("idleguard")

#: Bumped when a field changes meaning or goes away; new fields do not bump it.
SCHEMA_VERSION = 1


class EventType(str, enum.Enum):
    """The kinds of event. The value is the ``type`` written to the log."""

    SESSION_STARTED = "session_started"
    SESSION_ENDED = "session_ended"
    SESSION_EXPIRED_INACTIVITY = "session_expired_inactivity"
    SESSION_EXPIRED_ABSOLUTE = "session_expired_absolute"
    SESSION_EXTENDED = "session_extended"
    SESSION_REVOKED = "session_revoked"
    STEP_UP_REQUIRED = "step_up_required"
    REAUTHENTICATED = "reauthenticated"
    INACTIVITY_TIMEOUT_UPDATED = "inactivity_timeout_updated"
    STORE_UNAVAILABLE = "store_unavailable"

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """One audit record.

    ``at`` is seconds since the epoch from the guard's clock; ``session`` the
    keyed hash of the session (``None`` when there is none); ``reason`` why a
    session ended; ``policy`` the limits in force (seconds).
    """

    type: EventType
    at: float
    session: str | None = None
    subject: str | None = None
    tenant: str | None = None
    reason: str | None = None
    path: str | None = None
    method: str | None = None
    idle_seconds: float | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    policy: dict[str, float | None] | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``at`` as ISO 8601 in UTC, ``type`` as its string."""
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        data["type"] = self.type.value
        data["at"] = datetime.fromtimestamp(self.at, timezone.utc).isoformat()
        data["version"] = SCHEMA_VERSION
        return data


#: A hook receives each event; it may be sync or async.
EventHook = Callable[[Event], Awaitable[None] | None]


def session_tag(tag_key: bytes, store_key: str) -> str:
    """A short keyed hash that names a session in events without revealing it."""
    return hmac.new(tag_key, store_key.encode("ascii"), hashlib.sha256).hexdigest()[:20]


def emit_sync(hooks: Sequence[EventHook], events: Sequence[Event]) -> None:
    """Deliver events from sync code; an async hook is run to completion here."""
    for event in events:
        for hook in hooks:
            try:
                result = hook(event)
                if inspect.isawaitable(result):
                    _run_awaitable(result)
            except Exception:
                # An audit hook that fails must not fail the user's request.
                logger.exception("idleguard event hook failed for %s", event.type.value)


async def emit_async(hooks: Sequence[EventHook], events: Sequence[Event]) -> None:
    """Deliver events from async code, awaiting async hooks."""
    for event in events:
        for hook in hooks:
            try:
                result = hook(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("idleguard event hook failed for %s", event.type.value)


def _run_awaitable(awaitable: Awaitable[None]) -> None:
    import asyncio

    async def wait() -> None:
        await awaitable

    asyncio.run(wait())
