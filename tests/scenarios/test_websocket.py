"""WebSockets (ASGI only): checked at connect, messages are activity, closed when the session ends."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from idleguard import IdleGuard, Policy
from idleguard.testing import EventCollector, SettableClock
from tests.apps import SECRET, starlette_app
from tests.harness import AsgiHarness


class Socket:
    """One WebSocket connection driven by the test."""

    def __init__(self, app: Any, cookie: str, extensions: dict[str, Any] | None = None) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "wss",
            "path": "/ws",
            "raw_path": b"/ws",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"cookie", cookie.encode())],
            "client": ("127.0.0.1", 50001),
            "server": ("testserver", 443),
            "subprotocols": [],
            "extensions": extensions or {},
        }
        self.task = asyncio.ensure_future(app(scope, self.inbox.get, self.outbox.put))
        self.inbox.put_nowait({"type": "websocket.connect"})

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.outbox.get(), 2)

    async def say(self, text: str) -> dict[str, Any]:
        await self.inbox.put({"type": "websocket.receive", "text": text})
        return await self.next()

    async def close(self) -> None:
        await self.inbox.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(self.task, 2)


def build(clock: SettableClock, events: EventCollector) -> tuple[Any, AsgiHarness]:
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            pass

    inner = Starlette(routes=[WebSocketRoute("/ws", echo)])
    policy = Policy(idle_timeout=900, absolute_timeout=3600, warn_before=60)
    guarded = IdleGuard(
        inner,
        secret_key=SECRET,
        clock=clock,
        policy=policy,
        on_event=events,
        websocket_recheck=0.01,
    )
    # Sign in through the HTTP app sharing the same store.
    http = AsgiHarness(starlette_app(clock, store=guarded.store, policy=policy))
    return guarded, http


async def _login(http: AsgiHarness) -> str:
    response = await http.send_async("POST", "/login", {}, [])
    return response.all("set-cookie")[0].split(";")[0]


async def test_connect_refused_when_expired() -> None:
    clock, events = SettableClock(), EventCollector()
    app, http = build(clock, events)
    cookie = await _login(http)
    clock.advance(1000)
    socket = Socket(app, cookie)
    # Accepted and closed at once: a close before accept would reach the client as a bare 403.
    assert (await socket.next())["type"] == "websocket.accept"
    message = await socket.next()
    assert message == {"type": "websocket.close", "code": 4401, "reason": "session_expired"}
    await asyncio.wait_for(socket.task, 2)
    assert events.types() == ["session_expired_inactivity"]


async def test_a_server_with_the_http_response_extension_gets_an_http_refusal() -> None:
    clock, events = SettableClock(), EventCollector()
    app, http = build(clock, events)
    cookie = await _login(http)
    clock.advance(1000)
    socket = Socket(app, cookie, extensions={"websocket.http.response": {}})
    start = await socket.next()
    assert start["type"] == "websocket.http.response.start"
    assert start["status"] == 401
    body = await socket.next()
    assert body["type"] == "websocket.http.response.body"
    assert b'"session_expired"' in body["body"]


async def test_messages_keep_the_session_alive_and_silence_closes_it() -> None:
    clock, events = SettableClock(), EventCollector()
    app, http = build(clock, events)
    cookie = await _login(http)
    socket = Socket(app, cookie)
    assert (await socket.next())["type"] == "websocket.accept"
    for _ in range(3):
        clock.advance(800)
        assert (await socket.say("ping"))["text"] == "ping"
    clock.advance(901)  # silence past the idle limit: the watcher closes the socket
    closed = await socket.next()
    assert closed == {"type": "websocket.close", "code": 4401}
    await socket.close()
    assert events.types() == ["session_expired_inactivity"]


async def test_sign_out_elsewhere_closes_the_socket() -> None:
    clock, events = SettableClock(), EventCollector()
    app, http = build(clock, events)
    cookie = await _login(http)
    socket = Socket(app, cookie)
    assert (await socket.next())["type"] == "websocket.accept"
    await http.send_async("POST", "/logout", {"cookie": cookie}, [])
    assert (await socket.next())["code"] == 4401
    await socket.close()


async def test_a_step_up_path_refuses_the_socket_with_its_own_code() -> None:
    from idleguard import PathRule

    clock, events = SettableClock(), EventCollector()
    policy = Policy(idle_timeout=900, absolute_timeout=3600, warn_before=60)

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()

    inner = Starlette(routes=[WebSocketRoute("/ws", echo)])
    app = IdleGuard(
        inner,
        secret_key=SECRET,
        clock=clock,
        policy=policy,
        on_event=events,
        rules=[PathRule("/ws", authenticated_within=300)],
    )
    http = AsgiHarness(starlette_app(clock, store=app.store, policy=policy))
    cookie = await _login(http)
    clock.advance(301)  # signed in more than 5 minutes ago
    socket = Socket(app, cookie)
    assert (await socket.next())["type"] == "websocket.accept"
    message = await socket.next()
    assert message == {"type": "websocket.close", "code": 4403, "reason": "step_up_required"}
    await asyncio.wait_for(socket.task, 2)
    assert events.types() == ["step_up_required"]


async def test_a_sign_out_in_the_same_process_closes_its_sockets_at_once() -> None:
    """No store call per message, no recheck to wait for: the sign-out tells its sockets."""
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    import idleguard

    clock, events = SettableClock(), EventCollector()
    received: list[str] = []

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                text = await websocket.receive_text()
                received.append(text)
                await websocket.send_text(text)
        except WebSocketDisconnect:
            pass

    async def login(request: Request) -> PlainTextResponse:
        idleguard.begin(request, subject="alice")
        return PlainTextResponse("in")

    async def logout(request: Request) -> PlainTextResponse:
        idleguard.end(request)
        return PlainTextResponse("out")

    inner = Starlette(
        routes=[
            WebSocketRoute("/ws", echo),
            Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
        ]
    )
    # A recheck far longer than the test: only the sign-out itself can close the socket.
    app = IdleGuard(inner, secret_key=SECRET, clock=clock, on_event=events, websocket_recheck=3600)
    http = AsgiHarness(app)
    cookie = await _login(http)
    socket = Socket(app, cookie)
    assert (await socket.next())["type"] == "websocket.accept"
    assert (await socket.say("before"))["text"] == "before"
    await http.send_async("POST", "/logout", {"cookie": cookie}, [])
    assert await socket.next() == {"type": "websocket.close", "code": 4401}
    await socket.inbox.put({"type": "websocket.receive", "text": "after"})
    await asyncio.wait_for(socket.task, 2)
    assert received == ["before"], "no message reaches the app once the session is over"
