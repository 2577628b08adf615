"""Audit events: what happened to a session, in a form an auditor can keep.

An event never carries a session id or a credential: `session` is a keyed
hash of the store key, enough to follow one session through the log and
useless to anyone who wants to ride it.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import hmac
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

__all__ = ["SCHEMA_VERSION", "Event", "EventHook", "EventType", "session_tag"]

logger = logging.getLogger("idleguard")

#: The `version` written with every event. Bumped when a field changes meaning or
#: goes away; a new field does not bump it (readers ignore keys they do not know).
SCHEMA_VERSION = 1


class EventType(str, enum.Enum):
    """The kinds of event. The value is the `type` written to the log.

    `docs/audit.md` says when each one is recorded and what it carries.
    """

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
    """One audit record (schema version `SCHEMA_VERSION`).

    Attributes:
        type: What happened.
        at: When, in seconds since the epoch from the guard's clock; ISO 8601 in
            UTC in the JSON form.
        session: A keyed hash of the session (`None` when there is none); never
            the id or the credential.
        subject: Whom the session belongs to, as the app passed it to
            [`begin`][idleguard.begin].
        tenant: The session's tenant, as the app passed it to
            [`begin`][idleguard.begin].
        reason: Why a session ended (`idle`, `absolute`, `signed_out`,
            `revoked`, `idp_logout`, ...).
        path: The path of the request that saw it happen (normalized).
        method: The method of that request.
        idle_seconds: Seconds since the last recorded activity, for an expiry.
        client_ip: The client's address: the peer, or, when the peer is one of
            `trusted_proxies`, the `X-Forwarded-For` entry that proxy vouches
            for (never a value a client could simply claim).
        user_agent: The request's `User-Agent` header.
        policy: The limits in force, in seconds (`idle_timeout`,
            `absolute_timeout`, ...).
        metadata: Anything else: `actor`, `old` and `new` for a timeout change,
            the error class for a store failure.
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
        """The JSON form: `at` as ISO 8601 in UTC, `type` as its string."""
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        data["type"] = self.type.value
        data["at"] = datetime.fromtimestamp(self.at, timezone.utc).isoformat()
        data["version"] = SCHEMA_VERSION
        return data

    def to_json(self) -> str:
        """One line of JSON (no newline inside), keys in schema order."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"), default=str)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        """Read the JSON form back (what a log or table holds).

        Unknown keys, written by a newer version, are ignored.

        Args:
            data: One event's JSON object, as [`to_dict`][idleguard.Event.to_dict]
                wrote it.

        Returns:
            The event.

        Raises:
            ValueError: The record is not an event of a known type.
        """
        try:
            kind = EventType(data["type"])
            at = _parse_time(data["at"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not an idleguard event: {error}") from None
        known = {field.name for field in dataclasses.fields(cls)} - {"type", "at"}
        values = {name: data[name] for name in known if data.get(name) is not None}
        if not isinstance(values.get("metadata", {}), dict):
            raise ValueError("not an idleguard event: metadata is not an object")
        return cls(type=kind, at=at, **values)


def _parse_time(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


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
