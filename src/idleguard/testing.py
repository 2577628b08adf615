"""Helpers for testing an app that uses idleguard: a settable clock and an event collector.

clock = SettableClock()
events = EventCollector()
app = IdleGuard(app, clock=clock, on_event=events, ...)
clock.advance(31 * 60)
assert events.types() == ["session_started", "session_expired_inactivity"]
"""

from __future__ import annotations

import threading
from datetime import timedelta

from .events import Event

__all__ = ["EventCollector", "SettableClock"]


class SettableClock:
    """A clock that stands still until told to move. Call it for the time (epoch seconds)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float | timedelta) -> float:
        """Move forward (or backward, with a negative number); return the new time."""
        step = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
        with self._lock:
            self.now += step
            return self.now

    def set(self, now: float) -> None:
        with self._lock:
            self.now = float(now)


class EventCollector:
    """An ``on_event`` hook that keeps every event, thread-safe."""

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
        with self._lock:
            return [event for event in self.events if event.type.value == kind]

    def clear(self) -> None:
        with self._lock:
            self.events.clear()
