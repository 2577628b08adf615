"""What a deployment claims: the limits `idleguard verify` expects, and how closely.

The limits come from a preset (`pci-dss`) or are written out (`--idle 15m --absolute 12h`);
the tolerance says how late an expiry may land and still count as the claimed limit. A staging
deployment configured with every limit divided by a factor (`--wait compressed`) is measured
against the claimed limits divided by the same factor, and the report says so.
"""

from __future__ import annotations

import dataclasses

from ..presets import lookup

__all__ = ["Expectation"]

#: Without `--tolerance`: this share of the shortest limit ...
DEFAULT_TOLERANCE_SHARE = 0.05
#: ... and never less than this many seconds (a request's round trip, a store's write).
MINIMUM_DEFAULT_TOLERANCE = 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class Expectation:
    """The limits a deployment should enforce, as measured (already compressed).

    Attributes:
        idle_timeout: Seconds without activity after which a session must be refused;
            `None`: no idle limit is claimed (the idle probes do not run).
        absolute_timeout: Seconds after sign-in after which a session must be refused
            however active; `None`: none claimed.
        tolerance: Seconds an expiry may land after its limit and still pass.
        source: Where the numbers came from, for the report (`preset pci-dss`).
        compression: The factor the deployment divides every limit by (1: real limits).
    """

    idle_timeout: float | None
    absolute_timeout: float | None
    tolerance: float
    source: str
    compression: float = 1.0

    def __post_init__(self) -> None:
        if self.idle_timeout is None and self.absolute_timeout is None:
            raise ValueError("claim at least one limit: --idle, --absolute or --preset")
        for name in ("idle_timeout", "absolute_timeout"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be more than 0 seconds")
        if not self.tolerance > 0:
            raise ValueError("--tolerance must be more than 0 seconds")
        limits = [
            limit for limit in (self.idle_timeout, self.absolute_timeout) if limit is not None
        ]
        if self.tolerance >= min(limits) / 2:
            raise ValueError(
                f"--tolerance ({self.tolerance:g} s) must be less than half the shortest limit "
                f"({min(limits):g} s), or the probes cannot tell an expiry from its absence"
            )
        if (
            self.idle_timeout is not None
            and self.absolute_timeout is not None
            and self.absolute_timeout <= self.idle_timeout + self.tolerance
        ):
            raise ValueError(
                "the absolute limit must be longer than the idle limit and its tolerance, "
                "or the idle limit can never be reached"
            )
        if not self.compression >= 1:
            raise ValueError("--compress must be 1 or more (the factor limits are divided by)")

    @classmethod
    def build(
        cls,
        *,
        preset: str | None = None,
        idle: float | None = None,
        absolute: float | None = None,
        idle_given: bool = False,
        absolute_given: bool = False,
        tolerance: float | None = None,
        compression: float = 1.0,
    ) -> Expectation:
        """The expectation a command line describes.

        Args:
            preset: A preset's name; `idle` and `absolute`, when given, override its numbers.
            idle: The claimed idle limit in seconds (`None`: none), used when `idle_given`.
            absolute: The claimed absolute limit in seconds, used when `absolute_given`.
            idle_given: Whether `--idle` was on the command line.
            absolute_given: Whether `--absolute` was on the command line.
            tolerance: Seconds, as measured (already compressed); default 5 % of the shortest
                compressed limit, at least 1 second.
            compression: The factor every claimed limit is divided by.

        Returns:
            The expectation.

        Raises:
            ValueError: Nothing is claimed, a preset is unknown, a number is out of range.
        """
        source_parts = []
        claimed_idle: float | None = None
        claimed_absolute: float | None = None
        if preset is not None:
            found = lookup(preset)
            claimed_idle, claimed_absolute = found.idle_timeout, found.absolute_timeout
            source_parts.append(f"preset {found.name} ({found.source})")
        elif not (idle_given or absolute_given):
            raise ValueError("say what to expect: --preset NAME, or --idle and --absolute")
        if idle_given:
            claimed_idle = idle
            source_parts.append("--idle")
        if absolute_given:
            claimed_absolute = absolute
            source_parts.append("--absolute")
        scaled = [
            None if limit is None else limit / compression
            for limit in (claimed_idle, claimed_absolute)
        ]
        if tolerance is None:
            shortest = (
                min(limit for limit in scaled if limit is not None)
                if any(limit is not None for limit in scaled)
                else 0.0
            )
            tolerance = max(MINIMUM_DEFAULT_TOLERANCE, shortest * DEFAULT_TOLERANCE_SHARE)
        return cls(scaled[0], scaled[1], tolerance, ", ".join(source_parts), compression)

    @property
    def slack(self) -> float:
        """How early before a limit a session is last seen alive: a fifth of the tolerance.

        A session has expired at exactly its limit, so "alive at the limit" is asked a
        moment before it.
        """
        return self.tolerance / 5

    def claimed(self, seconds: float | None) -> float | None:
        """A measured number of seconds as the claim it stands for (undoing compression)."""
        return None if seconds is None else seconds * self.compression

    def to_json(self) -> dict[str, object]:
        """The expectation as the JSON report shows it."""
        return {
            "idle_timeout": self.idle_timeout,
            "absolute_timeout": self.absolute_timeout,
            "tolerance": self.tolerance,
            "source": self.source,
            "compression": self.compression,
        }
