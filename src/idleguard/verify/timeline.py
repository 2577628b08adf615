"""Time for `idleguard verify`: one interface every wait goes through, and the scheduler.

A probe is a generator: it makes its requests, then yields the moment (seconds since the
epoch, on the timeline) it wants to go on at. The [`Scheduler`][idleguard.verify.Scheduler]
runs every probe on one timeline, always resuming the one whose moment comes first, so
probes wait side by side and the run lasts as long as its longest probe, not their sum.

[`RealTime`][idleguard.verify.RealTime] sleeps; a test passes a timeline over the clock its
servers read instead ([`ClockTime`][idleguard.verify.ClockTime]), and hours pass at once.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Generator, Iterable
from typing import Generic, Protocol, TypeVar

__all__ = ["ClockTime", "Probe", "RealTime", "Scheduler", "Timeline"]

Result = TypeVar("Result")
#: A probe: yields the moments it waits for, returns its result.
Probe = Generator[float, None, Result]


class Timeline(Protocol):
    """Where `idleguard verify` reads the time and waits; the only place it does either."""

    def now(self) -> float:
        """The current time, in seconds since the epoch."""
        ...

    def wait_until(self, moment: float) -> None:
        """Return once `now()` has reached `moment` (at once if it has already)."""
        ...


class RealTime:
    """The wall clock: `wait_until` sleeps (`--wait real`).

    Time is read as the wall clock at the start plus the monotonic clock's progress since:
    a clock step during an hours-long run (NTP, a virtual machine resumed) would otherwise
    shorten or lengthen a measured wait by the step.
    """

    def __init__(self) -> None:
        self._wall = time.time()
        self._start = time.monotonic()

    def now(self) -> float:
        """The current time, in seconds since the epoch."""
        return self._wall + (time.monotonic() - self._start)

    def wait_until(self, moment: float) -> None:
        """Sleep until `moment`."""
        while (left := moment - self.now()) > 0:
            time.sleep(left)


class ClockTime:
    """A timeline over a settable clock that the deployment under test reads too.

    Args:
        clock: Called for the time (seconds since the epoch).
        advance: Moves `clock` forward by a number of seconds, e.g. a
            [`SettableClock`][idleguard.testing.SettableClock]'s `advance`, or a function
            that asks a test server's control endpoint to move its clock.
    """

    def __init__(self, clock: Callable[[], float], advance: Callable[[float], object]) -> None:
        self._clock = clock
        self._advance = advance

    def now(self) -> float:
        """The clock's time."""
        return self._clock()

    def wait_until(self, moment: float) -> None:
        """Move the clock to `moment` if it is behind."""
        behind = moment - self._clock()
        if behind > 0:
            self._advance(behind)


class Scheduler(Generic[Result]):
    """Runs probes side by side on one timeline, in the order of the moments they wait for.

    Args:
        timeline: Where time is read and waited for.
        on_wait: Called before each wait with the moment waited for and how many probes
            are still running (the progress display).
    """

    def __init__(
        self, timeline: Timeline, on_wait: Callable[[float, int], None] | None = None
    ) -> None:
        self.timeline = timeline
        self.on_wait = on_wait

    def run(self, probes: Iterable[Probe[Result]]) -> list[Result]:
        """Run every probe to its end; their results, in the order the probes were given."""
        results: dict[int, Result] = {}
        order = itertools.count()
        waiting: list[tuple[float, int, int, Probe[Result]]] = []
        start = self.timeline.now()
        for index, probe in enumerate(probes):
            heapq.heappush(waiting, (start, next(order), index, probe))
        while waiting:
            moment, _, index, probe = heapq.heappop(waiting)
            if self.on_wait is not None:
                self.on_wait(moment, len(waiting) + 1)
            self.timeline.wait_until(moment)
            try:
                wanted = next(probe)
            except StopIteration as finished:
                results[index] = finished.value
                continue
            # A probe asking for a moment already past goes on at once, after those due.
            heapq.heappush(waiting, (max(wanted, moment), next(order), index, probe))
        return [results[index] for index in sorted(results)]
