"""One configuration, one guard: settings shared by middleware instances built from the same options.

Litestar builds a middleware instance per route handler from one
`DefineMiddleware(IdleGuard, ...)`: without sharing, each would get its own
memory store and policy engine, and a user signed in through one route would
be unknown to the next. The instances it builds receive the very same option
objects, so their identities say they belong together.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from .settings import Settings

__all__ = ["shared_settings"]

_shared: weakref.WeakValueDictionary[tuple[Any, ...], Settings] = weakref.WeakValueDictionary()
_lock = threading.Lock()
#: Frameworks known to build one middleware instance per route from one definition.
_PER_ROUTE_FRAMEWORKS = ("litestar",)


def shared_settings(app: Any, options: dict[str, Any]) -> Settings:
    """The settings for a middleware wrapping `app`, shared where the framework builds many."""
    # A route handler may be a function or an object: its own module, else its class's.
    module = getattr(app, "__module__", None) or type(app).__module__ or ""
    if not module.startswith(_PER_ROUTE_FRAMEWORKS):
        return Settings(**options)
    fingerprint = tuple(sorted((name, id(value)) for name, value in options.items()))
    with _lock:
        settings = _shared.get(fingerprint)
        if settings is None:
            settings = _shared[fingerprint] = Settings(**options)
        return settings
