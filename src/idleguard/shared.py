"""A middleware's settings from its keyword arguments: checked by name, shared, refusals logged.

Every adapter builds its `Settings` here, so a misspelt keyword is refused in one way
(`IdleGuard(idle_timout=...): unknown idleguard setting; did you mean idle_timeout?`)
and a refusal is logged in one way. The log matters because Starlette builds the
middleware it was given with `app.add_middleware` only when the first ASGI message
arrives: under uvicorn's default `--lifespan auto` that message is the lifespan
startup, whose error uvicorn reports as "ASGI 'lifespan' protocol appears unsupported"
alone, and then every request answers `500`. Logged at ERROR on the `idleguard`
logger, the message itself reaches the server's output at start-up.

Litestar builds a middleware instance per route handler from one
`DefineMiddleware(IdleGuard, ...)`: without sharing, each would get its own
memory store and policy engine, and a user signed in through one route would
be unknown to the next. The instances it builds receive the very same option
objects, so their identities say they belong together.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

from .errors import ConfigError
from .options import Configured, keywords
from .settings import Settings

__all__ = ["keyword_settings", "shared_settings"]

logger = logging.getLogger("idleguard")

_shared: weakref.WeakValueDictionary[tuple[Any, ...], Settings] = weakref.WeakValueDictionary()
_lock = threading.Lock()
#: Frameworks known to build one middleware instance per route from one definition.
_PER_ROUTE_FRAMEWORKS = ("litestar",)


def keyword_settings(options: dict[str, Any], middleware: str) -> Settings:
    """Settings from a middleware's keyword arguments; a refusal is logged, then raised.

    Args:
        options: The keyword arguments, as `Settings` takes them.
        middleware: How the user called it, for messages (`IdleGuard`).

    Returns:
        The settings.

    Raises:
        ConfigError: A keyword names no setting (the message names the closest), or a
            value is refused.
        TypeError: A value of the wrong type.
        ImportError: The store's driver is not installed (the message names the extra).
    """
    try:
        configured = Configured().read(options, keywords(middleware))
        # One source, spelt as the settings are: a refusal names the keyword already.
        configured.origins.clear()
        return configured.build(Settings)
    except ConfigError as error:
        logger.error("idleguard cannot start: %s", error)
        raise
    except (TypeError, ImportError) as error:
        logger.error("idleguard cannot start: %s: %s", type(error).__name__, error)
        raise


def shared_settings(app: Any, options: dict[str, Any], middleware: str = "IdleGuard") -> Settings:
    """The settings for a middleware wrapping `app`, shared where the framework builds many."""
    # A route handler may be a function or an object: its own module, else its class's.
    module = getattr(app, "__module__", None) or type(app).__module__ or ""
    if not module.startswith(_PER_ROUTE_FRAMEWORKS):
        return keyword_settings(options, middleware)
    fingerprint = tuple(sorted((name, id(value)) for name, value in options.items()))
    with _lock:
        settings = _shared.get(fingerprint)
        if settings is None:
            settings = _shared[fingerprint] = keyword_settings(options, middleware)
        return settings
