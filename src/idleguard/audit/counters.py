"""Counters an exporter can read: expired sessions by reason, step-ups, store errors, lost events.

idleguard depends on no metrics library. It calls `increment(name, labels, amount)` on
whatever `counters=` object it is given; [`CounterSet`][idleguard.audit.CounterSet] is a
ready one that keeps the totals in memory for a Prometheus collector or an OpenTelemetry
observable counter to read (see `docs/audit.md`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Protocol

from ..events import Event, EventType

__all__ = ["CounterHook", "CounterSet", "count_event"]

#: Every event, by type.
EVENTS = "idleguard_events_total"
#: Sessions that ended, by reason (idle, absolute, signed_out, revoked, ...).
SESSIONS_ENDED = "idleguard_sessions_ended_total"
#: Requests refused until the user proves who they are again.
STEP_UPS = "idleguard_step_up_required_total"
#: Store calls that failed or timed out.
STORE_ERRORS = "idleguard_store_errors_total"
#: Events that never reached a sink, by sink and cause (queue_full, sink_failed).
EVENTS_LOST = "idleguard_audit_events_lost_total"

_ENDINGS = {
    EventType.SESSION_ENDED,
    EventType.SESSION_EXPIRED_INACTIVITY,
    EventType.SESSION_EXPIRED_ABSOLUTE,
    EventType.SESSION_REVOKED,
}


class CounterHook(Protocol):
    """What `counters=` must offer: add `amount` to counter `name` with `labels`."""

    def increment(self, name: str, labels: Mapping[str, str], amount: int = 1) -> None:
        """Add `amount` to one labelled counter.

        Args:
            name: The counter's name (`idleguard_sessions_ended_total`, ...).
            labels: Its labels (`{"reason": "idle"}`).
            amount: A count, never negative.
        """


def count_event(counters: CounterHook, event: Event) -> None:
    """Count one event: by type, and endings by reason, step-ups and store errors.

    Args:
        counters: Where to count.
        event: The event.
    """
    counters.increment(EVENTS, {"type": event.type.value})
    if event.type in _ENDINGS:
        counters.increment(SESSIONS_ENDED, {"reason": event.reason or "unknown"})
    elif event.type is EventType.STEP_UP_REQUIRED:
        counters.increment(STEP_UPS, {})
    elif event.type is EventType.STORE_UNAVAILABLE:
        counters.increment(STORE_ERRORS, {})


LabelKey = tuple[tuple[str, str], ...]


class CounterSet:
    """Monotonic counters in memory, thread-safe.

    Read them with [`samples`][idleguard.audit.CounterSet.samples].
    """

    def __init__(self) -> None:
        self._values: dict[tuple[str, LabelKey], int] = {}
        self._lock = threading.Lock()

    def increment(self, name: str, labels: Mapping[str, str], amount: int = 1) -> None:
        """Add `amount` to counter `name` with `labels`.

        Args:
            name: The counter's name.
            labels: Its labels.
            amount: A count, never negative.
        """
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._values[key] = self._values.get(key, 0) + amount

    def value(self, name: str, **labels: str) -> int:
        """The current total of one labelled counter.

        Args:
            name: The counter's name.
            **labels: Its labels.

        Returns:
            The total; 0 if never moved.
        """
        with self._lock:
            return self._values.get((name, tuple(sorted(labels.items()))), 0)

    def samples(self) -> list[tuple[str, dict[str, str], int]]:
        """Every counter, sorted, for an exporter to publish.

        Returns:
            `(name, labels, total)` for each labelled counter.
        """
        with self._lock:
            items = sorted(self._values.items())
        return [(name, dict(labels), total) for (name, labels), total in items]
