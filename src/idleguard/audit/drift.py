"""Drift over time: the periods in which the policy the events recorded was not the expected one.

Every event about a session records the limits that session lived under, and every runtime
change records the limits it set. Read in order, per tenant, they show when the limits in
force left the expected ones and when they came back. A period is *laxer* when a limit was
longer than expected (or off), which is what an assessor must see; *stricter* when a limit
was only shorter (a user's own shorter choice, say), shown so nothing is hidden.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from ..events import Event

__all__ = ["DriftPeriod", "ExpectedLimits", "drift_periods"]

NO_TENANT = "(none)"
_LIMITS = ("idle_timeout", "absolute_timeout")


@dataclasses.dataclass(frozen=True, slots=True)
class ExpectedLimits:
    """The limits the policy should have, in seconds.

    Attributes:
        idle_timeout: The expected idle limit; `None`: not checked.
        absolute_timeout: The expected absolute limit; `None`: not checked.
        tolerance: Seconds a recorded limit may differ and still count as the expected one.
    """

    idle_timeout: float | None
    absolute_timeout: float | None
    tolerance: float = 0.0

    def compare(self, policy: dict[str, Any]) -> str | None:
        """`laxer`, `stricter`, or `None` when `policy` has the expected limits."""
        laxer = stricter = False
        for name in _LIMITS:
            expected = getattr(self, name)
            if expected is None or name not in policy:
                continue
            recorded = policy[name]
            if recorded is None or not isinstance(recorded, (int, float)):
                laxer = True  # the limit was off, or unreadable: fail closed
            elif recorded > expected + self.tolerance:
                laxer = True
            elif recorded < expected - self.tolerance:
                stricter = True
        if laxer:
            return "laxer"
        return "stricter" if stricter else None


@dataclasses.dataclass
class DriftPeriod:
    """A stretch of time in which one tenant's recorded limits were not the expected ones.

    Attributes:
        tenant: The tenant (`(none)` for sessions without one).
        direction: `laxer` or `stricter`.
        since: The first event that recorded the limits (seconds since the epoch).
        until: The first event after it that recorded other limits; `None`: still so at the
            last event read.
        idle_timeout: The idle limit recorded (seconds; `None`: off).
        absolute_timeout: The absolute limit recorded.
        events: How many events recorded these limits.
    """

    tenant: str
    direction: str
    since: float
    until: float | None
    idle_timeout: float | None
    absolute_timeout: float | None
    events: int = 1


def drift_periods(
    events: Iterable[Event],
    expected: ExpectedLimits,
    since: float | None = None,
    until: float | None = None,
    tenant: str | None = None,
) -> list[DriftPeriod]:
    """The periods in `[since, until)` in which recorded limits left `expected`, oldest first.

    Events before `since` still say which limits were in force when the period began.
    `tenant` keeps one tenant only (`(none)` for sessions without one).
    """
    open_periods: dict[str, DriftPeriod] = {}
    found: list[DriftPeriod] = []
    for event in sorted(events, key=lambda event: event.at):
        if until is not None and event.at >= until:
            break
        name = event.tenant or NO_TENANT
        if (tenant is not None and name != tenant) or not event.policy:
            continue
        if event.subject is not None and event.metadata.get("scope") == "user":
            continue  # one user's own choice, within the tenant's bounds
        direction = expected.compare(event.policy)
        limits = (event.policy.get("idle_timeout"), event.policy.get("absolute_timeout"))
        current = open_periods.get(name)
        if current is not None and (
            direction is None or (current.idle_timeout, current.absolute_timeout) != limits
        ):
            current.until = event.at
            del open_periods[name]
            current = None
        if direction is None:
            continue
        if current is None:
            current = DriftPeriod(name, direction, event.at, None, limits[0], limits[1], events=0)
            open_periods[name] = current
            found.append(current)
        current.events += 1
    if since is not None:
        found = [period for period in found if period.until is None or period.until > since]
        for period in found:
            period.since = max(period.since, since)
    return found
