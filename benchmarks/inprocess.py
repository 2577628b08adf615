"""In-process: every variant called directly as an ASGI or WSGI app, no HTTP server.

Also counts each Redis and PostgreSQL variant's round trips per request from
the server's own statistics, and times one bare ``EVALSHA`` of idleguard's
check script from the same clients, the floor the Redis store is held to.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
import types
from typing import Any

import redis
import redis.asyncio

from benchmarks import apps
from benchmarks.harness import Samples, Variant, interleaved, looped
from benchmarks.servers import Servers
from idleguard.stores.redis import RedisStore
from idleguard.stores.redis_scripts import CHECK

__all__ = ["Row", "run_inprocess"]


@dataclasses.dataclass
class Row:
    """One line of the results table (µs per request, medians)."""

    group: str
    variant: str
    median_us: float
    spread_us: float
    added_us: float
    ratio: float
    peer: bool = False
    round_trips: str = ""
    clock: str = "cpu"


def _bare_cookie() -> str:
    # The bare app gets a cookie header of the same size: parsing it is not idleguard's cost.
    return "session=" + "x" * 90


async def _close(apps_built: list[Any]) -> None:
    """Close the stores and clients the variants opened (on the loop they belong to)."""
    for app in apps_built:
        store = getattr(app, "store", None)
        if store is not None and hasattr(store, "aclose"):
            await store.aclose()
        elif store is not None:
            store.close()
        client = getattr(app, "bench_client", None)
        if client is not None:
            closed = client.aclose() if hasattr(client, "aclose") else client.close()
            if asyncio.iscoroutine(closed):
                await closed


def build(
    servers: Servers,
    loop: asyncio.AbstractEventLoop,
    only: set[str] | None = None,
    opened: list[Any] | None = None,
) -> list[Variant]:
    """Every variant signed in and ready; what it opened goes to ``opened`` for closing."""
    urls = servers.urls
    variants: list[Variant] = []
    requests: dict[str, Any] = {}
    opened = [] if opened is None else opened
    for name, (factory, server, peer) in apps.asgi_variants(urls).items():
        full = f"ASGI {name}"
        if (only and full not in only) or (server is not None and server not in urls):
            continue
        app = factory(urls)
        opened.append(app)
        unguarded = name in ("starlette bare", "pass-through middleware")
        cookie = _bare_cookie() if unguarded else apps.asgi_login(app, loop)
        request = apps.asgi_request(app, cookie)
        requests[full] = lambda count, request=request: looped(loop, request)(count)
        variants.append(
            Variant(
                full,
                "ASGI",
                requests[full],
                io=server is not None or "sqlite" in name,
                server=server,
                baseline=name == "starlette bare",
                peer=peer,
            )
        )
    for name, (wfactory, server, peer) in apps.wsgi_variants(urls).items():
        full = f"WSGI {name}"
        if (only and full not in only) or (server is not None and server not in urls):
            continue
        wsgi = wfactory(urls)
        opened.append(wsgi)
        cookie = _bare_cookie() if name == "flask bare" else apps.wsgi_login(wsgi)
        call = apps.wsgi_request(wsgi, cookie)

        def run(count: int, call: Any = call) -> None:
            for _ in range(count):
                call()

        requests[full] = run
        variants.append(
            Variant(
                full,
                "WSGI",
                run,
                io=server is not None,
                server=server,
                baseline=name == "flask bare",
                peer=peer,
            )
        )
    if "redis" in urls:
        variants.extend(_evalsha_floor(urls["redis"], loop, opened))
    return variants


def _evalsha_floor(url: str, loop: asyncio.AbstractEventLoop, opened: list[Any]) -> list[Variant]:
    """One bare EVALSHA of the check script on a live session, sync and async clients.

    The clients are built the way the store builds its own (same options,
    parser and pool), and the arguments are a real request's.
    """
    store = RedisStore(url)
    opened.append(types.SimpleNamespace(store=store))
    key = "bench-floor"
    now = time.time()
    client = store._client
    micros = str(round(now * 1e6))
    client.hset(store._key(key), mapping={"c": micros, "l": micros, "a": micros, "s": "user"})
    client.expire(store._key(key), 24 * 3600)
    client.script_load(CHECK.source)
    # A request within touch_interval of the last write, as almost every request is.
    call = store._check_call(key, apps.POLICY.limits, True, now + 1)
    arguments: tuple[Any, ...] = (CHECK.sha, 1, *call.keys, *call.args)

    def sync_run(count: int) -> None:
        for _ in range(count):
            client.evalsha(*arguments)

    async def one() -> None:
        await store._aclients().client().evalsha(*arguments)

    # The same call made by a middleware that does nothing else, around the same bare app:
    # what any guard that keeps its sessions in Redis must at least add to a request.
    bare_asgi = apps.starlette_app()

    async def evalsha_middleware(scope: Any, receive: Any, send: Any) -> None:
        await store._aclients().client().evalsha(*arguments)
        await bare_asgi(scope, receive, send)

    bare_wsgi = apps.flask_app(False).wsgi_app

    def evalsha_wsgi(environ: Any, start_response: Any) -> Any:
        client.evalsha(*arguments)
        return bare_wsgi(environ, start_response)

    asgi_request = apps.asgi_request(evalsha_middleware, _bare_cookie())
    wsgi_request = apps.wsgi_request(evalsha_wsgi, _bare_cookie())

    def wsgi_run(count: int) -> None:
        for _ in range(count):
            wsgi_request()

    return [
        Variant(
            "ASGI bare app + one EVALSHA",
            "ASGI",
            looped(loop, asgi_request),
            io=True,
            server="redis",
        ),
        Variant("WSGI bare app + one EVALSHA", "WSGI", wsgi_run, io=True, server="redis"),
        Variant("bare EVALSHA (sync client)", "redis floor", sync_run, io=True, server="redis"),
        Variant(
            "bare EVALSHA (async client)",
            "redis floor",
            looped(loop, one),
            io=True,
            server="redis",
        ),
    ]


def round_trips(servers: Servers, variant: Variant, count: int) -> str:
    """Commands (Redis) or transactions (PostgreSQL) per request, by the server's statistics."""
    if variant.server == "redis":
        client = redis.Redis.from_url(servers.urls["redis"], decode_responses=True)
        client.config_resetstat()
        variant.run(count)
        stats = client.info("commandstats")
        client.close()
        calls = {
            name.removeprefix("cmdstat_"): int(values["calls"])
            for name, values in stats.items()
            # PING is the push connections' health check (local decisions), once a second
            # per process whatever the traffic: not a request's round trip.
            if name.removeprefix("cmdstat_") not in {"info", "config", "ping", "subscribe"}
        }
        scripted = calls.get("evalsha", 0) + calls.get("eval", 0)
        if scripted:
            # Commands a script runs inside Redis are counted too; they are not round trips.
            sent = scripted
            inner = {k: v for k, v in calls.items() if k not in {"evalsha", "eval"}}
            detail = "EVALSHA" + (
                f" (inside: {', '.join(sorted(k.upper() for k in inner))})" if inner else ""
            )
        else:
            sent = sum(calls.values())
            detail = ", ".join(f"{k.upper()}" for k in sorted(calls))
        return f"{sent / count:.2f}" + (f" ({detail})" if detail else "")
    if variant.server == "postgresql":
        # A backend reports its counts at the end of a transaction at most once a second:
        # wait that second and make one more request, so every count has arrived.
        time.sleep(1.1)
        variant.run(1)
        before = servers.postgres_counters()
        variant.run(count)
        time.sleep(1.1)
        variant.run(1)
        after = servers.postgres_counters()
        # The first reading's own transaction arrives with the second.
        transactions = (after[0] - before[0] - 1) / (count + 1)
        lookups = (after[1] - before[1]) / (count + 1)
        return f"{transactions:.2f} txn, {lookups:.2f} index scans"
    return ""


