"""What a run of `idleguard verify` found: each probe's verdict, measurement and evidence."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from .controls import CONTROLS, PROBES
from .exchange import Exchange
from .expectation import Expectation

__all__ = ["ProbeResult", "Record", "Report", "Verdict", "iso"]


class Verdict(str, enum.Enum):
    """One probe's outcome."""

    PASSED = "passed"
    #: The deployment does not do what is claimed: drift.
    FAILED = "failed"
    #: The probe could not conclude (an error answer, a sign-in that failed): not a pass.
    ERROR = "error"
    #: The probe does not apply (no passive path given, a recipe that makes no requests).
    SKIPPED = "skipped"


def iso(at: float | None) -> str | None:
    """Seconds since the epoch as ISO 8601 UTC, to the millisecond."""
    if at is None:
        return None
    return (
        datetime.fromtimestamp(at, timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


@dataclasses.dataclass
class ProbeResult:
    """One probe's outcome against one deployment.

    Attributes:
        probe: The probe's name (`idle-expiry`).
        target: The deployment's base URL (several, joined, for a probe across services).
        verdict: Passed, failed, error or skipped.
        summary: One sentence saying what was seen.
        measured: Numbers the probe measured (seconds), by name.
        findings: What failed, one line each.
        advice: What could be better without failing (a missing `__Host-` prefix).
        exchanges: The requests and answers, redacted.
        started_at: When the probe began (seconds since the epoch).
        finished_at: When it ended.
    """

    probe: str
    target: str
    verdict: Verdict
    summary: str
    measured: dict[str, Any] = dataclasses.field(default_factory=dict)
    findings: list[str] = dataclasses.field(default_factory=list)
    advice: list[str] = dataclasses.field(default_factory=list)
    exchanges: list[Exchange] = dataclasses.field(default_factory=list)
    started_at: float = 0.0
    finished_at: float = 0.0

    @property
    def title(self) -> str:
        """What the probe checks, in words."""
        return PROBES[self.probe][0]

    @property
    def controls(self) -> tuple[str, ...]:
        """The controls its evidence supports."""
        return PROBES[self.probe][1]

    def to_json(self) -> dict[str, Any]:
        """The result as the JSON report shows it (measured seconds to the millisecond)."""
        return {
            "probe": self.probe,
            "title": self.title,
            "target": self.target,
            "verdict": self.verdict.value,
            "summary": self.summary,
            "measured": {
                name: round(value, 3) if isinstance(value, float) else value
                for name, value in self.measured.items()
            },
            "findings": self.findings,
            "advice": self.advice,
            "controls": list(self.controls),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "exchanges": [
                {**exchange.to_json(), "at": iso(exchange.at)} for exchange in self.exchanges
            ],
        }


@dataclasses.dataclass
class Record:
    """A probe's result as it is being made: exchanges are added, then it is finished."""

    probe: str
    target: str
    started_at: float
    exchanges: list[Exchange] = dataclasses.field(default_factory=list)
    measured: dict[str, Any] = dataclasses.field(default_factory=dict)

    def add(self, exchange: Exchange) -> Exchange:
        """Keep one exchange as evidence; returns it."""
        self.exchanges.append(exchange)
        return exchange

    def finish(
        self,
        verdict: Verdict,
        summary: str,
        at: float,
        findings: Sequence[str] = (),
        advice: Sequence[str] = (),
    ) -> ProbeResult:
        """The finished result."""
        return ProbeResult(
            self.probe,
            self.target,
            verdict,
            summary,
            dict(self.measured),
            list(findings),
            list(advice),
            list(self.exchanges),
            self.started_at,
            at,
        )


@dataclasses.dataclass
class Report:
    """A whole run.

    Attributes:
        targets: The deployments' base URLs.
        expectation: What they were expected to enforce.
        results: Every probe's result.
        started_at: When the run began (seconds since the epoch).
        finished_at: When it ended.
        wait: `real` or `compressed`.
        version: idleguard's version.
    """

    targets: list[str]
    expectation: Expectation
    results: list[ProbeResult]
    started_at: float
    finished_at: float
    wait: str
    version: str

    @property
    def passed(self) -> bool:
        """True when no probe failed or was inconclusive (skipped probes do not count)."""
        return all(result.verdict in (Verdict.PASSED, Verdict.SKIPPED) for result in self.results)

    def counts(self) -> dict[str, int]:
        """How many probes had each verdict."""
        counts = {verdict.value: 0 for verdict in Verdict}
        for result in self.results:
            counts[result.verdict.value] += 1
        return counts

    def controls(self) -> list[dict[str, Any]]:
        """Each control named, with the probes that evidence it and whether all passed."""
        rows = []
        for control, meaning in CONTROLS.items():
            probes = [result for result in self.results if control in result.controls]
            if not probes:
                continue
            verdicts = {result.verdict for result in probes}
            if Verdict.FAILED in verdicts:
                status = "failed"
            elif Verdict.ERROR in verdicts:
                status = "inconclusive"
            elif verdicts == {Verdict.SKIPPED}:
                status = "not tested"
            else:
                status = "evidenced"
            rows.append(
                {
                    "control": control,
                    "meaning": meaning,
                    "status": status,
                    "probes": sorted({result.probe for result in probes}),
                }
            )
        return rows

    def to_json(self) -> dict[str, Any]:
        """The report as JSON (the `--json` file)."""
        return {
            "tool": f"idleguard verify {self.version}",
            "passed": self.passed,
            "counts": self.counts(),
            "targets": self.targets,
            "wait": self.wait,
            "expected": self.expectation.to_json(),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "controls": self.controls(),
            "results": [result.to_json() for result in self.results],
        }
