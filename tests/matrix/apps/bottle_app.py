"""Bottle: the ``Bottle()`` app wrapped in ``IdleGuardWSGI``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import bottle

import idleguard
from idleguard import IdleGuardWSGI

from .common import CHUNK_SIZE, Config, page, who


def wsgi() -> IdleGuardWSGI:
    """The app, configured from the environment."""
    config = Config()
    app = bottle.Bottle()
    request = bottle.request

    @app.post("/login")
    def login() -> dict[str, Any]:
        user = request.query["user"]
        idleguard.begin(request, subject=user)
        return {"user": user}

    @app.get("/me")
    @app.get("/poll")
    def me() -> dict[str, Any]:
        return who(request)

    @app.post("/logout")
    def logout() -> dict[str, Any]:
        idleguard.end(request)
        return {"user": None}

    @app.post("/upload")
    def upload() -> dict[str, Any]:
        token = request.query["token"]
        size = 0
        # Bottle reads the whole body into request.body before the first read returns
        # (and rewinds it each time request.body is read, so it is read once).
        body = request.body
        while chunk := body.read(CHUNK_SIZE):
            size += len(chunk)
            config.note_upload(token, size)
        return {"size": size, **who(request)}

    @app.get("/download")
    def download() -> Iterator[bytes]:
        bottle.response.content_type = "application/octet-stream"
        return config.download_chunks()

    @app.get("/page")
    def html_page() -> str:
        return page(request)

    return IdleGuardWSGI(app, **config.options())
