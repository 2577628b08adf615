"""idleguard: server-enforced idle and absolute session timeouts for ASGI and WSGI apps."""

from __future__ import annotations

from .api import begin, current, end, explain, policies, reauthenticated
from .asgi import IdleGuard
from .context import SessionInfo
from .core import EndReason
from .endpoints import client_script_url
from .engine import PolicyEngine
from .errors import ConfigError, PolicyError, StoreUnavailable
from .events import Event, EventType
from .identity import AppCookie, BearerToken, SignedCookie
from .messages import describe_duration, describe_end
from .policy import Policy
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
    "ConfigError",
    "DeviceRule",
    "EndReason",
    "Event",
    "EventType",
    "IdleGuard",
    "IdleGuardWSGI",
    "PathRule",
    "Policy",
    "PolicyEngine",
    "PolicyError",
    "Reply",
    "Resolution",
    "SessionInfo",
    "SignedCookie",
    "StoreUnavailable",
    "Sweeper",
    "TenantPolicy",
    "UserChoice",
    "__version__",
    "begin",
    "client_script_url",
    "current",
    "describe_duration",
    "describe_end",
    "end",
    "explain",
    "policies",
    "reauthenticated",
]

#: What store authors need lives in `idleguard.stores`; these names were here before.
_MOVED_TO_STORES = ("Decision", "Limits", "SessionRecord", "Verdict", "decide")


def __getattr__(name: str) -> object:
    if name in _MOVED_TO_STORES:
        import warnings

        from . import stores

        warnings.warn(
            f"idleguard.{name} is for store authors and moved to idleguard.stores.{name}; "
            "the old name will be removed in 0.3",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(stores, name)
    raise AttributeError(f"module 'idleguard' has no attribute {name!r}")
