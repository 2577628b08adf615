"""Drive an ASGI or a WSGI app in-process with one interface, so one scenario suite runs over both.

The harness calls the app directly (no HTTP client in between) so a test can
move the clock between the chunks of an upload or a download.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any

import anyio

from idleguard.asgi import ASGIApp
from idleguard.wsgi import WSGIApp

BetweenChunks = Callable[[int], None]


@dataclasses.dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name]

    def json(self) -> Any:
        return json.loads(self.body)


class Harness:
    """A browser-like client: keeps cookies, sends requests, returns responses."""

    kind = "base"

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: Iterable[bytes] = (),
        between_chunks: BetweenChunks | None = None,
        cookies: bool = True,
    ) -> Response:
        sent = {name.lower(): value for name, value in (headers or {}).items()}
        if cookies and self.cookies and "cookie" not in sent:
            sent["cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        response = self._send(method, path, sent, list(body), between_chunks)
        for header in response.all("set-cookie"):
            self._remember(header)
        return response

    def get(self, path: str, **options: Any) -> Response:
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> Response:
        return self.request("POST", path, **options)

    def _remember(self, header: str) -> None:
        pair, _, attributes = header.partition(";")
        name, _, value = pair.partition("=")
        if "max-age=0" in attributes.lower():
            self.cookies.pop(name.strip(), None)
        else:
            self.cookies[name.strip()] = value.strip()

    def _send(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        chunks: list[bytes],
        between: BetweenChunks | None,
    ) -> Response:
        raise NotImplementedError


class AsgiHarness(Harness):
    kind = "asgi"

    def __init__(self, app: ASGIApp, root_path: str = "", backend: str = "asyncio") -> None:
        super().__init__()
        self.app = app
        #: The event loop each request runs on: ``"asyncio"`` or ``"trio"``.
        self.backend = backend
        #: Where the app is mounted: the scope's ``path`` starts with it, as servers send it.
        self.root_path = root_path

    def _send(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        chunks: list[bytes],
        between: BetweenChunks | None,
    ) -> Response:
        send = functools.partial(self.send_async, method, path, headers, chunks, between)
        return anyio.run(send, backend=self.backend)

    async def send_async(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        chunks: list[bytes],
        between: BetweenChunks | None = None,
    ) -> Response:
        raw_path, _, query = path.partition("?")
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "https",
            "path": self.root_path + raw_path,
            "raw_path": (self.root_path + raw_path).encode(),
            "query_string": query.encode(),
            "root_path": self.root_path,
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 443),
        }
        pending = list(chunks) or [b""]
        index = 0

        async def receive() -> dict[str, Any]:
            nonlocal index
            if index >= len(pending):
                await anyio.sleep(3600)  # the client never disconnects in these tests
            if index > 0 and between is not None:
                between(index)
            chunk = pending[index]
            index += 1
            return {"type": "http.request", "body": chunk, "more_body": index < len(pending)}

        status = 0
        response_headers: list[tuple[str, str]] = []
        body = bytearray()
        sent_chunks = 0

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status, sent_chunks
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers.extend(
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in message.get("headers", [])
                )
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                sent_chunks += 1

        await self.app(scope, receive, send)
        return Response(status, response_headers, bytes(body))


class _ChunkedInput(io.RawIOBase):
    """A ``wsgi.input`` that hands out one chunk per read and runs a callback between them."""

    def __init__(self, chunks: list[bytes], between: BetweenChunks | None) -> None:
        self._chunks = chunks
        self._index = 0
        self._between = between

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self._index >= len(self._chunks):
            return b""
        if self._index > 0 and self._between is not None:
            self._between(self._index)
        chunk = self._chunks[self._index]
        self._index += 1
        return chunk

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class WsgiHarness(Harness):
    kind = "wsgi"

    def __init__(self, app: WSGIApp) -> None:
        super().__init__()
        self.app = app

    def _send(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        chunks: list[bytes],
        between: BetweenChunks | None,
    ) -> Response:
        raw_path, _, query = path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": raw_path,
            "QUERY_STRING": query,
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "443",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https",
            "wsgi.input": _ChunkedInput(chunks, between),
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        total = sum(len(chunk) for chunk in chunks)
        if chunks:
            environ["CONTENT_LENGTH"] = str(total)
        for name, value in headers.items():
            if name == "content-type":
                environ["CONTENT_TYPE"] = value
            elif name == "content-length":
                environ["CONTENT_LENGTH"] = value
            else:
                environ["HTTP_" + name.upper().replace("-", "_")] = value
        captured: dict[str, Any] = {}

        def start_response(
            status: str, response_headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = list(response_headers)
            return lambda data: None

        result = self.app(environ, start_response)
        body = bytearray()
        try:
            iterator: Iterator[bytes] = iter(result)
            for chunk in iterator:
                body.extend(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return Response(captured["status"], captured["headers"], bytes(body))
