"""One small app behind the real ASGI or WSGI middleware, driven the same way from a test.

The scenario tests run every case over both adapters through :class:`Browser`,
which keeps cookies and speaks raw ASGI or WSGI: no framework, no mock.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import idleguard
from idleguard import IdleGuard, IdleGuardWSGI
from idleguard.stores.memory import MemoryStore
from idleguard.testing import EventCollector, SettableClock

SECRET = "a-test-secret-that-is-long-enough-0123456789"
ADAPTERS = ("asgi", "wsgi")


class CountingStore(MemoryStore):
    """The real memory store, counting the calls each request makes."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(clock=clock)
        self.calls: list[str] = []

    def check(self, *args: Any) -> Any:
        self.calls.append("check")
        return super().check(*args)

    def create(self, *args: Any) -> None:
        self.calls.append("create")
        super().create(*args)

    def end(self, *args: Any) -> Any:
        self.calls.append("end")
        return super().end(*args)

    def reauthenticate(self, *args: Any) -> bool:
        self.calls.append("reauthenticate")
        return super().reauthenticate(*args)


def _view(path: str, query: str, request: Any) -> tuple[int, dict[str, Any]]:
    """The app's routes, shared by the ASGI and WSGI versions."""
    params = {key: values[0] for key, values in parse_qs(query).items()}
    if path == "/login":
        idleguard.begin(request, subject=params.get("user", "alice"), tenant=params.get("tenant"))
        return 200, {"signed_in": True}
    if path == "/reauth":
        idleguard.reauthenticated(request)
        return 200, {"reauthenticated": True}
    if path == "/logout":
        idleguard.end(request)
        return 200, {"signed_out": True}
    session = idleguard.current(request)
    return 200, {
        "path": path,
        "session": session is not None,
        "explain": idleguard.explain(request),
    }


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    status, payload = _view(scope["path"], scope.get("query_string", b"").decode(), scope)
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    status, payload = _view(environ["PATH_INFO"], environ.get("QUERY_STRING", ""), environ)
    start_response(f"{status} OK", [("content-type", "application/json")])
    return [json.dumps(payload).encode()]


class Response:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def json(self) -> Any:
        return json.loads(self.body)


class Browser:
    """A client with a cookie jar, in front of one guarded app (``asgi`` or ``wsgi``)."""

    def __init__(self, adapter: str, **options: Any) -> None:
        self.adapter = adapter
        self.clock: SettableClock = options.pop("clock", None) or SettableClock()
        self.events = EventCollector()
        self.store = options.pop("store", None) or CountingStore(self.clock)
        settings: dict[str, Any] = {
            "secret_key": SECRET,
            "clock": self.clock,
            "on_event": self.events,
            "https_only": False,
            "store": self.store,
        }
        settings.update(options)
        self.guard: IdleGuard | IdleGuardWSGI
        if adapter == "asgi":
            self.guard = IdleGuard(asgi_app, **settings)
        else:
            self.guard = IdleGuardWSGI(wsgi_app, **settings)
        self.cookies: dict[str, str] = {}

    @property
    def policies(self) -> idleguard.PolicyEngine:
        return self.guard.policies

    def request(self, method: str, target: str, headers: dict[str, str] | None = None) -> Response:
        path, _, query = target.partition("?")
        sent = dict(headers or {})
        if self.cookies:
            sent["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.adapter == "asgi":
            response = asyncio.run(self._asgi(method, path, query, sent))
        else:
            response = self._wsgi(method, path, query, sent)
        for name, value in response.headers:
            if name.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                cookie_name, _, cookie_value = pair.partition("=")
                if "Max-Age=0" in value:
                    self.cookies.pop(cookie_name, None)
                else:
                    self.cookies[cookie_name] = cookie_value
        return response

    def get(self, target: str, headers: dict[str, str] | None = None) -> Response:
        return self.request("GET", target, headers)

    def post(self, target: str, headers: dict[str, str] | None = None) -> Response:
        return self.request("POST", target, headers)

    async def _asgi(self, method: str, path: str, query: str, headers: dict[str, str]) -> Response:
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "query_string": query.encode(),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(dict(message))

        assert isinstance(self.guard, IdleGuard)
        await self.guard(scope, receive, send)
        start = sent[0]
        body = b"".join(message.get("body", b"") for message in sent[1:])
        decoded = [(k.decode(), v.decode()) for k, v in start.get("headers", [])]
        return Response(start["status"], decoded, body)

    def _wsgi(self, method: str, path: str, query: str, headers: dict[str, str]) -> Response:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(b""),
        }
        for name, value in headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        started: dict[str, Any] = {}

        def start_response(status: str, response_headers: list[Any], exc_info: Any = None) -> Any:
            started["status"] = int(status.split()[0])
            started["headers"] = list(response_headers)
            return lambda data: None

        assert isinstance(self.guard, IdleGuardWSGI)
        chunks = self.guard(environ, start_response)
        body = b"".join(chunks)
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
        return Response(started["status"], started["headers"], body)
