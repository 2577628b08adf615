"""The opt-in background sweep: expiries nobody came back to are still reported.

A session whose user never returns is only found to be over by the next
request with its cookie, which may never come. [`Sweeper`][idleguard.Sweeper] asks
the store every `interval` seconds for sessions past their deadline; each one
is ended and reported through the middleware's `on_event` exactly as a
request would have reported it (with `metadata["discovered_by"] == "sweep"`).

Every worker may run one: the store ends each session atomically, so each
expiry is still reported once.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from .events import Event
from .stores.base import StoreUnavailable

__all__ = ["Sweeper"]

logger = logging.getLogger("idleguard")


class _Guard(Protocol):
    def purge_expired(self) -> list[Event]: ...


class Sweeper:
    """Run `guard.purge_expired()` every `interval` seconds in a daemon thread.

    Each session it ends is reported through the middleware's `on_event`
    exactly as a request would have reported it (with
    `metadata["discovered_by"] == "sweep"`). Every worker may run one: the
    store ends each session atomically, so each expiry is still reported once.
    Use it as a context manager, or call `start` and `stop`.

    Args:
        guard: An [`IdleGuard`][idleguard.IdleGuard] or
            [`IdleGuardWSGI`][idleguard.IdleGuardWSGI].
        interval: Seconds between two sweeps.

    Raises:
        ValueError: `interval` is not a positive number of seconds.
    """

    def __init__(self, guard: _Guard, interval: float = 60.0) -> None:
        if interval <= 0:
            raise ValueError("interval must be a positive number of seconds")
        self.guard = guard
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[Event]:
        """One sweep now; a store that is down is logged and tried again next time.

        Returns:
            The events reported, one per session ended.
        """
        try:
            return self.guard.purge_expired()
        except StoreUnavailable as error:
            logger.warning("idleguard sweep skipped, store unavailable: %s", error)
            return []

    def start(self) -> None:
        """Start sweeping in a daemon thread (nothing happens if it already runs)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="idleguard-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sweeping, and wait for a sweep under way to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()

    def __enter__(self) -> Sweeper:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