def run_inprocess(
    servers: Servers, rounds: int, per_batch: int, only: set[str] | None = None
) -> tuple[list[Row], dict[str, Samples]]:
    """Time every variant; the table's rows and the raw samples."""
    loop = asyncio.new_event_loop()
    opened: list[Any] = []
    try:
        variants = build(servers, loop, only, opened)
        random.shuffle(variants)  # no variant always runs right after the same neighbour
        samples = interleaved(variants, rounds, per_batch)
        counts = {
            variant.name: round_trips(servers, variant, max(50, per_batch // 4))
            for variant in variants
            if variant.server is not None
        }
    finally:
        loop.run_until_complete(_close(opened))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    return rows_from(samples, counts), samples


def rows_from(samples: dict[str, Samples], counts: dict[str, str]) -> list[Row]:
    baselines = {s.variant.group: s for s in samples.values() if s.variant.baseline}
    rows = []
    order = sorted(samples.values(), key=lambda s: (s.variant.group, s.variant.peer, s.median))
    for entry in order:
        variant = entry.variant
        base = baselines.get(variant.group)
        wall = variant.io
        median = entry.median
        if base is not None:
            # Compared on the same clock as the variant itself.
            bare = base.median_by(wall)
            added, ratio = median - bare, median / bare
        else:
            added, ratio = median, 1.0
        rows.append(
            Row(
                variant.group,
                variant.name,
                median,
                entry.spread,
                added,
                ratio,
                variant.peer,
                counts.get(variant.name, ""),
                "wall" if wall else "cpu",
            )
        )
    return rows
