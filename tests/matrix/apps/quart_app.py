"""Quart: ``app.asgi_app = IdleGuard(app.asgi_app, ...)``, Quart's way to add ASGI middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator

from quart import Quart, Response, jsonify, request, websocket

import idleguard
from idleguard import IdleGuard

from .common import Config, page, who


def asgi() -> Quart:
    """The app, configured from the environment."""
    config = Config()
    app = Quart(__name__)
    # Quart types an ASGI app with its own scope and event unions, idleguard with mappings:
    # mypy refuses a wrapping that works, both ways.
    app.asgi_app = IdleGuard(app.asgi_app, **config.asgi_options())  # type: ignore[method-assign,assignment,arg-type]

    @app.post("/login")
    async def login() -> Response:
        user = request.args["user"]
        idleguard.begin(request, subject=user)
        return jsonify(user=user)

    @app.get("/me")
    @app.get("/poll")
    async def me() -> Response:
        return jsonify(who(request))

    @app.post("/logout")
    async def logout() -> Response:
        idleguard.end(request)
        return jsonify(user=None)

    @app.post("/upload")
    async def upload() -> Response:
        token = request.args["token"]
        size = 0
        async for chunk in request.body:
            size += len(chunk)
            config.note_upload(token, size)
        return jsonify(size=size, **who(request))

    @app.get("/download")
    async def download() -> Response:
        chunks: AsyncIterator[bytes] = config.adownload_chunks()
        return Response(chunks, mimetype="application/octet-stream")

    @app.get("/page")
    async def html_page() -> str:
        return page(request)

    @app.websocket("/ws")
    async def echo() -> None:
        await websocket.accept()
        while True:
            await websocket.send(await websocket.receive())

    return app
