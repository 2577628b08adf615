"""Session stores, chosen by URL.

`memory://` is the embedded default. Other backends register their URL
schemes here; their drivers are imported only when their URL is used, and a
missing driver fails with the pip extra that brings it.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from ..core import Decision, EndReason, Limits, SessionRecord, Verdict, decide
from ..errors import ConfigError
from .base import Check, Store, StoreUnavailable, deadline
from .memory import MemoryStore
from .redis_urls import SCHEMES as _REDIS_SCHEMES

# What a store author needs: the interface, the record, the decision and its inputs.
__all__ = [
    "Check",
    "Decision",
    "EndReason",
    "Limits",
    "MemoryStore",
    "SessionRecord",
    "Store",
    "StoreUnavailable",
    "Verdict",
    "deadline",
    "decide",
    "from_url",
    "register",
]

logger = logging.getLogger("idleguard")

#: scheme -> (module, class name, pip extra). Modules load lazily.
_SCHEMES: dict[str, tuple[str, str, str | None]] = {
    "memory": ("idleguard.stores.memory", "MemoryStore", None),
    "cookie": ("idleguard.stores.cookie", "CookieStore", None),
    **{scheme: ("idleguard.stores.redis", "RedisStore", "redis") for scheme in _REDIS_SCHEMES},
    **{
        scheme: ("idleguard.stores.sql", "SQLStore", "sql")
        for scheme in ("sqlite", "sqlite+pysqlite", "sqlite+aiosqlite")
    },
    **{
        scheme: ("idleguard.stores.sql", "SQLStore", "postgresql")
        for scheme in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+asyncpg")
    },
}


def register(scheme: str, module: str, class_name: str, extra: str | None = None) -> None:
    """Map a URL scheme to a store class in `module` (imported on first use).

    Args:
        scheme: The URL scheme, without `://`.
        module: The dotted name of the module that defines the class.
        class_name: The class's name in that module.
        extra: The pip extra that installs the store's driver, named in the
            error when it is missing.
    """
    _SCHEMES[scheme] = (module, class_name, extra)


def from_url(url: str, **options: Any) -> Store:
    """Build a store from a URL such as `memory://` or `redis://localhost:6379/0`.

    Args:
        url: The store's URL; its scheme chooses the class.
        **options: Passed to the store's constructor. Query-string parameters
            of a `memory://` URL are too (`memory://?maxsize=1000`); other
            stores read their own URL. `local_decisions=1` in a Redis URL (with
            `local_maxsize=` and `local_margin=`) decides live sessions in-process
            ([`LocalDecisions`][idleguard.stores.local.LocalDecisions]).

    Returns:
        The store.

    Raises:
        ConfigError: The scheme is unknown, or its class cannot be built from a
            URL.
        ImportError: The store's driver is not installed; the message names the
            pip extra that brings it.
    """
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise ConfigError(f"store URL cannot be read: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        known = ", ".join(sorted(f"{name}://" for name in _SCHEMES))
        raise ConfigError(f"unknown store URL scheme {scheme + '://'!r}; known: {known}")
    module_name, class_name, extra = _SCHEMES[scheme]
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        hint = f'pip install "idleguard[{extra}]"' if extra else "reinstall idleguard"
        # The package the user installs, not the submodule that failed first (redis.backoff).
        missing = (error.name or "").partition(".")[0]
        raise ImportError(
            f"the {scheme}:// store needs a driver that is not installed ({missing}): {hint}"
        ) from error
    store_class: type[Store] = getattr(module, class_name)
    if scheme == "memory":
        for name, value in parse_qsl(parts.query):
            options.setdefault(name, _number(value))
        return store_class(**options)
    from_url_method = getattr(store_class, "from_url", None)
    if from_url_method is None:
        raise ConfigError(f"{class_name} cannot be built from a URL")
    url, local = _local_decisions(url)
    store: Store = from_url_method(url, **options)
    if local is None:
        return store
    if not hasattr(store, "channel"):
        store.close()
        raise ConfigError(f"local_decisions=1: the {scheme}:// store announces no ends")
    if not getattr(store, "single_server", False):
        # The push connection is one subscriber on one server: a Cluster node or a
        # Sentinel-chosen primary can change under it, and that is not built yet.
        logger.warning(
            "idleguard: local_decisions=1 is for one Redis or Valkey server; on %s:// "
            "every request makes its one round trip to the store",
            scheme,
        )
        return store
    # Lazily, as every driver: local decisions need redis-py for their push connection.
    from .local import LocalDecisions

    return LocalDecisions(store, **local)


_LOCAL_OPTIONS = {"local_maxsize": ("maxsize", int), "local_margin": ("margin", float)}


def _local_decisions(url: str) -> tuple[str, dict[str, Any] | None]:
    """`url` without the local-decision options, and those options (`None`: off)."""
    base, _, query = url.partition("?")
    kept, local, on = [], {}, False
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name == "local_decisions":
            on = value.strip().lower() in {"1", "true", "yes", "on"}
        elif name in _LOCAL_OPTIONS:
            option, read = _LOCAL_OPTIONS[name]
            try:
                local[option] = read(value)
            except ValueError:
                raise ConfigError(f"{name}={value!r} is not a number") from None
        else:
            kept.append((name, value))
    if local and not on:
        raise ConfigError(f"{', '.join(sorted(_LOCAL_OPTIONS))} need local_decisions=1")
    if not query or (not on and not local and "local_decisions" not in query):
        return url, None
    rebuilt = base + ("?" + urlencode(kept) if kept else "")
    return rebuilt, local if on else None


def _number(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value
