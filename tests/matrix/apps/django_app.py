"""Django, two ways: ``IdleGuardMiddleware`` in ``MIDDLEWARE``, and Django's WSGI or ASGI
application object wrapped in ``IdleGuardWSGI`` / ``IdleGuard``.

This module is also the project's URLconf (``ROOT_URLCONF``). Django is configured once per
process, by whichever factory the server calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.handlers.asgi import ASGIRequest
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

import idleguard
from idleguard import IdleGuard, IdleGuardWSGI

from .common import CHUNK_SIZE, POLICY, Config, page, who

MIDDLEWARE = "idleguard.integrations.django.IdleGuardMiddleware"
_config: Config | None = None


def _configure(middleware: list[str]) -> Config:
    global _config
    config = _config = Config()
    settings.configure(
        DEBUG=False,
        SECRET_KEY=config.secret,
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["127.0.0.1"],
        INSTALLED_APPS=["idleguard.integrations.django"],
        MIDDLEWARE=middleware,
        # Read only by IdleGuardMiddleware: the same policy the wrapped cells pass in code.
        IDLEGUARD={
            "clock": config.clock,
            "store": config.store,
            "policy": POLICY,
            "https_only": False,
            "passive_paths": ["/poll"],
            "on_event": config.audit,
        },
    )
    return config


def wsgi_middleware() -> Any:
    """Django's WSGI application with ``IdleGuardMiddleware``."""
    _configure([MIDDLEWARE])
    return get_wsgi_application()


def asgi_middleware() -> Any:
    """Django's ASGI application with ``IdleGuardMiddleware``."""
    _configure([MIDDLEWARE])
    return get_asgi_application()


def wsgi_wrapped() -> IdleGuardWSGI:
    """Django's WSGI application object wrapped in ``IdleGuardWSGI``, as in a project's wsgi.py."""
    config = _configure([])
    return IdleGuardWSGI(get_wsgi_application(), **config.options())


def asgi_wrapped() -> IdleGuard:
    """Django's ASGI application object wrapped in ``IdleGuard``, as in a project's asgi.py."""
    config = _configure([])
    # Django types the scope as dict and each sent message as Mapping, idleguard as
    # MutableMapping: mypy refuses a wrapping that works.
    return IdleGuard(get_asgi_application(), **config.asgi_options())  # type: ignore[arg-type]


def config() -> Config:
    assert _config is not None, "Django is served only through one of this module's factories"
    return _config


@require_POST
def login(request: HttpRequest) -> HttpResponse:
    user = request.GET["user"]
    idleguard.begin(request, subject=user)
    return JsonResponse({"user": user})


@require_GET
def me(request: HttpRequest) -> HttpResponse:
    return JsonResponse(who(request))


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    idleguard.end(request)
    return JsonResponse({"user": None})


@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    token = request.GET["token"]
    size = 0
    while chunk := request.read(CHUNK_SIZE):
        size += len(chunk)
        config().note_upload(token, size)
    return JsonResponse({"size": size, **who(request)})


@require_GET
def download(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    # Django serves an async iterator under ASGI and a sync one under WSGI without a warning.
    chunks: AsyncIterator[bytes] | Iterator[bytes] = (
        config().adownload_chunks()
        if isinstance(request, ASGIRequest)
        else config().download_chunks()
    )
    return StreamingHttpResponse(chunks, content_type="application/octet-stream")


@require_GET
def html_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(page(request))


urlpatterns = [
    path("login", login),
    path("me", me),
    path("poll", me),
    path("logout", logout),
    path("upload", upload),
    path("download", download),
    path("page", html_page),
]
