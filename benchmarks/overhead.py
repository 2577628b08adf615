"""Per-request cost idleguard adds over a bare app, measured in-process.

Each variant is called directly as an ASGI or WSGI app with a request that
carries a live session; batches of the variants are interleaved so a noisy
moment hurts them all alike, and the median of the batches is reported.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from idleguard import IdleGuard, IdleGuardWSGI, Policy
from idleguard.asgi import ASGIApp
from idleguard.identity import SignedCookie
from idleguard.stores import MemoryStore
from idleguard.wsgi import WSGIApp

SECRET = "benchmark-secret-0123456789abcdefghijkl"
POLICY = Policy(idle_timeout=1800, absolute_timeout=8 * 3600)


def starlette_bare() -> ASGIApp:
    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/", home)])


def flask_bare() -> WSGIApp:
    app = Flask(__name__)

    @app.get("/")
    def home() -> str:
        return "ok"

    return app.wsgi_app


def live_cookie(store: MemoryStore, clock: Callable[[], float]) -> str:
    """A signed cookie for a session that exists in ``store``."""
    from idleguard.core import SessionRecord

    credential, key = SignedCookie(SECRET).issue()
    now = clock()
    store.create(key, SessionRecord("user", None, now, now, now), POLICY.limits)
    return f"__Host-idleguard={credential}"


def asgi_scope(cookie: str | None) -> dict[str, Any]:
    headers = [
        (b"host", b"example.com"),
        (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0"),
        (b"accept", b"application/json"),
        (b"accept-encoding", b"gzip, deflate, br"),
        (b"accept-language", b"en-GB,en;q=0.9"),
    ]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("example.com", 443),
    }


def wsgi_environ(cookie: str | None) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "example.com",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "example.com",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0",
        "HTTP_ACCEPT": "application/json",
        "HTTP_ACCEPT_ENCODING": "gzip, deflate, br",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    return environ


def time_asgi(app: ASGIApp, scope: dict[str, Any], count: int) -> float:
    """Seconds per request over ``count`` calls."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    async def loop() -> float:
        start = time.perf_counter()
        for _ in range(count):
            await app(dict(scope), receive, send)
        return (time.perf_counter() - start) / count

    return asyncio.run(loop())


def time_wsgi(app: WSGIApp, environ: dict[str, Any], count: int) -> float:
    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        return None

    start = time.perf_counter()
    for _ in range(count):
        body = app(dict(environ), start_response)
        for _chunk in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return (time.perf_counter() - start) / count


def interleaved(
    variants: dict[str, Callable[[int], float]], batches: int, per_batch: int
) -> dict[str, list[float]]:
    """Run every variant ``batches`` times, interleaved; seconds per request for each batch."""
    for run in variants.values():
        run(per_batch)  # warm-up
    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(batches):
        for name, run in variants.items():
            results[name].append(run(per_batch))
    return results


def overhead(batches: int = 15, per_batch: int = 2000) -> list[dict[str, Any]]:
    """Median microseconds per request for each variant, and what idleguard adds."""
    clock = time.time
    asgi_store = MemoryStore()
    wsgi_store = MemoryStore()
    asgi_cookie = live_cookie(asgi_store, clock)
    wsgi_cookie = live_cookie(wsgi_store, clock)
    guarded_asgi = IdleGuard(starlette_bare(), secret_key=SECRET, policy=POLICY, store=asgi_store)
    guarded_wsgi = IdleGuardWSGI(flask_bare(), secret_key=SECRET, policy=POLICY, store=wsgi_store)
    bare_asgi, bare_wsgi = starlette_bare(), flask_bare()
    scope, guarded_scope = asgi_scope(asgi_cookie), asgi_scope(asgi_cookie)
    environ, guarded_environ = wsgi_environ(wsgi_cookie), wsgi_environ(wsgi_cookie)
    variants: dict[str, Callable[[int], float]] = {
        "starlette bare": lambda n: time_asgi(bare_asgi, scope, n),
        "starlette + idleguard memory": lambda n: time_asgi(guarded_asgi, guarded_scope, n),
        "flask bare": lambda n: time_wsgi(bare_wsgi, environ, n),
        "flask + idleguard memory": lambda n: time_wsgi(guarded_wsgi, guarded_environ, n),
    }
    results = interleaved(variants, batches, per_batch)
    medians = {name: statistics.median(values) * 1e6 for name, values in results.items()}
    spreads = {
        name: (statistics.quantiles(values, n=4)[2] - statistics.quantiles(values, n=4)[0]) * 1e6
        for name, values in results.items()
    }
    rows = []
    for bare, guarded in (
        ("starlette bare", "starlette + idleguard memory"),
        ("flask bare", "flask + idleguard memory"),
    ):
        for name in (bare, guarded):
            rows.append(
                {
                    "variant": name,
                    "median_us": medians[name],
                    "iqr_us": spreads[name],
                    "added_us": medians[name] - medians[bare],
                    "ratio": medians[name] / medians[bare],
                }
            )
    return rows


def table(rows: Iterable[dict[str, Any]]) -> str:
    lines = [
        "| variant | µs / request (median) | spread (IQR) | added µs | ratio to bare |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['variant']} | {row['median_us']:.1f} | {row['iqr_us']:.1f} "
            f"| {row['added_us']:+.1f} | {row['ratio']:.2f}x |"
        )
    return "\n".join(lines)
