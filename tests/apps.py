"""The same small app twice: Starlette behind IdleGuard, Flask behind IdleGuardWSGI.

Routes: ``POST /login?user=NAME`` signs in, ``GET /me`` tells who is signed in,
``POST /logout`` signs out, ``GET /poll`` is a passive poll, ``POST /upload``
reads its body in chunks, ``GET /download?chunks=N`` streams N chunks moving the
clock between them, ``GET /api/data`` is served to API keys.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from flask import Flask, Response, request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

import idleguard
from idleguard import IdleGuard, IdleGuardWSGI
from idleguard.asgi import ASGIApp
from idleguard.testing import SettableClock
from idleguard.wsgi import WSGIApp

SECRET = "test-secret-key-0123456789abcdefghijklmnop"
DOWNLOAD_STEP = 600.0  # seconds the clock moves between two downloaded chunks


def _who(info: idleguard.SessionInfo | None) -> dict[str, Any]:
    if info is None:
        return {"user": None}
    return {
        "user": info.subject,
        "tenant": info.tenant,
        "idle_remaining": info.idle_remaining,
        "absolute_remaining": info.absolute_remaining,
    }


def starlette_app(clock: SettableClock, **options: Any) -> ASGIApp:
    async def login(request: Request) -> PlainTextResponse:
        idleguard.begin(
            request,
            subject=request.query_params.get("user", "alice"),
            tenant=request.query_params.get("tenant"),
        )
        return PlainTextResponse("signed in")

    async def me(request: Request) -> JSONResponse:
        return JSONResponse(_who(idleguard.current(request)))

    async def logout(request: Request) -> PlainTextResponse:
        idleguard.end(request)
        return PlainTextResponse("signed out")

    async def upload(request: Request) -> JSONResponse:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return JSONResponse({"size": size, **_who(idleguard.current(request))})

    async def download(request: Request) -> StreamingResponse:
        count = int(request.query_params.get("chunks", "3"))

        async def chunks() -> AsyncIterator[bytes]:
            for index in range(count):
                if index:
                    clock.advance(DOWNLOAD_STEP)
                yield b"x" * 10

        return StreamingResponse(chunks())

    async def api_data(request: Request) -> JSONResponse:
        return JSONResponse({"data": 1})

    app = Starlette(
        routes=[
            Route("/login", login, methods=["POST"]),
            Route("/me", me),
            Route("/poll", me),
            Route("/logout", logout, methods=["POST"]),
            Route("/upload", upload, methods=["POST"]),
            Route("/download", download),
            Route("/api/data", api_data),
        ]
    )
    return IdleGuard(app, **_defaults(clock, options))


def flask_app(clock: SettableClock, **options: Any) -> WSGIApp:
    app = Flask(__name__)

    @app.post("/login")
    def login() -> str:
        idleguard.begin(
            request, subject=request.args.get("user", "alice"), tenant=request.args.get("tenant")
        )
        return "signed in"

    @app.get("/me")
    @app.get("/poll")
    def me() -> dict[str, Any]:
        return _who(idleguard.current(request))

    @app.post("/logout")
    def logout() -> str:
        idleguard.end(request)
        return "signed out"

    @app.post("/upload")
    def upload() -> dict[str, Any]:
        size = 0
        while True:
            chunk = request.stream.read(65536)
            if not chunk:
                break
            size += len(chunk)
        return {"size": size, **_who(idleguard.current(request))}

    @app.get("/download")
    def download() -> Response:
        count = int(request.args.get("chunks", "3"))

        def chunks() -> Iterator[bytes]:
            for index in range(count):
                if index:
                    clock.advance(DOWNLOAD_STEP)
                yield b"x" * 10

        return Response(chunks())

    @app.get("/api/data")
    def api_data() -> dict[str, Any]:
        return {"data": 1}

    return IdleGuardWSGI(app.wsgi_app, **_defaults(clock, options))


def _defaults(clock: SettableClock, options: dict[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "secret_key": SECRET,
        "clock": clock,
        "policy": idleguard.Policy(idle_timeout=900, absolute_timeout=4 * 3600, warn_before=60),
        "passive_paths": ["/poll"],
    }
    settings.update(options)
    return settings
