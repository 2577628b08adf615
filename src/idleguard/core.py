"""The decision: a session record, the limits, the request and `now` in; a verdict out.

Nothing here does I/O or reads a clock, so every store can run the same
function inside its own lock or transaction, and the tests can check it
against a reference model over any sequence of requests and clock jumps.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = [
    "CLOCK_TOLERANCE",
    "NO_SESSION",
    "Decision",
    "EndReason",
    "Limits",
    "SessionRecord",
    "Verdict",
    "decide",
    "record_from_mapping",
    "tombstone",
    "touched",
]

#: A stored time further than this in the future of `now` is not trusted: it
#: was forged, corrupted or written by a server whose clock is badly wrong, and
#: believing it would stretch a deadline.
CLOCK_TOLERANCE = 300.0


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """The numbers a store needs to decide one request, all in seconds.

    Attributes:
        idle_timeout: Seconds without activity after which the session ends;
            `None` when the idle limit is off.
        absolute_timeout: Seconds after sign-in at which the session ends;
            `None` when the absolute limit is off.
        touch_interval: Seconds the stored last activity may lag before a
            request writes it again.
    """

    idle_timeout: float | None
    absolute_timeout: float | None
    touch_interval: float


class Verdict(enum.Enum):
    """What happens to the request."""

    ALLOW = "allow"
    """The session is alive."""
    EXPIRED_IDLE = "expired_idle"
    """The idle limit was reached just now: end the session and report it."""
    EXPIRED_ABSOLUTE = "expired_absolute"
    """The absolute limit was reached just now: end the session and report it."""
    ENDED = "ended"
    """The session ended earlier (a tombstone): refuse the credential, report nothing new."""
    NO_SESSION = "no_session"
    """The request carries no session idleguard knows."""


class EndReason(str, enum.Enum):
    """Why a session ended; the `reason` in responses, tombstones and events.

    Attributes:
        IDLE: The idle limit was reached.
        ABSOLUTE: The absolute limit was reached.
        SIGNED_OUT: The app or the user signed out.
        REVOKED: An operator or the app revoked the session.
        IDP_LOGOUT: The identity provider said the user signed out there
            (OpenID Connect back-channel logout).
        INVALID: The credential or the stored record could not be trusted
            (tampered, malformed, from a clock far in the future).
        UNKNOWN: An app credential idleguard has no record of: refused, never
            stored.
    """

    IDLE = "idle"
    ABSOLUTE = "absolute"
    SIGNED_OUT = "signed_out"
    REVOKED = "revoked"
    IDP_LOGOUT = "idp_logout"
    INVALID = "invalid"
    #: An app credential idleguard has no record of: refused, never stored.
    UNKNOWN = "unknown"


@dataclasses.dataclass(frozen=True, slots=True)
class SessionRecord:
    """What a store keeps for one session. Times are seconds since the epoch.

    Attributes:
        subject: Who signed in, or `None`.
        tenant: The session's tenant, or `None`.
        created_at: When the session began.
        last_activity: The last request that counted as activity (as last
            written: it may lag by up to the touch interval).
        authenticated_at: When the user last proved who they are.
        ended: Set on a tombstone: the session is over, and the record stays
            only so the same credential is refused instead of starting afresh.
    """

    subject: str | None
    tenant: str | None
    created_at: float
    last_activity: float
    authenticated_at: float
    ended: EndReason | None = None

    def to_mapping(self) -> dict[str, Any]:
        """JSON-shaped form (never pickled); short keys keep store records small."""
        data: dict[str, Any] = {
            "c": self.created_at,
            "l": self.last_activity,
            "a": self.authenticated_at,
        }
        if self.subject is not None:
            data["s"] = self.subject
        if self.tenant is not None:
            data["t"] = self.tenant
        if self.ended is not None:
            data["e"] = self.ended.value
        return data


def record_from_mapping(data: Mapping[str, Any]) -> SessionRecord:
    """Read a stored mapping back; anything malformed becomes an `invalid` tombstone.

    A corrupted record must never read as a live session with "now" filled in.

    Args:
        data: What [`SessionRecord.to_mapping`][idleguard.stores.SessionRecord.to_mapping]
            wrote, as read back from the store.

    Returns:
        The record, or a tombstone with `ended` set to `EndReason.INVALID`.
    """
    try:
        created = _finite(data["c"])
        last = _finite(data["l"])
        authenticated = _finite(data["a"])
        subject = data.get("s")
        tenant = data.get("t")
        if subject is not None and not isinstance(subject, str):
            raise TypeError("subject")
        if tenant is not None and not isinstance(tenant, str):
            raise TypeError("tenant")
        ended_raw = data.get("e")
        ended = EndReason(ended_raw) if ended_raw is not None else None
    except (KeyError, TypeError, ValueError):
        return SessionRecord(None, None, 0.0, 0.0, 0.0, EndReason.INVALID)
    return SessionRecord(subject, tenant, created, last, authenticated, ended)


def _finite(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("bool is not a time")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not finite")
    return number


class Decision(NamedTuple):
    """The answer for one request.

    A named tuple rather than a frozen dataclass: it is built on every
    request, and this is three times cheaper.

    Attributes:
        verdict: What happens to the request.
        touch: Whether the store must write `now` as the new last activity.
        idle_remaining: Seconds left before the idle limit; `None` when that
            limit is off or there is no live session.
        absolute_remaining: Seconds left before the absolute limit; `None` when
            that limit is off or there is no live session.
        reason: Why the session is over, when it is.
    """

    verdict: Verdict
    touch: bool = False
    idle_remaining: float | None = None
    absolute_remaining: float | None = None
    reason: EndReason | None = None

    @property
    def alive(self) -> bool:
        return self.verdict is Verdict.ALLOW

    @property
    def expired_now(self) -> bool:
        """The session ended on this request (the store must end it and an event is due)."""
        return self.verdict is Verdict.EXPIRED_IDLE or self.verdict is Verdict.EXPIRED_ABSOLUTE


NO_SESSION = Decision(Verdict.NO_SESSION)


def decide(record: SessionRecord | None, limits: Limits, activity: bool, now: float) -> Decision:
    """Decide one request.

    A session is over once `now` reaches a deadline (at exactly the limit it
    has expired). A clock that went backwards never moves a deadline later:
    remaining time is never more than the full limit, and a touch never writes
    a time earlier than the stored one.

    Args:
        record: The stored record of the request's session, or `None` when the
            store has none.
        limits: The limits the session lives under.
        activity: `False` for passive requests: they are checked and may expire
            the session, but they never extend it.
        now: The time of the request, in seconds since the epoch.

    Returns:
        The verdict, whether to touch, and the time left.
    """
    if record is None:
        return NO_SESSION
    if record.ended is not None:
        return Decision(Verdict.ENDED, False, None, None, record.ended)
    created = record.created_at
    last = record.last_activity
    horizon = now + CLOCK_TOLERANCE
    if created > horizon or last > horizon or record.authenticated_at > horizon or last < created:
        return _INVALID
    # Locals and positional arguments: this runs on every request.
    idle = limits.idle_timeout
    absolute = limits.absolute_timeout
    absolute_remaining = None
    if absolute is not None:
        absolute_remaining = created + absolute - now
        if absolute_remaining > absolute:
            absolute_remaining = absolute
    idle_remaining = None
    if idle is not None:
        idle_remaining = last + idle - now
        if idle_remaining > idle:
            idle_remaining = idle
        if idle_remaining <= 0:
            # Both passed: report the deadline that came first, the one with
            # the least (most negative) time remaining.
            if absolute_remaining is not None and absolute_remaining <= idle_remaining:
                return _EXPIRED_ABSOLUTE
            return _EXPIRED_IDLE
    if absolute_remaining is not None and absolute_remaining <= 0:
        return _EXPIRED_ABSOLUTE
    touch = activity and now - last >= limits.touch_interval
    if touch and idle is not None:
        idle_remaining = idle
    if (
        idle_remaining is not None
        and absolute_remaining is not None
        and idle_remaining > absolute_remaining
    ):
        # Activity never carries a session past its absolute deadline.
        idle_remaining = absolute_remaining
    return Decision(Verdict.ALLOW, touch, idle_remaining, absolute_remaining, None)


_INVALID = Decision(Verdict.ENDED, False, None, None, EndReason.INVALID)
_EXPIRED_IDLE = Decision(Verdict.EXPIRED_IDLE, False, None, None, EndReason.IDLE)
_EXPIRED_ABSOLUTE = Decision(Verdict.EXPIRED_ABSOLUTE, False, None, None, EndReason.ABSOLUTE)


def touched(record: SessionRecord, now: float) -> SessionRecord:
    """The record after a touch: last activity moves to `now` and never back."""
    if now <= record.last_activity:
        return record
    return dataclasses.replace(record, last_activity=now)


def tombstone(record: SessionRecord | None, reason: EndReason, now: float) -> SessionRecord:
    """The record that stays behind when a session ends."""
    if record is None:
        return SessionRecord(None, None, now, now, now, reason)
    return dataclasses.replace(record, ended=reason)
