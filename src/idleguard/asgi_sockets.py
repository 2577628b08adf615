"""The ASGI side of WebSockets: a live session's socket watched, and a refused handshake.

Every message a client sends on the socket is activity; the socket is closed with
`4401` when the session ends, found by a message, by the periodic recheck, or at once
when a request of this process signs the session out.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel

from .context import SessionContext
from .flow import Entry
from .guard import WEBSOCKET_SESSION_ENDED, Guard, websocket_refusal

__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send", "WatchedSocket", "refuse_handshake"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The ASGI extension that lets a WebSocket handshake be answered with an HTTP response.
_HTTP_RESPONSE = "websocket.http.response"


class WatchedSocket:
    """An open WebSocket of a live session: every message is activity; closed when it ends.

    Args:
        guard: The middleware's guard.
        app: The app the socket is for.
        recheck: Seconds between checks of the session against the store.
        context: The live session's context.
    """

    def __init__(self, guard: Guard, app: ASGIApp, recheck: float, context: SessionContext) -> None:
        self.guard = guard
        self.app = app
        self.recheck = recheck
        self.context = context
        self.closed = False
        # A sign-out or expiry found by another request of this process wakes
        # the watcher at once; other processes are seen at the next recheck.
        self.ended = anyio.Event()
        self.token = anyio.lowlevel.current_token()
        self.loop_thread = threading.get_ident()

    def _on_end(self) -> None:
        self.context.key = None
        if threading.get_ident() == self.loop_thread:
            self.ended.set()
        else:  # a sign-out handled on a worker thread (a sync view): hand it to the loop
            anyio.from_thread.run_sync(self.ended.set, token=self.token)

    async def run(self, scope: Scope, receive: Receive, send: Send) -> None:
        context, guard = self.context, self.guard
        assert context.key is not None
        forget = guard.flow.listen(context.key, self._on_end)
        clock = guard.settings.clock

        async def close_now() -> None:
            if not self.closed:
                self.closed = True
                await send({"type": "websocket.close", "code": WEBSOCKET_SESSION_ENDED})

        async def close_if_over(step: Any) -> None:
            await guard.emit(await guard.run(step))
            if context.key is None:
                await close_now()

        async def guarded_receive() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive":
                if context.key is not None:
                    now = clock()
                    if guard.flow.activity_due(context, now):
                        await close_if_over(guard.flow.keep_alive(context, now))
                if context.key is None:
                    # The session is over: this message must not reach the app.
                    await close_now()
                    return {"type": "websocket.disconnect", "code": WEBSOCKET_SESSION_ENDED}
            return message

        async def guarded_send(message: Message) -> None:
            if self.closed:
                return  # the socket was closed for the session; the app's late sends go nowhere
            if context.key is None:
                await close_now()
                return
            await send(message)

        async def watch() -> None:
            # The session can end with the socket silent, or be ended elsewhere.
            while not self.closed:
                with anyio.move_on_after(self.recheck):
                    await self.ended.wait()
                await close_if_over(guard.flow.keep_alive(context, clock(), activity=False))

        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(watch)
                try:
                    await self.app(scope, guarded_receive, guarded_send)
                finally:
                    tasks.cancel_scope.cancel()
        finally:
            forget()


async def refuse_handshake(scope: Scope, receive: Receive, send: Send, entry: Entry) -> None:
    """Refuse a WebSocket so the client learns why.

    Servers turn a close before the handshake is accepted into a bare HTTP
    403, so the code would never arrive: where the server offers the ASGI
    `websocket.http.response` extension the refusal is an HTTP answer with
    idleguard's own status and JSON; elsewhere the socket is accepted and
    closed at once with the code (4401, 4403 or 1013) and the reason.
    """
    code, reason = websocket_refusal(entry)
    message = await receive()  # the handshake
    if message["type"] != "websocket.connect":
        return
    reply = entry.reply
    if reply is not None and _HTTP_RESPONSE in (scope.get("extensions") or {}):
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
        await send(
            {"type": "websocket.http.response.start", "status": reply.status, "headers": headers}
        )
        await send({"type": "websocket.http.response.body", "body": reply.body})
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code, "reason": reason})
