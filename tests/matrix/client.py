"""The scenario client: what a user agent does against any cell, over real HTTP and WebSockets.

A :class:`Visitor` is one user agent with its own cookie jar (httpx). The slow transfers
move the app's clock between chunks instead of sleeping through the idle limit, and wait
for the app to have seen each chunk first, so the clock moves only once the bytes before
it were counted.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from .apps.common import CHUNK_SIZE, DOWNLOAD_CHUNKS, DOWNLOAD_PATIENCE, DOWNLOAD_STEP, IDLE_TIMEOUT
from .cells import Outcome
from .deploy import AppServer

__all__ = ["BROWSER", "IDLE", "Transfer", "Visitor", "closing", "wait_for_events"]

IDLE = IDLE_TIMEOUT
#: The headers of a browser navigating to a page.
BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
UPLOAD_CHUNKS = 4
#: How far the clock moves between two uploaded chunks, and once more after the last:
#: the whole upload takes longer than the idle limit.
UPLOAD_STEP = 300.0
#: Real seconds to wait for the app to note a chunk. A server that buffers the body never
#: lets it; past the first chunk the wait is short, but still long enough for the chunk to
#: reach the middleware of a server that streams to it while the framework buffers.
FIRST_CHUNK_PATIENCE = 2.0
CHUNK_PATIENCE = 0.5
TIMEOUT = httpx.Timeout(15.0)


@dataclasses.dataclass(frozen=True)
class Transfer:
    """How a slow upload or download went."""

    status: int
    outcome: Outcome
    #: The app read the body while it arrived (upload); the client got each chunk before
    #: the clock moved (download).
    streamed: bool
    body: Any = None


class Visitor:
    """One user agent: a cookie jar, JSON by default, browser headers on request."""

    def __init__(self, server: AppServer, cookie: str | None = None) -> None:
        self.server = server
        headers = {"accept": "application/json"}
        if cookie is not None:
            headers["cookie"] = cookie  # a copy of another agent's cookie, replayed
        self.http = httpx.Client(base_url=server.url, headers=headers, timeout=TIMEOUT)
        self.signed_in_as: str | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Visitor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def sign_in(self, user: str = "alice") -> None:
        response = self.http.post("/login", params={"user": user})
        assert response.status_code == 200, (response.status_code, response.text)
        assert self.cookie(), f"no session cookie from {response.headers}"
        assert self.user() == user
        self.signed_in_as = user

    def me(self, **headers: str) -> httpx.Response:
        return self.http.get("/me", headers=headers)

    def user(self) -> str | None:
        response = self.me()
        assert response.status_code == 200, (response.status_code, response.text)
        user: str | None = response.json()["user"]
        return user

    def cookie(self) -> str:
        """The ``Cookie`` header this agent sends now."""
        return "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())

    # -- slow transfers ----------------------------------------------------------
    def slow_upload(self) -> Transfer:
        """Upload ``UPLOAD_CHUNKS`` chunks, moving the clock between them and once after."""
        token = secrets.token_hex(8)
        noted = self.server.progress / token
        streamed = True
        clock = self.server.clock

        def read_size() -> int:
            try:
                return int(noted.read_text(encoding="ascii") or 0)
            except (FileNotFoundError, ValueError):
                return 0

        def chunks() -> Iterator[bytes]:
            nonlocal streamed
            for index in range(UPLOAD_CHUNKS):
                yield bytes([ord("A") + index]) * CHUNK_SIZE
                patience = FIRST_CHUNK_PATIENCE if streamed else CHUNK_PATIENCE
                deadline = time.monotonic() + patience
                while read_size() < (index + 1) * CHUNK_SIZE and time.monotonic() < deadline:
                    time.sleep(0.005)
                if read_size() < (index + 1) * CHUNK_SIZE:
                    streamed = False
                clock.advance(UPLOAD_STEP)

        size = UPLOAD_CHUNKS * CHUNK_SIZE
        response = self.http.post(
            "/upload",
            params={"token": token},
            content=chunks(),
            # A length, as a browser's form upload has: no server is asked to take chunked bodies.
            headers={"content-length": str(size), "content-type": "application/octet-stream"},
        )
        if response.status_code == 200:
            assert response.json()["size"] == size, response.text
        return Transfer(response.status_code, self._after(response), streamed, _json(response))

    def slow_download(self) -> Transfer:
        """Download the app's slow stream, moving the clock after each chunk arrives."""
        clock = self.server.clock
        received = 0
        started = time.monotonic()
        with self.http.stream("GET", "/download") as response:
            if response.status_code == 200:
                for data in response.iter_raw():
                    before = received // CHUNK_SIZE
                    received += len(data)
                    for _ in range(received // CHUNK_SIZE - before):
                        clock.advance(DOWNLOAD_STEP)
            else:
                response.read()
        assert response.status_code != 200 or received == DOWNLOAD_CHUNKS * CHUNK_SIZE
        # The app sends each chunk as soon as the clock moves, or once it has waited
        # DOWNLOAD_PATIENCE for it: only a server holding the response back makes it wait.
        streamed = time.monotonic() - started < DOWNLOAD_PATIENCE
        return Transfer(response.status_code, self._after(response), streamed, None)

    def _after(self, response: httpx.Response) -> Outcome:
        if response.status_code == 401:
            assert response.json() == {"error": "session_expired", "reason": "idle"}
            return Outcome.REFUSED
        assert response.status_code == 200, (response.status_code, response.text)
        after = self.me()
        if after.status_code == 401:
            return Outcome.NOT_EXTENDED
        assert after.json()["user"] == self.signed_in_as, after.text
        return Outcome.KEPT_ALIVE

    # -- WebSockets ----------------------------------------------------------------
    def websocket(self) -> ClientConnection:
        url = self.server.url.replace("http://", "ws://", 1) + "/ws"
        return connect(
            url, additional_headers={"cookie": self.cookie()}, open_timeout=5, close_timeout=2
        )

    def websocket_refusal(self) -> str:
        """What this agent's attempt to open a WebSocket comes to, as a short phrase."""
        try:
            with self.websocket() as socket:
                try:
                    socket.send("hello")
                    echoed = socket.recv(timeout=5)
                except ConnectionClosed as closed:
                    return closing(closed)
                return f"accepted, echoed {echoed!r}"
        except InvalidStatus as refused:
            return f"HTTP {refused.response.status_code}"


def wait_for_events(server: AppServer, subject: str, last: str) -> list[str]:
    """The types of ``subject``'s audit events, once one of type ``last`` is written (5 s at
    most), and a moment longer: a second one, which must not come, would come by then."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if any(event["type"] == last for event in server.events(subject)):
            time.sleep(0.3)
            break
        time.sleep(0.02)
    return [event["type"] for event in server.events(subject)]


def closing(closed: ConnectionClosed) -> str:
    """``close 4401`` for a close frame with that code; otherwise what happened instead."""
    if closed.rcvd is not None:
        return f"close {closed.rcvd.code}"
    return "connection dropped without a close frame"


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text
