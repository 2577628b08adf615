"""A small session app that is not idleguard, with the faults ``idleguard verify`` must catch.

Each fault is one switch; with none switched on it enforces what it claims, so a passing run
against it shows the probes are not tied to idleguard. Its clock is the test's.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

__all__ = ["PASSWORD", "USER", "Faults", "faulty_app"]

USER = "qa@example.test"
PASSWORD = "correct horse battery staple"
COOKIE = "sid"


@dataclasses.dataclass(frozen=True)
class Faults:
    """What the app really does; the defaults are what it claims (15 min idle, 1 h absolute)."""

    idle: float = 900.0
    absolute: float = 3600.0
    passive_extends: bool = False
    keepalive_renews_absolute: bool = False
    secure_cookie: bool = True
    logout_invalidates: bool = True
    keeps_planted_id: bool = False
    #: Every other session lives twice the idle limit (two servers behind one balancer, say).
    uneven: bool = False


def faulty_app(clock: Callable[[], float], faults: Faults) -> Starlette:
    """The app, reading time from ``clock``."""
    sessions: dict[str, list[float]] = {}  # id -> [created, last activity, idle limit]
    lock = threading.Lock()
    attributes = "; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if faults.secure_cookie else "")

    def live(request: Request, activity: bool) -> str | None:
        sid = request.cookies.get(COOKIE)
        now = clock()
        with lock:
            times = sessions.get(sid or "")
            if sid is None or times is None:
                return None
            created, last, idle = times
            if now - last >= idle or now - created >= faults.absolute:
                del sessions[sid]
                return None
            if activity:
                times[1] = now
            return sid

    async def login(request: Request) -> Response:
        form = await request.form()
        if form.get("username") != USER or form.get("password") != PASSWORD:
            return JSONResponse({"error": "wrong"}, status_code=401)
        planted = request.cookies.get(COOKIE)
        sid = planted if faults.keeps_planted_id and planted else secrets.token_urlsafe(24)
        with lock:
            idle = faults.idle * (2 if faults.uneven and len(sessions) % 2 else 1)
            sessions[sid] = [clock(), clock(), idle]
        response = RedirectResponse("/me", status_code=303)
        response.headers.append("set-cookie", f"{COOKIE}={sid}{attributes}")
        return response

    async def me(request: Request) -> Response:
        if live(request, activity=True) is None:
            return JSONResponse({"error": "not_signed_in"}, status_code=401)
        return JSONResponse({"user": USER})

    async def poll(request: Request) -> Response:
        if live(request, activity=faults.passive_extends) is None:
            return JSONResponse({"error": "not_signed_in"}, status_code=401)
        return JSONResponse({"notifications": []})

    async def keepalive(request: Request) -> Response:
        sid = live(request, activity=True)
        if sid is None:
            return JSONResponse({"error": "not_signed_in"}, status_code=401)
        if faults.keepalive_renews_absolute:
            with lock:
                sessions[sid][0] = clock()
        return JSONResponse({"extended": True})

    async def logout(request: Request) -> Response:
        sid = request.cookies.get(COOKIE)
        if faults.logout_invalidates and sid is not None:
            with lock:
                sessions.pop(sid, None)
        # Either way the browser is told to forget the cookie: only the server side differs.
        response = RedirectResponse("/login", status_code=303)
        response.headers.append("set-cookie", f"{COOKIE}=; Max-Age=0{attributes}")
        response.headers["cache-control"] = "no-store"
        response.headers["clear-site-data"] = '"cookies"'
        return response

    async def public(request: Request) -> Response:
        return JSONResponse({"hello": "anyone"})

    return Starlette(
        routes=[
            Route("/public", public),
            Route("/login", login, methods=["POST"]),
            Route("/me", me),
            Route("/poll", poll),
            Route("/keepalive", keepalive, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
        ]
    )
