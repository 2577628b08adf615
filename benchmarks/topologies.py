"""What a deployment of Redis costs idleguard, measured here (the figures of docs/scaling.md).

``python -m benchmarks.topologies`` starts one Redis, a Cluster (three
primaries, three replicas), a Sentinel set and one Valkey on 127.0.0.1, and
prints, as a Markdown table: the server time of one check (and so how many
checks one node sustains per core), the round trip of one check from each
topology, the cost of `WAIT` on a sign-out, the bytes of a live session, and
redis-py against the `valkey` client on Valkey.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import redis

from idleguard.core import EndReason, Limits, SessionRecord
from idleguard.stores import from_url
from idleguard.stores.redis import RedisStore
from idleguard.stores.redis_scripts import CHECK
from tests.servers import RedisServer
from tests.topologies import RedisCluster, SentinelSet, ValkeyServer, start

LIMITS = Limits(600.0, 28800.0, 30.0)
ROUNDS = 2000


def _record(now: float, subject: str) -> SessionRecord:
    return SessionRecord(subject, None, now, now, now)


def _micros_each(action: Callable[[int], None], count: int = ROUNDS) -> float:
    """The median of five runs of `count` calls, in microseconds per call."""
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        action(count)
        runs.append((time.perf_counter() - started) / count * 1e6)
    return statistics.median(runs)


def check_round_trip(url: str) -> float:
    """Microseconds of one `check` (within the touch interval) from the sync client."""
    store = from_url(url, key_prefix="bench:")
    now = time.time()
    store.create("s", _record(now, "alice"), LIMITS)

    def run(count: int) -> None:
        for _ in range(count):
            store.check("s", LIMITS, True, now + 1)

    store.check("s", LIMITS, True, now + 1)
    result = _micros_each(run)
    store.close()
    return result


def end_cost(url: str) -> float:
    """Microseconds of one sign-out (`end`), including any `WAIT` the URL asks for."""
    store = from_url(url, key_prefix="bench-end:")
    now = time.time()
    keys = [f"e{n}" for n in range(ROUNDS * 5)]
    for key in keys:
        store.create(key, _record(now, "alice"), LIMITS)
    remaining = iter(keys)

    def run(count: int) -> None:
        for _ in range(count):
            store.end(next(remaining), EndReason.SIGNED_OUT, now + 1)

    result = _micros_each(run, ROUNDS // 2)
    store.close()
    return result


def server_time_of_check(url: str) -> tuple[float, float]:
    """Server microseconds per check (`INFO commandstats`), and pipelined checks per second."""
    store = RedisStore(url, key_prefix="bench-server:")
    client: Any = store._client
    now = time.time()
    store.create("s", _record(now, "alice"), LIMITS)
    call = store._check_call("s", LIMITS, True, now + 1)
    arguments = (CHECK.sha, 1, *call.keys, *call.args)
    client.script_load(CHECK.source)
    client.config_resetstat()
    started = time.perf_counter()
    total = 0
    for _ in range(20):
        pipe = client.pipeline(transaction=False)
        for _ in range(1000):
            pipe.evalsha(*arguments)
        pipe.execute()
        total += 1000
    rate = total / (time.perf_counter() - started)
    usec = float(client.info("commandstats")["cmdstat_evalsha"]["usec_per_call"])
    store.close()
    return usec, rate


def bytes_per_session(url: str, count: int = 20000) -> float:
    """Memory Redis gains per live session with a subject (its hash and its index entry)."""
    store = RedisStore(url, key_prefix="bench-bytes:")
    client: Any = store._client
    now = time.time()
    before = int(client.info("memory")["used_memory"])
    for number in range(count):
        store.create(f"{number:064x}"[:43], _record(now, f"user{number}@example.com"), LIMITS)
    after = int(client.info("memory")["used_memory"])
    store.close()
    return (after - before) / count


def clients_on_valkey(url: str) -> dict[str, float]:
    """Microseconds of one bare EVALSHA of the check from redis-py and from `valkey`."""
    import valkey

    store = RedisStore(url, key_prefix="bench-clients:")
    now = time.time()
    store.create("s", _record(now, "alice"), LIMITS)
    call = store._check_call("s", LIMITS, True, now + 1)
    arguments = (CHECK.sha, 1, *call.keys, *call.args)
    plain = url.replace("valkey://", "redis://")
    results = {}
    for name, client in (
        ("redis-py", redis.Redis.from_url(plain, decode_responses=True)),
        ("valkey", valkey.Valkey.from_url(plain, decode_responses=True)),
    ):
        client.script_load(CHECK.source)

        def run(count: int, client: Any = client) -> None:
            for _ in range(count):
                client.evalsha(*arguments)

        results[name] = _micros_each(run)
        client.close()
    store.close()
    return results


def main() -> int:
    single, valkey_server = RedisServer(), ValkeyServer()
    cluster, sentinels = RedisCluster(), SentinelSet()
    for topology in (single, valkey_server, cluster, sentinels):
        start(topology)
    try:
        usec, rate = server_time_of_check(single.url)
        rows = [
            ("server time of one check (one Redis)", f"{usec:.1f} µs"),
            ("checks one Redis sustains per core (1 / server time)", f"{1e6 / usec:,.0f} /s"),
            ("checks per second, pipelined from one Python client", f"{rate:,.0f} /s"),
        ]
        for name, url in (
            ("one Redis", single.url),
            ("Valkey", valkey_server.url),
            ("Redis Cluster", cluster.url),
            ("Sentinel", sentinels.url),
        ):
            rows.append((f"one check, round trip: {name}", f"{check_round_trip(url):.0f} µs"))
        sentinel_off = sentinels.url + "?durable=0"
        cluster_off = cluster.url + "?durable=0"
        rows += [
            ("sign-out, Sentinel, durable=0", f"{end_cost(sentinel_off):.0f} µs"),
            ("sign-out, Sentinel, WAIT 1 replica", f"{end_cost(sentinels.url):.0f} µs"),
            ("sign-out, Cluster, durable=0", f"{end_cost(cluster_off):.0f} µs"),
            ("sign-out, Cluster, WAIT 1 replica", f"{end_cost(cluster.url):.0f} µs"),
            (
                "bytes per live session (hash + index entry)",
                f"{bytes_per_session(single.url):.0f} B",
            ),
        ]
        for name, micros in clients_on_valkey(valkey_server.url).items():
            rows.append((f"bare EVALSHA on Valkey, {name} client", f"{micros:.0f} µs"))
    finally:
        for topology in (single, valkey_server, cluster, sentinels):
            topology.close()
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
