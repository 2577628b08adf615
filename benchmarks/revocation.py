"""How soon a sign-out in one process is refused in another, with local decisions on.

Two real processes share one Redis. The prober (a child process) holds a session it
decides locally and asks about it in a tight loop, as a busy worker would; the signer
(this process) signs it out and notes when the store acknowledged the end. The figure is
the time from that acknowledgement to the prober's first refusal, over many trials:
both read the same system-wide monotonic clock. A refusal that comes before the
acknowledgement (the announcement can reach the prober first) counts as 0.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import statistics
import time
from multiprocessing.connection import Connection

import redis

from idleguard.core import EndReason, Limits, SessionRecord, Verdict
from idleguard.stores import from_url
from idleguard.stores.local import LocalDecisions

__all__ = ["Revocation", "run_revocation"]

LIMITS = Limits(idle_timeout=1800, absolute_timeout=8 * 3600, touch_interval=36)


@dataclasses.dataclass
class Revocation:
    """Milliseconds from an acknowledged sign-out to the other process's first refusal."""

    trials: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    decided_locally: float  # share of the prober's checks made without a round trip


def _prober(url: str, pipe: Connection) -> None:
    store = from_url(url)
    assert isinstance(store, LocalDecisions)
    while not store.push.quiet():
        time.sleep(0.001)
    checks = 0
    while True:
        key = pipe.recv()
        if key is None:
            break
        now = time.time()
        store.check(key, LIMITS, False, now)  # read once: from here on it is decided here
        pipe.send("ready")
        while True:
            verdict = store.check(key, LIMITS, False, now)[0].verdict
            checks += 1
            if verdict is not Verdict.ALLOW:
                pipe.send(time.monotonic())
                break
    pipe.send(checks)
    store.close()


def run_revocation(redis_url: str, trials: int) -> Revocation:
    """Sign out `trials` sessions here and time each refusal in another process."""
    url = redis_url + ("&" if "?" in redis_url else "?") + "key_prefix=revocation:"
    signer = from_url(url)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    prober = context.Process(target=_prober, args=(url + "&local_decisions=1", theirs))
    prober.start()
    latencies = []
    stats = redis.Redis.from_url(redis_url)
    scripts_before = _scripts(stats)
    try:
        for number in range(trials):
            key = f"trial-{number}"
            now = time.time()
            signer.create(key, SessionRecord("bench", None, now, now, now), LIMITS)
            ours.send(key)
            assert ours.recv() == "ready"
            time.sleep(0.0005)  # the prober is now deciding on its own copy
            signer.end(key, EndReason.SIGNED_OUT, time.time())
            acknowledged = time.monotonic()
            refused_at = ours.recv()
            latencies.append(max(refused_at - acknowledged, 0.0) * 1000)
        ours.send(None)
        checks = ours.recv() + trials  # with each trial's first read
    finally:
        prober.join(10)
        signer.close()
    # The signer's own scripts: index, create and end per trial; the rest are the prober's.
    asked = _scripts(stats) - scripts_before - 3 * trials
    stats.close()
    latencies.sort()
    return Revocation(
        trials,
        statistics.median(latencies),
        latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        latencies[-1],
        1 - asked / checks,
    )


def _scripts(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))
