"""Services in step: one session across every service, one sign-out for all, the same limits.

Given several deployments that claim to share a store and a policy (an API and a web UI),
a session made on the first must be accepted by every other, a sign-out on the first must
be refused by every other, and the limits each one was measured to enforce must agree
within the tolerance.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence

from .bench import Bench, Inconclusive, Target, guarded
from .exchange import Answer
from .report import ProbeResult, Record, Verdict
from .waits import seconds

__all__ = ["limits_parity", "shared_session", "sign_out_everywhere"]

Probe = Generator[float, None, ProbeResult]


def _name(targets: Sequence[Target]) -> str:
    return " + ".join(target.base for target in targets)


def shared_session(bench: Bench, targets: Sequence[Target]) -> Probe:
    """Probe: a session signed in on the first service is accepted by every other."""
    record = bench.record("shared-session", _name(targets))
    return (yield from guarded(bench, record, _shared(bench, targets, record)))


def _shared(bench: Bench, targets: Sequence[Target], record: Record) -> Probe:
    yield record.started_at
    first, *others = targets
    session = bench.session(first, record)
    findings = []
    for other in others:
        exchange = bench.request(
            other, other.check, session, record, f"the session from {first.base}"
        )
        if exchange.answer is Answer.ERROR:
            raise Inconclusive(f"{exchange.url} answered {exchange.status or exchange.error}")
        if exchange.answer is Answer.REFUSED:
            findings.append(
                f"{other.base} refused a session signed in on {first.base} ({exchange.status})"
            )
    return bench.conclude(
        record, findings, f"every service accepted the session signed in on {first.base}"
    )


def sign_out_everywhere(bench: Bench, targets: Sequence[Target]) -> Probe:
    """Probe: after a sign-out on the first service, every other refuses the old cookie."""
    record = bench.record("sign-out-everywhere", _name(targets))
    if targets[0].logout is None:
        return bench.finish(record, Verdict.SKIPPED, "no sign-out request given (--logout-url)")
    return (yield from guarded(bench, record, _everywhere(bench, targets, record)))


def _everywhere(bench: Bench, targets: Sequence[Target], record: Record) -> Probe:
    yield record.started_at
    first, *others = targets
    assert first.logout is not None
    session = bench.session(first, record)
    old = session.credential.copy()
    bench.request(first, first.logout, session, record, "sign out")
    session.credential = old
    findings = []
    for other in others:
        exchange = bench.request(
            other,
            other.check,
            session,
            record,
            f"replay after sign-out on {first.base}",
            follow_cookies=False,
        )
        if exchange.answer is Answer.ERROR:
            raise Inconclusive(f"{exchange.url} answered {exchange.status or exchange.error}")
        if exchange.answer is Answer.ALIVE:
            findings.append(f"{other.base} still accepts a session signed out on {first.base}")
    return bench.conclude(
        record,
        findings,
        f"every other service refused the session signed out on {first.base}",
    )


def limits_parity(
    bench: Bench, targets: Sequence[Target], results: Sequence[ProbeResult]
) -> ProbeResult:
    """The measured idle and absolute limits of every service agree within the tolerance.

    Made from the other probes' measurements after they ran: each service's limit lies in
    `(last alive, first refused]`; the services agree when no one was alive later than
    another was refused, give or take the tolerance.
    """
    record = bench.record("limits-parity", _name(targets))
    tolerance = bench.expectation.tolerance
    findings = []
    compared = []
    for probe in ("idle-expiry", "absolute-expiry"):
        brackets = {
            result.target: (
                result.measured.get("last_alive_after"),
                result.measured.get("first_refused_after"),
            )
            for result in results
            if result.probe == probe and result.verdict is not Verdict.SKIPPED
        }
        if len(brackets) < len(targets):
            continue
        record.measured[probe] = {target: list(bracket) for target, bracket in brackets.items()}
        if any(low is None or high is None for low, high in brackets.values()):
            missing = [
                target for target, (low, high) in brackets.items() if low is None or high is None
            ]
            findings.append(f"{probe}: no bracket measured on {', '.join(missing)}")
            continue
        latest_alive = max(low for low, _ in brackets.values() if low is not None)
        earliest_refused = min(high for _, high in brackets.values() if high is not None)
        compared.append(probe)
        if latest_alive > earliest_refused + tolerance:
            alive_on = next(target for target, (low, _) in brackets.items() if low == latest_alive)
            refused_on = next(
                target for target, (_, high) in brackets.items() if high == earliest_refused
            )
            findings.append(
                f"{probe}: {alive_on} was still alive after {seconds(latest_alive)} while "
                f"{refused_on} refused after {seconds(earliest_refused)} (tolerance {seconds(tolerance)})"
            )
    if not compared and not findings:
        return bench.finish(record, Verdict.SKIPPED, "no limit was measured on every service")
    return bench.conclude(
        record,
        findings,
        f"{' and '.join(compared)} agree on every service within {seconds(tolerance)}",
    )
