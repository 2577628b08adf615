"""idleguard: server-enforced idle and absolute session timeouts for ASGI and WSGI apps."""

from __future__ import annotations

from .api import begin, current, end, reauthenticated
from .asgi import IdleGuard
from .context import SessionInfo
from .core import Decision, EndReason, SessionRecord, Verdict, decide
from .events import Event, EventType
from .flow import Reply
from .identity import AppCookie, BearerToken, SignedCookie
from .policy import Limits, Policy, PolicyError
from .wsgi import IdleGuardWSGI

__version__ = "0.1.0"

__all__ = [
    "AppCookie",
    "BearerToken",
    "Decision",
    "EndReason",
    "Event",
    "EventType",
    "IdleGuard",
    "IdleGuardWSGI",
    "Limits",
    "Policy",
    "PolicyError",
    "Reply",
    "SessionInfo",
    "SessionRecord",
    "SignedCookie",
    "Verdict",
    "__version__",
    "begin",
    "current",
    "decide",
    "end",
    "reauthenticated",
]
