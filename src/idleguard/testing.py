"""Helpers for testing an app that uses idleguard: a settable clock and an event collector.

Examples:
    ```python
    clock = SettableClock()
    events = EventCollector()
    app = IdleGuard(app, clock=clock, on_event=events, ...)
    clock.advance(31 * 60)
    assert events.types() == ["session_started", "session_expired_inactivity"]
    ```
"""

from __future__ import annotations

import threading
from datetime import timedelta

from .events import Event

__all__ = ["EventCollector", "SettableClock"]


class SettableClock:
    """A clock that stands still until told to move. Call it for the time (epoch seconds).

    Args:
        start: The time it shows at first, in seconds since the epoch.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float | timedelta) -> float:
        """Move forward (or backward, with a negative number).

        Args:
            seconds: How far, in seconds or as a `datetime.timedelta`.

        Returns:
            The new time.
        """
        step = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
        with self._lock:
            self.now += step
            return self.now

    def set(self, now: float) -> None:
        """Jump to a time.

        Args:
            now: The new time, in seconds since the epoch.
        """
        with self._lock:
            self.now = float(now)


class EventCollector:
    """An `on_event` hook that keeps every event, thread-safe.

    Attributes:
        events: Every event received, in order.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def types(self) -> list[str]:
        """The event types in order, as strings."""
        with self._lock:
            return [event.type.value for event in self.events]

    def of_type(self, kind: str) -> list[Event]:
        """The events of one type, in order.

        Args:
            kind: The type as a string (`"session_started"`), or an
                [`EventType`][idleguard.EventType] (its value is a string).

        Returns:
            The events of that type.
        """
        with self._lock:
            return [event for event in self.events if event.type.value == kind]

    def clear(self) -> None:
        """Forget every event collected so far."""
        with self._lock:
            self.events.clear()
