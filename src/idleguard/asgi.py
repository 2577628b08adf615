"""The ASGI adapter: scope in, request facts to the flow, the flow's answer out.

It decides nothing; see :mod:`idleguard.flow` for what happens to a request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .context import SessionContext
from .events import Event, emit_async, emit_sync
from .facts import HEADER_NAMES, RequestFacts, app_path, readings
from .flow import Flow, Reply, drive_async, drive_sync
from .settings import Settings

__all__ = ["IdleGuard"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Raw header name -> the name idleguard reads it under (ASGI names are lower-case).
_NAMES = {name.encode("latin-1"): name for name in HEADER_NAMES}
#: Close code for a WebSocket whose session is over (4000-4999 are the app's own).
WEBSOCKET_SESSION_ENDED = 4401
WEBSOCKET_STORE_UNAVAILABLE = 1013
#: Close code for a WebSocket refused until the user authenticates again (step-up).
WEBSOCKET_STEP_UP_REQUIRED = 4403
#: Methods that carry no request body worth watching.
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS"})


def read_headers(raw_headers: Any) -> dict[str, str]:
    """The headers idleguard reads, from an ASGI header list."""
    headers: dict[str, str] = {}
    names = _NAMES
    for raw_name, raw_value in raw_headers:
        name = names.get(raw_name)
        if name is not None:
            value = raw_value.decode("latin-1")
            if name in headers:
                value = headers[name] + ("; " if name == "cookie" else ", ") + value
            headers[name] = value
    return headers


class IdleGuard:
    """ASGI middleware that enforces idle and absolute session timeouts on every request.

    Works as ``app.add_middleware(IdleGuard, ...)`` in Starlette and FastAPI or
    wraps any ASGI app directly. Keyword arguments (the same for
    :class:`~idleguard.IdleGuardWSGI`):

    ``policy``
        The :class:`~idleguard.Policy` (limits in seconds). Default: 30 min
        idle, 8 h absolute, 2 min warning.
    ``store``
        A :class:`~idleguard.stores.Store` or a store URL. Default ``memory://``.
    ``secret_key``
        Signs idleguard's session cookie; a list rotates keys (all verify, the
        first signs). Required unless ``identity`` guards the app's own credential.
    ``clock``
        A zero-argument callable returning seconds since the epoch. Default
        :func:`time.time`; tests pass a settable clock.
    ``on_event``
        Where each :class:`~idleguard.events.Event` goes, redacted: a callable
        (sync: called at once; async: a task), an :mod:`idleguard.audit` sink
        (queued off the request path), or a list of them. A failing or slow sink
        never breaks or slows a request; lost events are counted and logged.
    ``redactor``
        The :class:`~idleguard.audit.Redactor` applied to every event first.
    ``counters``
        An object with ``increment(name, labels, amount)`` (e.g.
        :class:`~idleguard.audit.CounterSet`) for a metrics exporter.
    ``trusted_proxies``
        Addresses or networks of the reverse proxies in front of the app, as
        strings (``["10.0.0.0/8", "127.0.0.1", "::1"]``); a bad entry fails at
        start-up. Only a peer among them is believed about ``X-Forwarded-For``:
        events then take the client address from its right end, past every
        entry that is itself a trusted proxy. Default: none, the peer is the client.
    ``trusted_proxy_depth``
        Instead of skipping trusted proxies, take the ``N``-th ``X-Forwarded-For``
        entry from the right (default 0: skip). Needs ``trusted_proxies``, and
        applies only to requests whose peer is one of them.
    ``login_url``
        Where a browser whose session ended is sent (``303``, with
        ``?reason=idle|absolute``). ``None`` answers ``401`` JSON to everyone.
    ``identity``
        How a request names its session: :class:`~idleguard.SignedCookie`
        (default), :class:`~idleguard.AppCookie` or :class:`~idleguard.BearerToken`.
    ``https_only``
        ``True`` (default): cookies are ``Secure`` with the ``__Host-`` prefix.
        ``False`` is for plain-HTTP development only.
    ``passive_paths``
        Path prefixes whose requests are checked but never extend the session
        (a notification poll). The ``X-Idleguard-Passive: 1`` header does the same.
    ``exempt_paths``
        Path prefixes neither checked nor touched (health checks, static files).
    ``api_key_exempt``
        A predicate over the request headers; true means the request carries an
        API key and is neither checked nor touched. ``None`` exempts nothing.
    ``fail_open``
        When the store is down: ``False`` (default) answers ``503``; ``True``
        serves the request unguarded. Both report ``store_unavailable``.
    ``expired_response``
        ``(settings, facts, reason) -> Reply`` to replace the default answer.
    ``clear_site_data``
        Send ``Clear-Site-Data: "cookies"`` on sign-out. Default ``True``.
    ``store_timeout``
        Seconds an async store call may take before it counts as unavailable.
    ``rules``, ``tenants``, ``users``, ``policy_cache_ttl``, ``step_up_url``, ``explain_log``
        Per-path and per-device rules, per-tenant and per-user policies, step-up
        and explain; see :class:`~idleguard.PolicyEngine` and ``docs/policies.md``.
        ``policy`` also takes a preset name (``"pci-dss"``) or a ``TenantPolicy``.
    ``policies``
        A :class:`~idleguard.PolicyEngine` built by the app, instead of the above.
    ``websocket_recheck``
        Seconds between checks of an open WebSocket's session. Default 5.
    ``endpoint_prefix``
        Where the browser client's endpoints (``status``, ``keepalive``,
        ``logout``, ``idleguard.js``) are served. Default ``/_idleguard/``.
    ``trusted_origins``
        Origins (``https://app.example.com``) besides the request's own ``Host``
        that may call ``keepalive`` and ``logout``: for a proxy that rewrites ``Host``.
    """

    def __init__(self, app: ASGIApp, *, websocket_recheck: float = 5.0, **options: Any) -> None:
        self.app = app
        self.settings = Settings(**options)
        self.flow = Flow(self.settings)
        self.store = self.settings.store
        self.websocket_recheck = websocket_recheck
        #: The policy engine: runtime changes with ``guard.policies.aupdate(...)``.
        self.policies = self.settings.policies
        # An in-process store never blocks: skip the awaits and timeouts (unless a
        # policy resolver may need awaiting).
        self._in_process = not getattr(self.store, "remote", False) and not (
            self.policies.may_await
        )

    async def _run(self, step: Any) -> Any:
        if self._in_process:
            return drive_sync(self.store, step)
        return await drive_async(self.store, step, self.settings.store_timeout)

    async def _emit(self, events: list[Event]) -> None:
        if events and self.settings.hooks:
            await emit_async(self.settings.hooks, events)

    async def apurge_expired(self) -> list[Event]:
        """End the sessions past their deadline that no request discovered, and report them.

        See :meth:`idleguard.IdleGuardWSGI.purge_expired`; this one awaits the store.
        """
        events: list[Event] = await self._run(self.flow.sweep(self.settings.clock()))
        await self._emit(events)
        return events

    def purge_expired(self) -> list[Event]:
        """The same from a thread (what :class:`idleguard.Sweeper` calls): sync store calls."""
        events: list[Event] = drive_sync(self.store, self.flow.sweep(self.settings.clock()))
        if events and self.settings.hooks:
            emit_sync(self.settings.hooks, events)
        return events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self.app(scope, receive, self._flush_on_shutdown(send))
        else:
            await self.app(scope, receive, send)

    def _flush_on_shutdown(self, send: Send) -> Send:
        async def guarded_send(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.settings.audit.aclose()  # deliver queued audit events before exit
            await send(message)

        return guarded_send

    def _facts(self, scope: Scope, websocket: bool = False) -> RequestFacts:
        client = scope.get("client")
        path, routed = readings(app_path(scope["path"], scope.get("root_path", "")))
        return RequestFacts(
            "GET" if websocket else scope["method"],
            path,
            read_headers(scope["headers"]),
            websocket,
            query.decode("latin-1") if (query := scope.get("query_string")) else "",
            client[0] if client else None,
            routed,
        )

    async def _touch_if_due(self, context: SessionContext) -> None:
        """Count a streamed chunk as activity, at most once per ``touch_interval``."""
        if context.key is not None and context.activity:
            now = self.settings.clock()
            if self.flow.activity_due(context, now):
                await self._emit(await self._run(self.flow.keep_alive(context, now)))

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        step = self.flow.enter(self._facts(scope))
        # In-process stores are driven without a coroutine per call: this is
        # the path every request takes, and each await costs.
        if self._in_process:
            entry = drive_sync(self.store, step)
        else:
            entry = await drive_async(self.store, step, self.settings.store_timeout)
        if entry.events:
            await self._emit(entry.events)
        if entry.reply is not None:
            await _send_reply(send, entry.reply)
            return
        context: SessionContext = entry.context
        scope["idleguard"] = context
        flow = self.flow
        touch_if_due = self._touch_if_due

        replaced = False

        async def guarded_send(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the app's answer was replaced; the rest of its body goes nowhere
            if message["type"] == "http.response.start":
                if context.has_headers:
                    added, events, failed = await self._run(flow.leave(context))
                    await self._emit(events)
                    if failed is not None:
                        replaced = True
                        await _send_reply(send, failed)
                        return
                    if added:
                        message = dict(message)
                        message["headers"] = merge_headers(message.get("headers", []), added)
            elif message.get("more_body") and context.key is not None:
                # A long download is activity while its bytes flow.
                await touch_if_due(context)
            await send(message)

        if scope["method"] in _BODYLESS or context.key is None:
            await self.app(scope, receive, guarded_send)
            return

        async def guarded_receive() -> Message:
            message = await receive()
            if message.get("more_body") and message["type"] == "http.request":
                # A long upload is activity while its bytes flow.
                await touch_if_due(context)
            return message

        await self.app(scope, guarded_receive, guarded_send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        entry = await self._run(self.flow.enter(self._facts(scope, websocket=True)))
        await self._emit(entry.events)
        if entry.reply is not None:
            if entry.reply.status == 503:
                code, reason = WEBSOCKET_STORE_UNAVAILABLE, "store_unavailable"
            elif entry.context.step_up is not None:
                code, reason = WEBSOCKET_STEP_UP_REQUIRED, "step_up_required"
            else:
                code, reason = WEBSOCKET_SESSION_ENDED, "session_expired"
            message = await receive()  # the handshake: refuse it
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.close", "code": code, "reason": reason})
            return
        context: SessionContext = entry.context
        scope["idleguard"] = context
        if context.key is None:
            await self.app(scope, receive, send)
            return
        flow = self.flow
        clock = self.settings.clock
        closed = asyncio.Event()
        # A sign-out or expiry found by another request of this process wakes
        # the watcher at once; other processes are seen at the next recheck.
        ended = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_end() -> None:
            context.key = None
            loop.call_soon_threadsafe(ended.set)

        forget = flow.listen(context.key, on_end)

        async def close_now() -> None:
            if not closed.is_set():
                closed.set()
                await send({"type": "websocket.close", "code": WEBSOCKET_SESSION_ENDED})

        async def close_if_over(step: Any) -> None:
            await self._emit(await self._run(step))
            if context.key is None:
                await close_now()

        async def guarded_receive() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive":
                if context.key is not None:
                    now = clock()
                    if flow.activity_due(context, now):
                        await close_if_over(flow.keep_alive(context, now))
                if context.key is None:
                    # The session is over: this message must not reach the app.
                    await close_now()
                    return {"type": "websocket.disconnect", "code": WEBSOCKET_SESSION_ENDED}
            return message

        async def guarded_send(message: Message) -> None:
            if closed.is_set():
                return  # the socket was closed for the session; the app's late sends go nowhere
            if context.key is None:
                await close_now()
                return
            await send(message)

        async def watch() -> None:
            # The session can end with the socket silent, or be ended elsewhere.
            while not closed.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(ended.wait(), self.websocket_recheck)
                await close_if_over(flow.keep_alive(context, clock(), activity=False))

        watcher = asyncio.ensure_future(watch())
        try:
            await self.app(scope, guarded_receive, guarded_send)
        finally:
            forget()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


def merge_headers(existing: Any, added: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """The app's headers plus ours; ours replace its ``Cache-Control``."""
    replaced = {name.encode("latin-1") for name, _ in added if name == "cache-control"}
    merged = [(name, value) for name, value in existing if name.lower() not in replaced]
    merged.extend((name.encode("latin-1"), value.encode("latin-1")) for name, value in added)
    return merged


async def _send_reply(send: Send, reply: Reply) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in reply.headers]
    headers.append((b"content-length", str(len(reply.body)).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})
