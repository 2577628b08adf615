"""Tiny ASGI and WSGI apps for driving the middleware over each store."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import idleguard

SECRET = "s" * 40


def _answer(path: str, query: str, request: Any) -> tuple[int, dict[str, Any]]:
    """The app's behaviour, the same for ASGI and WSGI."""
    if path == "/login":
        subject = parse_qs(query).get("user", ["alice"])[0]
        idleguard.begin(request, subject=subject)
        return 200, {"signed_in": subject}
    if path == "/logout":
        idleguard.end(request)
        return 200, {"signed_out": True}
    if path == "/reauth":
        idleguard.reauthenticated(request)
        return 200, {"reauthenticated": True}
    session = idleguard.current(request)
    return 200, {"subject": session.subject if session is not None else None}


async def asgi_app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    status, payload = _answer(scope["path"], scope["query_string"].decode(), scope)
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    status, payload = _answer(environ["PATH_INFO"], environ.get("QUERY_STRING", ""), environ)
    start_response(f"{status} OK", [("content-type", "application/json")])
    return [json.dumps(payload).encode()]


def guarded_from_env() -> Any:
    """The ASGI app behind IdleGuard on the store named by ``IDLEGUARD_TEST_STORE``.

    For ``uvicorn --factory``: several servers started with the same
    environment share one store, as the workers of one deployment do.
    """
    import os

    from idleguard import IdleGuard, Policy

    return IdleGuard(
        asgi_app,
        store=os.environ["IDLEGUARD_TEST_STORE"],
        secret_key=SECRET,
        policy=Policy(idle_timeout=2.0, absolute_timeout=60.0, warn_before=1.0, touch_interval=0.2),
        https_only=False,
        login_url=None,
    )
