"""Starlette, the reference ASGI app: ``Middleware(IdleGuard, ...)`` in the app's middleware list."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

import idleguard
from idleguard import IdleGuard

from .common import Config, page, who


def asgi() -> Starlette:
    """The app, configured from the environment."""
    config = Config()

    async def login(request: Request) -> JSONResponse:
        user = request.query_params["user"]
        idleguard.begin(request, subject=user)
        return JSONResponse({"user": user})

    async def me(request: Request) -> JSONResponse:
        return JSONResponse(who(request))

    async def logout(request: Request) -> JSONResponse:
        idleguard.end(request)
        return JSONResponse({"user": None})

    async def upload(request: Request) -> JSONResponse:
        token = request.query_params["token"]
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            config.note_upload(token, size)
        return JSONResponse({"size": size, **who(request)})

    async def download(request: Request) -> StreamingResponse:
        return StreamingResponse(config.adownload_chunks(), media_type="application/octet-stream")

    async def html_page(request: Request) -> HTMLResponse:
        return HTMLResponse(page(request))

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text(text)

    return Starlette(
        routes=[
            Route("/login", login, methods=["POST"]),
            Route("/me", me),
            Route("/poll", me),
            Route("/logout", logout, methods=["POST"]),
            Route("/upload", upload, methods=["POST"]),
            Route("/download", download),
            Route("/page", html_page),
            WebSocketRoute("/ws", echo),
        ],
        # mypy cannot match IdleGuard's constructor to Starlette's middleware-factory
        # protocol (examples/starlette_app.py says the same).
        middleware=[Middleware(IdleGuard, **config.asgi_options())],  # type: ignore[arg-type]
    )
