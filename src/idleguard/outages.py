"""Store outages in the log: at ERROR, once per burst per store, naming the driver's message."""

from __future__ import annotations

import logging
import time

from .audit import printable
from .settings import Settings

__all__ = ["report_outage"]

logger = logging.getLogger("idleguard")

#: Outages are logged at most once per this many seconds per store (one per burst).
OUTAGE_LOG_INTERVAL = 10.0
_last_outage_log: dict[int, float] = {}


def report_outage(settings: Settings, error: Exception) -> None:
    """Log a store outage at ERROR, once per burst, naming the store and the driver's message."""
    now = time.monotonic()
    store = settings.store
    if now - _last_outage_log.get(id(store), float("-inf")) < OUTAGE_LOG_INTERVAL:
        return
    _last_outage_log[id(store)] = now
    logger.error(
        "idleguard: the session store (%s) is unavailable: %s; requests with a session get %s",
        type(store).__name__,
        printable(str(error))[:300],
        "served unguarded (fail_open)" if settings.fail_open else "503",
    )
