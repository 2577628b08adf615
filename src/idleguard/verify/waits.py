"""The probes that wait: idle expiry (a search over waits), absolute expiry, passive paths.

The idle limit is found without one long wait per guess: each round signs in several
sessions at once and asks each after a different wait, so one round of about one idle limit
brackets the moment of expiry to a fraction of the span it covered; the next round searches
inside that bracket. The first round always asks just before the limit and just before
limit + tolerance, so its answers alone decide the verdict; later rounds only narrow the
measurement the report shows.
"""

from __future__ import annotations

from collections.abc import Generator

from .bench import NEW_SESSION, Bench, Endpoint, Inconclusive, Target, guarded
from .exchange import Answer
from .report import ProbeResult, Record, Verdict

__all__ = ["absolute_expiry", "idle_expiry", "keepalive_bound", "passive_path", "spread"]

#: Rounds of the idle search, the first included.
MAX_ROUNDS = 3
Waits = Generator[float, None, ProbeResult]


def spread(low: float, high: float, count: int) -> list[float]:
    """`count` offsets from `low` to `high`, both included, evenly apart."""
    if count < 2:
        return [high]
    step = (high - low) / (count - 1)
    return [low + step * index for index in range(count)]


def seconds(value: float | None) -> str:
    """Seconds as a report writes them: `901.20 s (15m 01s)`, the reading beside the count."""
    if value is None:
        return "-"
    if abs(value) < 60:
        return f"{value:.2f} s"
    whole = round(abs(value))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    reading = f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"
    return f"{value:.2f} s ({reading})"


def _round(
    bench: Bench,
    target: Target,
    record: Record,
    offsets: list[float],
    bracket: tuple[float | None, float | None],
    label: str,
) -> Generator[float, None, tuple[float | None, float | None]]:
    bench.reserve(len(offsets))
    sessions = [bench.session(target, record, reserved=True) for _ in offsets]
    plan = sorted(
        (
            (session.signed_in_at + offset, offset, index)
            for index, (session, offset) in enumerate(zip(sessions, offsets, strict=True))
        ),
    )
    last_alive, first_refused = bracket
    for moment, offset, index in plan:
        yield moment
        session = sessions[index]
        exchange = bench.request(
            target, target.check, session, record, f"{label}: {offset:.2f} s idle after sign-in"
        )
        elapsed = exchange.at - session.signed_in_at
        if exchange.answer is Answer.ERROR:
            raise Inconclusive(
                f"{exchange.url} answered {exchange.status or exchange.error}, neither alive nor refused"
            )
        if exchange.answer is Answer.ALIVE:
            last_alive = elapsed if last_alive is None else max(last_alive, elapsed)
        else:
            first_refused = elapsed if first_refused is None else min(first_refused, elapsed)
    if last_alive is not None and first_refused is not None and last_alive > first_refused:
        # Each session's clock starts when its sign-in was sent, the server's a round trip
        # later at most: answers that cross by less than that are one moment, measured twice.
        if last_alive - first_refused <= bench.expectation.slack / 2:
            return first_refused, first_refused
        raise Inconclusive(
            f"a session was alive after {seconds(last_alive)} idle while another was refused "
            f"after {seconds(first_refused)}: the deployment does not expire sessions consistently"
        )
    return last_alive, first_refused


def idle_expiry(bench: Bench, target: Target) -> Waits:
    """Probe: a session left idle is refused within [idle limit, idle limit + tolerance]."""
    record = bench.record("idle-expiry", target.base)
    return (yield from guarded(bench, record, _idle(bench, target, record)))


