"""idleguard: server-enforced idle and absolute session timeouts for ASGI and WSGI apps."""

from __future__ import annotations

from .api import begin, current, end, explain, policies, reauthenticated
from .asgi import IdleGuard
from .context import SessionInfo
from .core import Decision, EndReason, SessionRecord, Verdict, decide
from .endpoints import client_script_url
from .engine import PolicyEngine
from .events import Event, EventType
from .identity import AppCookie, BearerToken, SignedCookie
from .messages import describe_duration, describe_end
from .policy import Limits, Policy, PolicyError
from .replies import Reply
from .resolution import Resolution
from .rules import DeviceRule, PathRule
from .sweeper import Sweeper
from .tenants import NEVER, TenantPolicy, UserChoice
from .wsgi import IdleGuardWSGI

__version__ = "0.1.0"

__all__ = [
    "NEVER",
    "AppCookie",
    "BearerToken",
    "Decision",
    "DeviceRule",
    "EndReason",
    "Event",
    "EventType",
    "IdleGuard",
    "IdleGuardWSGI",
    "Limits",
    "PathRule",
    "Policy",
    "PolicyEngine",
    "PolicyError",
    "Reply",
    "Resolution",
    "SessionInfo",
    "SessionRecord",
    "SignedCookie",
    "Sweeper",
    "TenantPolicy",
    "UserChoice",
    "Verdict",
    "__version__",
    "begin",
    "client_script_url",
    "current",
    "decide",
    "describe_duration",
    "describe_end",
    "end",
    "explain",
    "policies",
    "reauthenticated",
]
