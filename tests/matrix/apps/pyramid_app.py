"""Pyramid: the app ``Configurator.make_wsgi_app()`` returns, wrapped in ``IdleGuardWSGI``."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

import idleguard
from idleguard import IdleGuardWSGI

from .common import CHUNK_SIZE, Config, page, who


def wsgi() -> IdleGuardWSGI:
    """The app, configured from the environment."""
    config = Config()

    def login(request: Request) -> dict[str, Any]:
        user = request.GET["user"]
        idleguard.begin(request, subject=user)
        return {"user": user}

    def me(request: Request) -> dict[str, Any]:
        return who(request)

    def logout(request: Request) -> dict[str, Any]:
        idleguard.end(request)
        return {"user": None}

    def upload(request: Request) -> dict[str, Any]:
        token = request.GET["token"]
        size = 0
        while chunk := request.body_file.read(CHUNK_SIZE):
            size += len(chunk)
            config.note_upload(token, size)
        return {"size": size, **who(request)}

    def download(request: Request) -> Response:
        return Response(app_iter=config.download_chunks(), content_type="application/octet-stream")

    def html_page(request: Request) -> Response:
        return Response(page(request), content_type="text/html")

    with Configurator() as pyramid:
        routes: list[tuple[str, Any, str, str | None]] = [
            ("login", login, "POST", "json"),
            ("me", me, "GET", "json"),
            ("poll", me, "GET", "json"),
            ("logout", logout, "POST", "json"),
            ("upload", upload, "POST", "json"),
            ("download", download, "GET", None),
            ("page", html_page, "GET", None),
        ]
        for name, view, method, renderer in routes:
            pyramid.add_route(name, f"/{name}")
            pyramid.add_view(view, route_name=name, request_method=method, renderer=renderer)
        app = pyramid.make_wsgi_app()
    return IdleGuardWSGI(app, **config.options())