def _idle(bench: Bench, target: Target, record: Record) -> Waits:
    expected = bench.expectation
    idle = expected.idle_timeout
    if idle is None:
        return bench.finish(record, Verdict.SKIPPED, "no idle limit is claimed")
    low, high = idle - expected.slack, idle + expected.tolerance - expected.slack / 2
    count = max(2, bench.parallel)
    bracket = yield from _round(
        bench, target, record, spread(low, high, count), (None, None), "round 1"
    )
    rounds = 1
    # A search beyond or before the limit is one more round, not one less to narrow with.
    last_round = MAX_ROUNDS
    if bracket[1] is None:  # alive at every wait: look further
        ceiling = 4 * idle
        if expected.absolute_timeout is not None:
            ceiling = min(ceiling, expected.absolute_timeout - expected.slack)
        if ceiling > high:
            bracket = yield from _round(
                bench,
                target,
                record,
                spread(high, ceiling, count + 1)[1:],
                bracket,
                "beyond the limit",
            )
            rounds += 1
            last_round += 1
    elif bracket[0] is None:  # refused at every wait: look earlier
        bracket = yield from _round(
            bench,
            target,
            record,
            spread(0, low, count + 1)[1:-1] or [low / 2],
            bracket,
            "before the limit",
        )
        rounds += 1
        last_round += 1
    while rounds < last_round:
        last_alive, first_refused = bracket
        if (
            last_alive is None
            or first_refused is None
            or first_refused - last_alive <= expected.tolerance / 4
        ):
            break
        inner = spread(last_alive, first_refused, count + 2)[1:-1]
        bracket = yield from _round(bench, target, record, inner, bracket, f"round {rounds + 1}")
        rounds += 1
    last_alive, first_refused = bracket
    record.measured.update(
        last_alive_after=last_alive,
        first_refused_after=first_refused,
        expected=idle,
        tolerance=expected.tolerance,
        sessions=sum(1 for exchange in record.exchanges if exchange.note == NEW_SESSION),
    )
    where = f"alive after {seconds(last_alive)} idle, refused after {seconds(first_refused)}"
    claim = f"claimed {seconds(idle)}, tolerance {seconds(expected.tolerance)}"
    if last_alive is None or last_alive < low:
        finding = (
            f"refused already after {seconds(first_refused)} idle"
            if last_alive is None
            else f"expired between {seconds(last_alive)} and {seconds(first_refused)} idle"
        )
        return bench.finish(
            record,
            Verdict.FAILED,
            f"expired early: {where}; {claim}",
            findings=[f"{finding}, before the claimed {seconds(idle)}"],
        )
    if first_refused is None or first_refused > idle + expected.tolerance:
        finding = (
            f"still alive after {seconds(last_alive)} idle, never refused"
            if first_refused is None
            else f"expired between {seconds(last_alive)} and {seconds(first_refused)} idle"
        )
        return bench.finish(
            record,
            Verdict.FAILED,
            f"idle limit longer than claimed: {where}; {claim}",
            findings=[
                f"{finding}, past the claimed {seconds(idle)} + {seconds(expected.tolerance)}"
            ],
        )
    return bench.finish(record, Verdict.PASSED, f"{where}; {claim}")


def absolute_expiry(bench: Bench, target: Target) -> Waits:
    """Probe: a session kept active is refused within [absolute limit, + tolerance]."""
    record = bench.record("absolute-expiry", target.base)
    return (yield from guarded(bench, record, _kept_active(bench, target, record, target.check)))


def keepalive_bound(bench: Bench, target: Target) -> Waits:
    """Probe: a session kept alive by its keepalive request still ends at the absolute limit."""
    record = bench.record("keepalive-bound", target.base)
    if target.keepalive is None:
        return bench.finish(
            record, Verdict.SKIPPED, "no keepalive request given (--keepalive-path)"
        )
    return (
        yield from guarded(bench, record, _kept_active(bench, target, record, target.keepalive))
    )


