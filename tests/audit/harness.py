"""Two tiny apps, one ASGI and one WSGI, behind idleguard, and a cookie-keeping client for each.

The apps do what a real sign-in page does: ``POST /login?user=&tenant=`` calls
``begin``, ``POST /logout`` calls ``end``, ``POST /reauth`` calls
``reauthenticated``; every other path answers ``200``. No framework, so the
same scenario drives both adapters byte for byte.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any, Protocol
from urllib.parse import parse_qs

import idleguard
from idleguard import IdleGuard, IdleGuardWSGI

SECRET = "s" * 40

Headers = list[tuple[str, str]]


def _route(method: str, path: str, query: str, holder: Any) -> int:
    params = {name: values[0] for name, values in parse_qs(query).items()}
    if path == "/login" and method == "POST":
        idleguard.begin(holder, subject=params.get("user"), tenant=params.get("tenant"))
        return 200
    if path == "/logout" and method == "POST":
        idleguard.end(holder)
        return 200
    if path == "/reauth" and method == "POST":
        if idleguard.current(holder) is None:
            return 401
        idleguard.reauthenticated(holder)
        return 200
    return 200


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    status = _route(scope["method"], scope["path"], scope["query_string"].decode(), scope)
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    status = _route(
        environ["REQUEST_METHOD"], environ["PATH_INFO"], environ.get("QUERY_STRING", ""), environ
    )
    start_response(f"{status} X", [("content-type", "text/plain")])
    return [b"ok"]


class Client(Protocol):
    """One browser: keeps idleguard's cookie between requests."""

    cookie: str | None

    def request(
        self, method: str, path: str, query: str = "", headers: Headers | None = None
    ) -> int: ...


def _keep_cookie(client: Any, headers: Iterable[tuple[str, str]]) -> None:
    for name, value in headers:
        if name.lower() == "set-cookie":
            pair = value.split(";", 1)[0]
            client.cookie = None if pair.endswith("=") else pair


class AsgiClient:
    """Calls the ASGI middleware directly, one request per call."""

    def __init__(self, app: IdleGuard, peer: str = "198.51.100.7") -> None:
        self.app = app
        self.peer = peer
        self.cookie: str | None = None

    def request(
        self, method: str, path: str, query: str = "", headers: Headers | None = None
    ) -> int:
        return asyncio.run(self.arequest(method, path, query, headers))

    async def arequest(
        self, method: str, path: str, query: str = "", headers: Headers | None = None
    ) -> int:
        raw = [(name.lower().encode(), value.encode()) for name, value in headers or []]
        if self.cookie is not None:
            raw.append((b"cookie", self.cookie.encode()))
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "query_string": query.encode(),
            "headers": raw,
            "client": (self.peer, 50000),
        }
        sent: list[MutableMapping[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        start = sent[0]
        _keep_cookie(self, [(n.decode(), v.decode()) for n, v in start.get("headers", [])])
        status: int = start["status"]
        return status


class WsgiClient:
    """Calls the WSGI middleware directly, one request per call."""

    def __init__(self, app: IdleGuardWSGI, peer: str = "198.51.100.7") -> None:
        self.app = app
        self.peer = peer
        self.cookie: str | None = None

    def request(
        self, method: str, path: str, query: str = "", headers: Headers | None = None
    ) -> int:
        import io

        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REMOTE_ADDR": self.peer,
            "wsgi.input": io.BytesIO(b""),
        }
        for name, value in headers or []:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        if self.cookie is not None:
            environ["HTTP_COOKIE"] = self.cookie
        answer: dict[str, Any] = {}

        def start_response(status: str, response_headers: Headers, exc_info: Any = None) -> Any:
            answer["status"] = int(status.split()[0])
            answer["headers"] = response_headers
            return lambda data: None

        body = self.app(environ, start_response)
        try:
            b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        _keep_cookie(self, answer["headers"])
        status: int = answer["status"]
        return status


ADAPTERS = ("asgi", "wsgi")


def make_client(adapter: str, peer: str = "198.51.100.7", **options: Any) -> Client:
    """A client for a fresh guarded app on ``adapter`` ("asgi" or "wsgi")."""
    options.setdefault("secret_key", SECRET)
    options.setdefault("https_only", False)
    options.setdefault("login_url", None)
    if adapter == "asgi":
        return AsgiClient(IdleGuard(asgi_app, **options), peer)
    return WsgiClient(IdleGuardWSGI(wsgi_app, **options), peer)


def share_app(client: Client, peer: str = "198.51.100.7") -> Client:
    """Another browser on the same guarded app."""
    if isinstance(client, AsgiClient):
        return AsgiClient(client.app, peer)
    assert isinstance(client, WsgiClient)
    return WsgiClient(client.app, peer)
