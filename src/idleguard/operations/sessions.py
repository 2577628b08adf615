"""A subject's sessions as an operator sees them, ending them, and sweeping expired ones.

Each function takes the middleware's `idleguard.settings.Settings`, so a session
is named the way the audit trail names it (its keyed tag, never the store key or the
credential) and every session it ends is reported through the same `on_event` sinks,
redacted, as the middleware would report it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from ..core import EndReason, SessionRecord, Verdict, decide
from ..events import Event, EventType, emit_sync
from ..flow import Flow, drive_sync
from ..policy import Policy
from ..settings import Settings

__all__ = ["SessionRow", "list_sessions", "purge_expired", "revoke_sessions", "revoked_event"]


@dataclasses.dataclass(frozen=True, slots=True)
class SessionRow:
    """One live session, as an operator may see it. Times are seconds since the epoch.

    Attributes:
        session: The session's keyed tag, as events name it (never its id or store key).
        subject: Whose session it is.
        tenant: The tenant it was begun under, if any.
        created_at: When it began (sign-in).
        last_activity: The last activity the store recorded (it may lag by up to the
            policy's `touch_interval`).
        authenticated_at: When the user last proved who they are.
        idle_remaining: Seconds until the idle limit under the policy asked about;
            `None` when that limit is off or the session is past a limit.
        absolute_remaining: The same for the absolute limit.
        expired: `"idle"` or `"absolute"` for a session past that limit that no request
            or sweep has ended yet (the next one will); `"invalid"` for a record whose
            times cannot be believed; `None` for a session that is alive.
    """

    session: str
    subject: str | None
    tenant: str | None
    created_at: float
    last_activity: float
    authenticated_at: float
    idle_remaining: float | None
    absolute_remaining: float | None
    expired: str | None


def _row(
    settings: Settings, key: str, record: SessionRecord, policy: Policy, now: float
) -> SessionRow:
    # The middleware's own decision, for a passive look: it never counts as activity.
    decision = decide(record, policy.limits, False, now)
    expired = None
    if decision.verdict is not Verdict.ALLOW:
        expired = (decision.reason or EndReason.INVALID).value
    return SessionRow(
        session=settings.tag(key),
        subject=record.subject,
        tenant=record.tenant,
        created_at=record.created_at,
        last_activity=record.last_activity,
        authenticated_at=record.authenticated_at,
        idle_remaining=decision.idle_remaining,
        absolute_remaining=decision.absolute_remaining,
        expired=expired,
    )


def list_sessions(
    settings: Settings,
    subjects: Iterable[str],
    *,
    policy: Policy | None = None,
    now: float | None = None,
) -> list[SessionRow]:
    """The live sessions of each subject, oldest first.

    Args:
        settings: The middleware's settings: their store is read, their secret names sessions.
        subjects: Whose sessions to list.
        policy: The limits the remaining time is measured under; default the settings'
            default policy. A session under a tenant's or a user's own limits may end sooner
            or later than this says.
        now: The time to measure from (seconds since the epoch); default the settings' clock.

    Returns:
        One row per live session.

    Raises:
        StoreUnavailable: The store did not answer.
    """
    moment = settings.clock() if now is None else now
    limits = policy if policy is not None else settings.policy
    rows = [
        _row(settings, key, record, limits, moment)
        for subject in subjects
        for key, record in settings.store.sessions_of(subject, moment)
    ]
    return sorted(rows, key=lambda row: (row.created_at, row.session))


def revoked_event(
    settings: Settings, key: str, record: SessionRecord, now: float, *, actor: str, via: str
) -> Event:
    """The `session_revoked` event for a session an operator ended, outside any request.

    Args:
        settings: The middleware's settings (the tag key, the default policy).
        key: The session's store key; only its tag goes into the event.
        record: The session as it was before it ended.
        now: When it ended.
        actor: Who ended it, for the trail (`metadata["actor"]`).
        via: What ended it (`metadata["via"]`), e.g. `"idleguard sessions revoke"`.

    Returns:
        The event, not yet redacted (the audit trail redacts it on its way out).
    """
    return Event(
        type=EventType.SESSION_REVOKED,
        at=now,
        session=settings.tag(key),
        subject=record.subject,
        tenant=record.tenant,
        reason=EndReason.REVOKED.value,
        idle_seconds=now - record.last_activity,
        policy=settings.policy.as_dict(),
        metadata={"actor": actor, "via": via},
    )


def revoke_sessions(
    settings: Settings,
    subject: str,
    *,
    actor: str,
    via: str,
    dry_run: bool = False,
    now: float | None = None,
) -> list[SessionRow]:
    """End every session of `subject` ("sign out everywhere") and report each one.

    The store ends them with `idleguard.stores.Store.revoke_subject`, atomically each,
    so a request racing the revocation cannot keep its session; each ended session becomes a
    `session_revoked` event through the settings' `on_event` sinks, which are flushed
    before this returns.

    Args:
        settings: The middleware's settings.
        subject: Whose sessions to end.
        actor: Who asked, for the events.
        via: What asked, for the events.
        dry_run: List what would be ended, end nothing and report nothing.
        now: When (seconds since the epoch); default the settings' clock.

    Returns:
        The sessions ended (or, with `dry_run`, those that would be), as they were.

    Raises:
        StoreUnavailable: The store did not answer; some sessions may have ended already,
            and their events were sent.
    """
    moment = settings.clock() if now is None else now
    if dry_run:
        return list_sessions(settings, [subject], now=moment)
    ended = settings.store.revoke_subject(subject, moment)
    events = [
        revoked_event(settings, key, record, moment, actor=actor, via=via) for key, record in ended
    ]
    _deliver(settings, events)
    return sorted(
        (_row(settings, key, record, settings.policy, moment) for key, record in ended),
        key=lambda row: (row.created_at, row.session),
    )


def purge_expired(settings: Settings, *, now: float | None = None) -> list[Event]:
    """End every session past its deadline that no request has found, and report each one.

    The sweep of the request flow (what `idleguard.Sweeper` runs in an app), driven
    once: each expiry becomes a `session_expired_inactivity` or
    `session_expired_absolute` event with `metadata["discovered_by"] == "sweep"`, through
    the settings' `on_event` sinks, which are flushed before this returns.

    Args:
        settings: The middleware's settings.
        now: When (seconds since the epoch); default the settings' clock.

    Returns:
        The events, one per session ended.

    Raises:
        StoreUnavailable: The store did not answer.
    """
    moment = settings.clock() if now is None else now
    events: list[Event] = drive_sync(settings.store, Flow(settings).sweep(moment))
    _deliver(settings, events)
    return events


def _deliver(settings: Settings, events: list[Event]) -> None:
    if events and settings.hooks:
        emit_sync(settings.hooks, events)
    # A command exits soon after: what it reported must be written before it does. Flushed,
    # not closed: the sinks may be shared with a middleware in the same process.
    settings.audit.flush()