def _kept_active(bench: Bench, target: Target, record: Record, activity: Endpoint) -> Waits:
    expected = bench.expectation
    absolute = expected.absolute_timeout
    if absolute is None:
        return bench.finish(record, Verdict.SKIPPED, "no absolute limit is claimed")
    idle = expected.idle_timeout
    cadence = absolute / 8 if idle is None else min(idle / 3, absolute / 8)
    low, high = absolute - expected.slack, absolute + expected.tolerance - expected.slack / 2
    offsets = [cadence * step for step in range(1, int(low / cadence) + 1) if cadence * step < low]
    offsets += spread(low, high, 4)
    session = bench.session(target, record)
    last_alive: float | None = None
    first_refused: float | None = None
    for offset in offsets:
        yield session.signed_in_at + offset
        # Up to the limit the activity is the one under test; from there the protected
        # request says whether the session is still accepted.
        endpoint = activity if offset < low else target.check
        exchange = bench.request(
            target, endpoint, session, record, f"active {offset:.2f} s after sign-in"
        )
        elapsed = exchange.at - session.signed_in_at
        if exchange.answer is Answer.ERROR:
            raise Inconclusive(
                f"{exchange.url} answered {exchange.status or exchange.error}, neither alive nor refused"
            )
        if exchange.answer is Answer.REFUSED:
            first_refused = elapsed
            break
        last_alive = elapsed
    record.measured.update(
        last_alive_after=last_alive,
        first_refused_after=first_refused,
        expected=absolute,
        tolerance=expected.tolerance,
        activity_every=cadence,
    )
    where = (
        f"kept active, alive after {seconds(last_alive)}, refused after {seconds(first_refused)}"
    )
    claim = f"claimed {seconds(absolute)}, tolerance {seconds(expected.tolerance)}"
    if first_refused is not None and first_refused < low:
        return bench.finish(
            record,
            Verdict.FAILED,
            f"ended before the absolute limit while active: {where}; {claim}",
            findings=[
                f"refused after {seconds(first_refused)} though active every {seconds(cadence)}"
            ],
        )
    if first_refused is None:
        return bench.finish(
            record,
            Verdict.FAILED,
            f"outlived the absolute limit: {where}; {claim}",
            findings=[
                f"still alive after {seconds(last_alive)}, past {seconds(absolute)} + {seconds(expected.tolerance)}"
            ],
        )
    return bench.finish(record, Verdict.PASSED, f"{where}; {claim}")


def passive_path(bench: Bench, target: Target) -> Waits:
    """Probe: a session that only sees passive requests still expires at the idle limit."""
    record = bench.record("passive-path", target.base)
    if target.passive is None:
        return bench.finish(record, Verdict.SKIPPED, "no passive request given (--passive-path)")
    return (yield from guarded(bench, record, _passive(bench, target, target.passive, record)))


def _passive(bench: Bench, target: Target, passive: Endpoint, record: Record) -> Waits:
    expected = bench.expectation
    idle = expected.idle_timeout
    if idle is None:
        return bench.finish(record, Verdict.SKIPPED, "no idle limit is claimed")
    session = bench.session(target, record)
    cadence = idle / 4
    low, high = idle - expected.slack, idle + expected.tolerance - expected.slack / 2
    polls = [cadence * step for step in range(1, 4)] + [low]
    for offset in polls:
        yield session.signed_in_at + offset
        exchange = bench.request(
            target, passive, session, record, f"passive request {offset:.2f} s after sign-in"
        )
        if exchange.answer is not Answer.ALIVE:
            raise Inconclusive(
                f"the passive request answered {exchange.status or exchange.error} at {seconds(offset)}, before the idle limit"
            )
    yield session.signed_in_at + high
    exchange = bench.request(
        target, target.check, session, record, f"protected request {high:.2f} s after sign-in"
    )
    elapsed = exchange.at - session.signed_in_at
    record.measured.update(polled_every=cadence, checked_after=elapsed, expected=idle)
    if exchange.answer is Answer.ERROR:
        raise Inconclusive(f"{exchange.url} answered {exchange.status or exchange.error}")
    if exchange.answer is Answer.ALIVE:
        return bench.finish(
            record,
            Verdict.FAILED,
            f"passive requests kept the session alive: accepted after {seconds(elapsed)} with no other activity; claimed idle {seconds(idle)}",
            findings=[f"{passive.method} {passive.url} extends the session"],
        )
    return bench.finish(
        record,
        Verdict.PASSED,
        f"refused after {seconds(elapsed)} with only passive requests every {seconds(cadence)}; claimed idle {seconds(idle)}",
    )
