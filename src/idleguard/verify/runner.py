"""One run of `idleguard verify`: every probe against every deployment, on one timeline."""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING

from .. import __version__
from . import answers, parity, waits
from .bench import Bench, Target
from .exchange import Client
from .expectation import Expectation
from .recipes import SignIn
from .report import ProbeResult, Report
from .timeline import Scheduler, Timeline

if TYPE_CHECKING:
    import httpx

__all__ = ["CROSS_SERVICE_PROBES", "PROBES_PER_TARGET", "run"]

#: The probes run against each deployment, by name, in the order the report lists them.
PROBES_PER_TARGET: dict[str, Callable[[Bench, Target], Generator[float, None, ProbeResult]]] = {
    "idle-expiry": waits.idle_expiry,
    "absolute-expiry": waits.absolute_expiry,
    "passive-path": waits.passive_path,
    "keepalive-bound": waits.keepalive_bound,
    "sign-out-replay": answers.sign_out_replay,
    "sign-out-headers": answers.sign_out_headers,
    "cookie-attributes": answers.cookie_attributes,
    "session-rotation": answers.session_rotation,
    "client-endpoints": answers.client_endpoints,
}
#: The probes run across deployments, when there are several.
CROSS_SERVICE_PROBES: dict[
    str, Callable[[Bench, Sequence[Target]], Generator[float, None, ProbeResult]]
] = {
    "shared-session": parity.shared_session,
    "sign-out-everywhere": parity.sign_out_everywhere,
}


def run(
    targets: Sequence[Target],
    expectation: Expectation,
    recipe: SignIn,
    timeline: Timeline,
    http: httpx.Client,
    *,
    wait: str = "real",
    parallel: int = 4,
    only: Sequence[str] = (),
    on_wait: Callable[[float, int], None] | None = None,
) -> Report:
    """Run the probes and gather their results into a report.

    Args:
        targets: The deployments; with more than one, the cross-service probes run too.
        expectation: The claimed limits.
        recipe: How sessions are made.
        timeline: Where time is read and waited for.
        http: The HTTP client (it must not follow redirects).
        wait: `real` or `compressed`, for the report.
        parallel: Sessions per round of the idle search (2 or more).
        only: Run only these probes (by name); default every one.
        on_wait: Told of each wait (the progress display).

    Returns:
        The report.
    """
    if not targets:
        raise ValueError("give at least one deployment to verify")
    unknown = sorted(
        set(only) - set(PROBES_PER_TARGET) - set(CROSS_SERVICE_PROBES) - {"limits-parity"}
    )
    if unknown:
        names = ", ".join([*PROBES_PER_TARGET, *CROSS_SERVICE_PROBES, "limits-parity"])
        raise ValueError(f"unknown probe {', '.join(unknown)}; the probes are {names}")
    wanted = set(only) or {*PROBES_PER_TARGET, *CROSS_SERVICE_PROBES, "limits-parity"}
    bench = Bench(Client(http, timeline), recipe, expectation, max(2, parallel))
    started = timeline.now()
    probes = [
        probe(bench, target)
        for target in targets
        for name, probe in PROBES_PER_TARGET.items()
        if name in wanted
    ]
    if len(targets) > 1:
        probes += [
            probe(bench, targets) for name, probe in CROSS_SERVICE_PROBES.items() if name in wanted
        ]
    results = Scheduler[ProbeResult](timeline, on_wait).run(probes)
    if len(targets) > 1 and "limits-parity" in wanted:
        results.append(parity.limits_parity(bench, targets, results))
    return Report(
        [target.base for target in targets],
        expectation,
        results,
        started,
        timeline.now(),
        wait,
        __version__,
    )
