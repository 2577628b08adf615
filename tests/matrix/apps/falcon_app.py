"""Falcon, both of its apps: ``falcon.asgi.App`` wrapped in ``IdleGuard``, ``falcon.App`` in
``IdleGuardWSGI``. Falcon's own middleware sees one request object at a time; idleguard
belongs around the app, where it sees the bytes flow."""

from __future__ import annotations

import falcon
import falcon.asgi

import idleguard
from idleguard import IdleGuard, IdleGuardWSGI

from .common import CHUNK_SIZE, Config, page, who


class Session:
    """``/login``, ``/me``, ``/poll``, ``/logout`` and ``/page``, for the WSGI app."""

    def on_post_login(self, req: falcon.Request, resp: falcon.Response) -> None:
        user = req.get_param("user", required=True)
        idleguard.begin(req, subject=user)
        resp.media = {"user": user}

    def on_get_me(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = who(req)

    def on_post_logout(self, req: falcon.Request, resp: falcon.Response) -> None:
        idleguard.end(req)
        resp.media = {"user": None}

    def on_get_page(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.text = page(req)


class Transfers:
    """``/upload`` and ``/download``, for the WSGI app."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def on_post_upload(self, req: falcon.Request, resp: falcon.Response) -> None:
        token = req.get_param("token", required=True)
        size = 0
        while chunk := req.bounded_stream.read(CHUNK_SIZE):
            size += len(chunk)
            self.config.note_upload(token, size)
        resp.media = {"size": size, **who(req)}

    def on_get_download(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "application/octet-stream"
        resp.stream = self.config.download_chunks()


def wsgi() -> IdleGuardWSGI:
    """The WSGI app, configured from the environment."""
    config = Config()
    app = falcon.App()
    session, transfers = Session(), Transfers(config)
    app.add_route("/login", session, suffix="login")
    app.add_route("/me", session, suffix="me")
    app.add_route("/poll", session, suffix="me")
    app.add_route("/logout", session, suffix="logout")
    app.add_route("/page", session, suffix="page")
    app.add_route("/upload", transfers, suffix="upload")
    app.add_route("/download", transfers, suffix="download")
    # Falcon's start_response returns None where idleguard's returns object: mypy refuses
    # a wrapping that works.
    return IdleGuardWSGI(app, **config.options())  # type: ignore[arg-type]


class AsyncSession:
    """``/login``, ``/me``, ``/poll``, ``/logout`` and ``/page``, for the ASGI app."""

    async def on_post_login(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        user = req.get_param("user", required=True)
        idleguard.begin(req, subject=user)
        resp.media = {"user": user}

    async def on_get_me(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = who(req)

    async def on_post_logout(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        idleguard.end(req)
        resp.media = {"user": None}

    async def on_get_page(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.text = page(req)


class AsyncTransfers:
    """``/upload``, ``/download`` and the WebSocket echo, for the ASGI app."""

    def __init__(self, config: Config) -> None:
        self.config = config

    async def on_post_upload(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        token = req.get_param("token", required=True)
        size = 0
        async for chunk in req.stream:
            size += len(chunk)
            self.config.note_upload(token, size)
        resp.media = {"size": size, **who(req)}

    async def on_get_download(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.content_type = "application/octet-stream"
        resp.stream = self.config.adownload_chunks()

    async def on_websocket_ws(self, req: falcon.asgi.Request, ws: falcon.asgi.WebSocket) -> None:
        await ws.accept()
        try:
            while True:
                await ws.send_text(await ws.receive_text())
        except falcon.WebSocketDisconnected:
            pass


def asgi() -> IdleGuard:
    """The ASGI app, configured from the environment."""
    config = Config()
    app = falcon.asgi.App()
    session, transfers = AsyncSession(), AsyncTransfers(config)
    app.add_route("/login", session, suffix="login")
    app.add_route("/me", session, suffix="me")
    app.add_route("/poll", session, suffix="me")
    app.add_route("/logout", session, suffix="logout")
    app.add_route("/page", session, suffix="page")
    app.add_route("/upload", transfers, suffix="upload")
    app.add_route("/download", transfers, suffix="download")
    app.add_route("/ws", transfers, suffix="ws")
    # Falcon types the scope and sent messages as dict, idleguard as MutableMapping: mypy
    # refuses a wrapping that works.
    return IdleGuard(app, **config.asgi_options())  # type: ignore[arg-type]
