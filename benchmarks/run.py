"""``make bench``: idleguard against its peers, side by side, in one run.

In-process per-request cost of every variant, round trips by the servers'
own statistics, end to end over HTTP, and cost and memory by live sessions;
written to ``benchmarks/results/latest.md`` and ``latest.png``.

``BENCH_QUICK=1`` (or ``--quick``) takes a fast pass with fewer rounds and
at most 100,000 sessions; ``--tiny`` only checks that everything runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from benchmarks.endtoend import Throughput, run_endtoend
from benchmarks.inprocess import Row, run_inprocess
from benchmarks.report import markdown, plot
from benchmarks.revocation import run_revocation
from benchmarks.scale import ScalePoint, redis_key_usage, run_scale
from benchmarks.servers import running

RESULTS = Path(__file__).parent / "results"
#: rounds, requests per batch, end-to-end (rounds, requests, seconds), live-session sizes
PROFILES: dict[str, tuple[int, int, tuple[int, int, float], list[int]]] = {
    "full": (25, 400, (3, 4000, 6.0), [1_000, 100_000, 1_000_000]),
    "quick": (9, 200, (1, 2000, 3.0), [1_000, 100_000]),
    "tiny": (2, 5, (1, 30, 2.0), [200]),
}
#: Sign-outs timed across two processes, per profile.
REVOCATION_TRIALS = {"full": 2000, "quick": 1000, "tiny": 20}
END_TO_END = [
    "starlette bare",
    "idleguard memory",
    "idleguard redis (async)",
    "idleguard redis, local decisions (async)",
    "starlette SessionMiddleware",
    "starsessions memory",
    "starsessions redis",
]


def _added(rows: list[Row], name: str) -> float | None:
    return next((row.added_us for row in rows if row.variant == name), None)


def _trips(rows: list[Row], name: str) -> str:
    return next((row.round_trips for row in rows if row.variant == name), "")


LOCAL_END_TO_END = ("idleguard redis, local decisions (async)", 0.90)


def _local_targets(rows: list[Row]) -> list[tuple[str, str, bool]]:
    """Local decisions: ≤ 10 µs added, ≤ 2x the memory store, ≥ 20x less than the peers."""
    found: list[tuple[str, str, bool]] = []
    for name, memory, peer in (
        (
            "ASGI idleguard redis, local decisions (async)",
            "ASGI idleguard memory",
            "ASGI starsessions redis",
        ),
        (
            "WSGI idleguard redis, local decisions (sync)",
            "WSGI idleguard memory",
            "WSGI flask-session redis",
        ),
    ):
        added = _added(rows, name)
        if added is None:
            continue
        found.append((f"{name}: ≤ 10 µs added", f"{added:.1f} µs", added <= 10))
        in_memory, other = _added(rows, memory), _added(rows, peer)
        if in_memory is not None:
            factor = added / max(in_memory, 0.01)
            found.append((f"{name}: ≤ 2x what {memory} adds", f"{factor:.1f}x", factor <= 2))
        if other is not None:
            factor = other / max(added, 0.01)
            found.append((f"{name}: ≥ 20x less than {peer}", f"{factor:.0f}x", factor >= 20))
    return found


def targets(
    rows: list[Row], throughput: list[Throughput], scale: list[ScalePoint]
) -> list[tuple[str, str, bool]]:
    """Each target the suite must show: (what, measured, met)."""
    found: list[tuple[str, str, bool]] = []
    memory = _added(rows, "ASGI idleguard memory")
    starsessions = _added(rows, "ASGI starsessions memory")
    if memory is not None:
        found.append(("memory store ≤ 5 µs added (Starlette)", f"{memory:.1f} µs", memory <= 5))
        if starsessions is not None:
            factor = starsessions / max(memory, 0.01)
            found.append(
                ("≥ 8x less added than starsessions memory", f"{factor:.1f}x", factor >= 8)
            )
    found.extend(_local_targets(rows))
    by_name = {item.variant: item for item in throughput}
    for name, share_needed in (("idleguard memory", 0.95), LOCAL_END_TO_END):
        if "starlette bare" in by_name and name in by_name:
            share = (
                by_name[name].requests_per_second / by_name["starlette bare"].requests_per_second
            )
            found.append(
                (
                    f"{name}: end to end ≥ {share_needed:.0%} of bare throughput",
                    f"{share:.0%}",
                    share >= share_needed,
                )
            )
    for name, floor, peers in (
        (
            "WSGI idleguard redis (sync)",
            "WSGI bare app + one EVALSHA",
            ["WSGI flask-session redis"],
        ),
        (
            "ASGI idleguard redis (async)",
            "ASGI bare app + one EVALSHA",
            ["ASGI starsessions redis"],
        ),
    ):
        added, bare = _added(rows, name), _added(rows, floor)
        if added is None or bare is None:
            continue
        trips = _trips(rows, name)
        found.append((f"{name}: one round trip", trips, trips.startswith("1.00 ")))
        found.append(
            (
                f"{name}: added ≤ 1.15x what one bare EVALSHA adds",
                f"{added / bare:.2f}x",
                added <= 1.15 * bare,
            )
        )
        for peer in peers:
            other = _added(rows, peer)
            if other is not None:
                factor = other / added
                found.append((f"≥ 2x less added than {peer}", f"{factor:.1f}x", factor >= 2))
    for store in sorted({point.store for point in scale}):
        points = sorted((p for p in scale if p.store == store), key=lambda p: p.sessions)
        if len(points) > 1:
            change = points[-1].us_per_request / points[0].us_per_request - 1
            found.append(
                (
                    f"{store}: flat within 10% from {points[0].sessions:,} to {points[-1].sessions:,}",
                    f"{change:+.0%}",
                    abs(change) <= 0.10,
                )
            )
        limit = 200 if store.startswith("redis") else 300
        found.append(
            (
                f"{store}: ≤ {limit} bytes per session",
                f"{points[-1].bytes_per_session:.0f} bytes at {points[-1].sessions:,}",
                points[-1].bytes_per_session <= limit,
            )
        )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, up to 100,000 sessions")
    parser.add_argument("--tiny", action="store_true", help="only check that everything runs")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the results go")
    arguments = parser.parse_args(argv)
    profile = "tiny" if arguments.tiny else "quick" if arguments.quick else "full"
    if profile == "full" and os.environ.get("BENCH_QUICK") == "1":
        profile = "quick"
    rounds, per_batch, (e2e_rounds, e2e_requests, e2e_seconds), sizes = PROFILES[profile]
    started = time.monotonic()
    with running() as servers:
        print(f"[{profile}] in-process: {rounds} rounds of {per_batch} requests per variant")
        rows, _ = run_inprocess(servers, rounds, per_batch)
        print(f"[{time.monotonic() - started:5.0f} s] end to end over HTTP")
        throughput = run_endtoend(
            servers.urls,
            [name for name in END_TO_END if "redis" not in name or "redis" in servers.urls],
            e2e_rounds,
            e2e_requests,
            e2e_seconds,
        )
        print(f"[{time.monotonic() - started:5.0f} s] by live sessions: {sizes}")
        scale = run_scale(servers.urls, sizes, max(3, rounds // 3), per_batch)
        key_bytes = redis_key_usage(servers.urls["redis"]) if "redis" in servers.urls else None
        revocation = None
        if "redis" in servers.urls:
            print(f"[{time.monotonic() - started:5.0f} s] a sign-out seen by another process")
            revocation = run_revocation(servers.urls["redis"], REVOCATION_TRIALS[profile])
        missing = servers.missing
    settings = (
        f"Profile `{profile}`: {rounds} interleaved rounds of {per_batch} requests per variant "
        f"after a warm-up; end to end {e2e_rounds} round(s) of at most {e2e_requests:,} requests "
        f"or {e2e_seconds:g} s on 8 connections; medians. Took {time.monotonic() - started:.0f} s."
    )
    if missing:
        settings += "\n\nLeft out, server missing: " + "; ".join(missing)
    found = targets(rows, throughput, scale)
    if revocation is not None:
        found.append(
            (
                f"a sign-out refused in another process within 10 ms p99 "
                f"({revocation.trials:,} trials)",
                f"{revocation.p99_ms:.2f} ms",
                revocation.p99_ms <= 10,
            )
        )
    text = markdown(rows, throughput, scale, key_bytes, found, settings, revocation)
    arguments.output.mkdir(parents=True, exist_ok=True)
    (arguments.output / "latest.md").write_text(text, encoding="utf-8")
    plot(rows, arguments.output / "latest.png")
    print(text)
    print(f"written: {arguments.output / 'latest.md'}, {arguments.output / 'latest.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
