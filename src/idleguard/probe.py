"""One harmless call to a store, timed: whether it answers before a request needs it.

`idleguard check` makes it and reports the answer; the middleware makes it when it is
built with `check_store_at_start=True` and refuses to start on a failure. Both say what
the driver said, with credentials redacted as the audit trail would keep them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from .audit import Redactor
from .errors import StoreUnavailable
from .stores import Store

__all__ = ["PROBE_SUBJECT", "StoreProbe", "probe", "redacted"]

#: The subject whose sessions the probe asks for: a read that finds nothing and changes nothing.
PROBE_SUBJECT = "idleguard-check:probe"
# Store URLs and driver messages may carry credentials (redis://:password@host): they are
# shown as the audit trail would keep them.
_REDACTOR = Redactor()


def redacted(text: str) -> str:
    """`text` with credentials replaced, as the audit trail would keep it."""
    return _REDACTOR.text(text)


@dataclasses.dataclass(frozen=True, slots=True)
class StoreProbe:
    """What one call to the store showed.

    Attributes:
        store: The store's class name (`RedisStore`).
        location: Where it is: its URL with any credentials replaced by `[REDACTED]`, or
            empty for a store object.
        ok: Whether it answered.
        seconds: How long the call took, connecting included.
        error: The driver's message when it did not answer.
    """

    store: str
    location: str
    ok: bool
    seconds: float
    error: str | None = None

    def describe(self) -> str:
        """The store as a message names it: `RedisStore at redis://127.0.0.1:1/0`."""
        return f"{self.store} at {self.location}" if self.location else self.store


def probe(
    store: Store, location: str = "", *, clock: Callable[[], float] = time.time
) -> StoreProbe:
    """Make one harmless call to `store` and time it.

    The call lists the sessions of `PROBE_SUBJECT`: a read by the subject index that
    every store has, which finds nothing. A SQL store whose table is missing creates it
    first, as the middleware's first request would (unless `create_table=False`).

    Args:
        store: The store to reach.
        location: Its URL, for the report (credentials are redacted here).
        clock: The time passed to the store (seconds since the epoch).

    Returns:
        Whether it answered, how fast, and the driver's message if it did not.
    """
    name = type(store).__name__
    started = time.perf_counter()
    try:
        store.sessions_of(PROBE_SUBJECT, clock())
    except StoreUnavailable as error:
        elapsed = time.perf_counter() - started
        return StoreProbe(name, redacted(location), False, elapsed, redacted(str(error)))
    return StoreProbe(name, redacted(location), True, time.perf_counter() - started)
