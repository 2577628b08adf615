"""The audit events a request (or a sweep) produces, built in one place for every adapter.

Events name a session by its keyed tag (`Settings.tag`), never by its id
or store key, and carry the request's path, method, client address (as
`trusted_proxies` allow) and user agent; redaction happens in the audit trail.
"""

from __future__ import annotations

from typing import Any

from .context import PendingAction, SessionContext
from .core import Decision, EndReason, SessionRecord, Verdict
from .events import Event, EventType
from .facts import client_address
from .settings import Settings

__all__ = ["expiry_event", "provider_logout_event", "request_event", "swept_event"]


def request_event(
    kind: EventType,
    context: SessionContext,
    now: float,
    *,
    action: PendingAction | None = None,
    record: SessionRecord | None = None,
    reason: str | None = None,
    idle_seconds: float | None = None,
    metadata: dict[str, Any] | None = None,
) -> Event:
    """An event about the request of `context` (and the app's `action`, if it is about one)."""
    settings = context.settings
    key = action.key if action is not None else context.credential_key
    if action is not None and action.record is not None and record is None:
        record = action.record
    if record is None:
        record = context.record
    facts = context.facts
    return Event(
        type=kind,
        at=now,
        session=settings.tag(key) if key is not None else None,
        subject=record.subject if record is not None else None,
        tenant=record.tenant if record is not None else None,
        reason=reason,
        path=facts.path,
        method=facts.method,
        idle_seconds=idle_seconds,
        client_ip=client_address(facts, settings.proxy_trust),
        user_agent=facts.headers.get("user-agent"),
        policy=context.policy.as_dict(),
        metadata=metadata or {},
    )


def expiry_event(
    context: SessionContext, decision: Decision, record: SessionRecord | None, now: float
) -> Event:
    """`session_expired_inactivity` or `..._absolute` for a session this request ended."""
    kind = (
        EventType.SESSION_EXPIRED_ABSOLUTE
        if decision.verdict is Verdict.EXPIRED_ABSOLUTE
        else EventType.SESSION_EXPIRED_INACTIVITY
    )
    return request_event(
        kind,
        context,
        now,
        record=record,
        reason=(decision.reason or EndReason.IDLE).value,
        idle_seconds=now - record.last_activity if record is not None else None,
    )


def swept_event(
    settings: Settings, key: str, record: SessionRecord, reason: EndReason, now: float
) -> Event:
    """The expiry event for a session the sweep ended, outside any request."""
    return Event(
        type=EventType.SESSION_EXPIRED_ABSOLUTE
        if reason is EndReason.ABSOLUTE
        else EventType.SESSION_EXPIRED_INACTIVITY,
        at=now,
        session=settings.tag(key),
        subject=record.subject,
        tenant=record.tenant,
        reason=reason.value,
        idle_seconds=now - record.last_activity,
        policy=settings.policy.as_dict(),
        metadata={"discovered_by": "sweep"},
    )


def provider_logout_event(settings: Settings, key: str, record: SessionRecord, now: float) -> Event:
    """`session_ended` (`idp_logout`) for a session the identity provider signed out.

    No request of the user's saw it: the provider's back-channel call did, so
    the event names no path or client of the user's.
    """
    return Event(
        type=EventType.SESSION_ENDED,
        at=now,
        session=settings.tag(key),
        subject=record.subject,
        tenant=record.tenant,
        reason=EndReason.IDP_LOGOUT.value,
        policy=settings.policy.as_dict(),
        metadata={"ended_by": "identity_provider"},
    )
