"""Litestar: ``middleware=[DefineMiddleware(IdleGuard, ...)]``, the way Litestar adds middleware.

Litestar builds an app's middleware once for each route handler, so each route has an
``IdleGuard`` of its own. ``asgi`` passes the store as a URL, as the other apps do;
``asgi_one_store`` passes one store object that every route's ``IdleGuard`` shares;
``asgi_wrapped`` wraps the whole Litestar app in one ``IdleGuard`` instead.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, MediaType, Request, WebSocket, get, post, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.middleware import DefineMiddleware
from litestar.response import Stream

import idleguard
from idleguard import IdleGuard
from idleguard.stores import from_url

from .common import Config, page, who


def asgi() -> Litestar:
    """The app, configured from the environment; each route's ``IdleGuard`` gets the store URL."""
    config = Config()
    return _app(config, config.asgi_options())


def asgi_one_store() -> Litestar:
    """The same app, with one store object shared by every route's ``IdleGuard``."""
    config = Config()
    return _app(config, {**config.asgi_options(), "store": from_url(config.store)})


def asgi_wrapped() -> IdleGuard:
    """The same app without middleware of Litestar's, wrapped whole in one ``IdleGuard``."""
    config = Config()
    # Litestar types an ASGI app with its own scope and event unions, idleguard with
    # mappings: mypy refuses a wrapping that works.
    return IdleGuard(_app(config, None), **config.asgi_options())  # type: ignore[arg-type]


def _app(config: Config, options: dict[str, Any] | None) -> Litestar:

    @post("/login", status_code=200)
    async def login(request: Request[Any, Any, Any], user: str) -> dict[str, str]:
        idleguard.begin(request, subject=user)
        return {"user": user}

    @get(["/me", "/poll"])
    async def me(request: Request[Any, Any, Any]) -> dict[str, Any]:
        return who(request)

    @post("/logout", status_code=200)
    async def logout(request: Request[Any, Any, Any]) -> dict[str, None]:
        idleguard.end(request)
        return {"user": None}

    @post("/upload", status_code=200)
    async def upload(request: Request[Any, Any, Any], token: str) -> dict[str, Any]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            config.note_upload(token, size)
        return {"size": size, **who(request)}

    @get("/download")
    async def download() -> Stream:
        return Stream(config.adownload_chunks(), media_type="application/octet-stream")

    @get("/page", media_type=MediaType.HTML)
    async def html_page(request: Request[Any, Any, Any]) -> str:
        return page(request)

    @websocket("/ws")
    async def echo(socket: WebSocket[Any, Any, Any]) -> None:
        await socket.accept()
        try:
            while True:
                await socket.send_text(await socket.receive_text())
        except WebSocketDisconnect:
            pass

    return Litestar(
        route_handlers=[login, me, logout, upload, download, html_page, echo],
        # Litestar types an ASGI app with its own scope and event unions, idleguard with
        # mappings: mypy refuses a middleware that works.
        middleware=[DefineMiddleware(IdleGuard, **options)] if options is not None else [],  # type: ignore[arg-type]
    )
