"""Timing: variants take turns in every round, each batch timed twice, medians and spread.

A variant that waits on a server is timed by the wall clock; one that only
computes is timed by the thread's CPU clock too, so another process on a busy
machine stealing the core does not land in its figure. Both figures are kept;
:attr:`Samples.figure` picks the fair one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

__all__ = ["Samples", "Variant", "interleaved", "looped"]


@dataclasses.dataclass
class Variant:
    """One thing to time: ``run(n)`` makes ``n`` requests.

    ``group`` is what it is compared with (``"asgi"``, ``"wsgi"``...);
    ``io`` says it waits on a server (then only the wall clock is fair);
    ``server`` names that server (``"redis"``, ``"postgresql"``) for the
    round-trip count; ``baseline`` marks the bare app of its group.
    """

    name: str
    group: str
    run: Callable[[int], None]
    io: bool = False
    server: str | None = None
    baseline: bool = False
    peer: bool = False
    notes: str = ""


@dataclasses.dataclass
class Samples:
    """µs per request of every batch, by both clocks."""

    variant: Variant
    wall: list[float] = dataclasses.field(default_factory=list)
    cpu: list[float] = dataclasses.field(default_factory=list)

    @property
    def values(self) -> list[float]:
        return self.wall if self.variant.io else self.cpu

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def spread(self) -> float:
        """Interquartile range, µs."""
        values = self.values
        if len(values) < 2:
            return 0.0
        low, _, high = statistics.quantiles(values, n=4)
        return high - low

    def median_by(self, wall: bool) -> float:
        return statistics.median(self.wall if wall else self.cpu)


def interleaved(
    variants: Iterable[Variant], rounds: int, per_batch: int, warmup: int | None = None
) -> dict[str, Samples]:
    """Warm every variant up, then time ``rounds`` batches of ``per_batch`` requests each.

    Every round runs every variant once, so a noisy moment hurts all alike.
    """
    chosen = list(variants)
    for variant in chosen:
        variant.run(per_batch if warmup is None else warmup)
    samples = {variant.name: Samples(variant) for variant in chosen}
    for _ in range(rounds):
        for variant in chosen:
            wall, cpu = time.perf_counter(), time.thread_time()
            variant.run(per_batch)
            cpu_spent, wall_spent = time.thread_time() - cpu, time.perf_counter() - wall
            entry = samples[variant.name]
            entry.wall.append(wall_spent / per_batch * 1e6)
            entry.cpu.append(cpu_spent / per_batch * 1e6)
    return samples


def looped(
    loop: asyncio.AbstractEventLoop, make: Callable[[], Awaitable[Any]]
) -> Callable[[int], None]:
    """A sync ``run(n)`` that awaits ``make()`` ``n`` times on one long-lived loop.

    One loop for every async variant: an asyncio client belongs to the loop that opened it.
    """

    async def many(count: int) -> None:
        for _ in range(count):
            await make()

    def run(count: int) -> None:
        loop.run_until_complete(many(count))

    return run
