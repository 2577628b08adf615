"""The ASGI adapter: scope in, request facts to the guard, the guard's answer out.

It decides nothing; see `idleguard.flow` for what happens to a request
and `idleguard.guard` for what every adapter shares. Async work runs on
anyio, so the middleware works under asyncio and trio alike.
"""

from __future__ import annotations

from typing import Any

from .asgi_sockets import ASGIApp, Message, Receive, Scope, Send, WatchedSocket, refuse_handshake
from .bodies import read_asgi_body
from .context import SessionContext
from .facts import HEADER_NAMES, RequestFacts, app_path, readings
from .flow import Entry
from .guard import (
    WEBSOCKET_SESSION_ENDED,
    WEBSOCKET_STEP_UP_REQUIRED,
    WEBSOCKET_STORE_UNAVAILABLE,
    Guard,
)
from .provider import MAX_LOGOUT_BODY
from .replies import Reply
from .settings import Settings
from .shared import shared_settings

__all__ = [
    "WEBSOCKET_SESSION_ENDED",
    "WEBSOCKET_STEP_UP_REQUIRED",
    "WEBSOCKET_STORE_UNAVAILABLE",
    "ASGIApp",
    "IdleGuard",
    "Message",
    "Receive",
    "Scope",
    "Send",
]

#: Raw header name -> the name idleguard reads it under (ASGI names are lower-case).
_NAMES = {name.encode("latin-1"): name for name in HEADER_NAMES}
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

    Works as `app.add_middleware(IdleGuard, ...)` in Starlette and FastAPI or
    wraps any ASGI app directly. The keyword options are the same for
    [`IdleGuardWSGI`][idleguard.IdleGuardWSGI].

    Args:
        app: The ASGI app to guard.
        websocket_recheck: Seconds between checks of an open WebSocket's session
            against the store (a sign-out in the same process closes its sockets
            at once).
        settings: A [`Settings`][idleguard.settings.Settings] built once and shared,
            instead of the options below: every middleware instance built from it
            shares one store and one policy engine (frameworks that build a
            middleware per route).
        **options: The settings, by keyword: see Other Parameters.

    Other Parameters:
        policy (Policy | str | TenantPolicy): The [`Policy`][idleguard.Policy]
            (limits in seconds), a preset name (`"pci-dss"`) or a
            [`TenantPolicy`][idleguard.TenantPolicy]. Default: 30 min idle, 8 h
            absolute, 2 min warning.
        idle_timeout (Duration): Applied over `policy` (a `Policy` or a preset
            name) or the default: `IdleGuard(app, idle_timeout="15m")`. A misspelt
            keyword names the closest.
        absolute_timeout (Duration): Applied over `policy`, as `idle_timeout`.
        warn_before (Duration): Applied over `policy`, as `idle_timeout`.
        touch_interval (Duration): Applied over `policy`, as `idle_timeout`.
        store (Store | str): A [`Store`][idleguard.stores.Store] or a store URL
            (see [`from_url`][idleguard.stores.from_url]). Default `memory://`.
        secret_key (str | bytes | Sequence[str | bytes]): Signs idleguard's session
            cookie; a list rotates keys (all verify, the first signs). Required
            unless `identity` guards the app's own credential.
        clock (Callable[[], float]): A zero-argument callable returning seconds
            since the epoch. Default `time.time`; tests pass a
            [`SettableClock`][idleguard.testing.SettableClock].
        on_event (EventHook | Sink | Iterable[EventHook | Sink]): Where each
            [`Event`][idleguard.Event] goes, redacted: a callable (sync: called at
            once; async: a task), an [`idleguard.audit`][idleguard.audit] sink
            (queued off the request path), or a list of them. A failing or slow
            sink never breaks or slows a request; lost events are counted and
            logged.
        redactor (Redactor): The [`Redactor`][idleguard.audit.Redactor] applied to
            every event first.
        counters (CounterHook): An object with `increment(name, labels, amount)`
            (e.g. [`CounterSet`][idleguard.audit.CounterSet]) for a metrics
            exporter.
        trusted_proxies (Iterable[str]): Addresses or networks of the reverse
            proxies in front of the app, as strings
            (`["10.0.0.0/8", "127.0.0.1", "::1"]`); a bad entry fails at start-up.
            Only a peer among them is believed about `X-Forwarded-For`: events then
            take the client address from its right end, past every entry that is
            itself a trusted proxy. Default: none, the peer is the client.
        trusted_proxy_depth (int): Instead of skipping trusted proxies, take the
            `N`-th `X-Forwarded-For` entry from the right (default 0: skip). Needs
            `trusted_proxies`, and applies only to requests whose peer is one of
            them.
        login_url (str | None): Where a browser whose session ended is sent
            (`303`, with `?reason=idle|absolute`). `None` answers `401` JSON to
            everyone. Default `/login`.
        identity (SignedCookie | AppCookie | BearerToken): How a request names its
            session: [`SignedCookie`][idleguard.SignedCookie] (default),
            [`AppCookie`][idleguard.AppCookie] or
            [`BearerToken`][idleguard.BearerToken].
        https_only (bool): `True` (default): cookies are `Secure` with the
            `__Host-` prefix. `False` is for plain-HTTP development only.
        passive_paths (Iterable[str]): Path prefixes whose requests are checked but
            never extend the session (a notification poll). The
            `X-Idleguard-Passive: 1` header does the same.
        exempt_paths (Iterable[str]): Path prefixes of requests that have no
            session (health checks, static files): served without a check, unless
            they carry a session credential, which is then checked passively.
        api_key_exempt (Callable[[Mapping[str, str]], bool] | None): A predicate
            over the request headers; true means the request carries an API key
            and has no session (a session credential beside it is still checked,
            passively). `None` exempts nothing.
        fail_open (bool): When the store is down: `False` (default) answers `503`;
            `True` serves the request unguarded. Both report `store_unavailable`.
        expired_response (Callable[[ReplySettings, RequestFacts, str], Reply]):
            `(settings, facts, reason) -> Reply` to replace the default answer.
        clear_site_data (bool): Send `Clear-Site-Data: "cookies"` on sign-out.
            Default `True`.
        store_timeout (float): Seconds an async store call may take before it
            counts as unavailable. Default 2.
        check_store_at_start (bool): Make one harmless store call when the
            middleware is built, and refuse to start (`ConfigError`, with the
            driver's message) if it fails. Default `False`.
        rules (Iterable[PathRule | DeviceRule]): Per-path and per-device rules
            ([`PathRule`][idleguard.PathRule], [`DeviceRule`][idleguard.DeviceRule]);
            see `docs/policies.md`.
        tenants (Mapping[str, Any] | TenantResolver): Per-tenant policies: a
            mapping from tenant to policy, or a resolver (sync or async) called
            with the tenant.
        users (Mapping[Any, Any] | UserResolver): Per-user choices: a mapping, or a
            resolver (sync or async) called with the subject and the tenant.
        policy_cache_ttl (float): Seconds a resolver's answer is reused. Default 30.
        step_up_url (str | None): Where a browser is sent when a rule asks for a
            fresh sign-in.
        explain_log (bool): Log why each request got the policy it got.
        policies (PolicyEngine): A [`PolicyEngine`][idleguard.PolicyEngine] built by
            the app, instead of `policy`, `rules`, `tenants` and `users`.
        endpoint_prefix (str): Where the browser client's endpoints (`status`,
            `keepalive`, `logout`, `idleguard.js`) are served. Default
            `/_idleguard/`.
        trusted_origins (Iterable[str]): Origins (`https://app.example.com`) besides
            the request's own `Host` that may call `keepalive` and `logout`: for a
            proxy that rewrites `Host`.
        identity_provider (IdentityProvider): Single sign-on: expiry ends the
            provider's session too, its back-channel logout ends ours (`docs/sso.md`).

    Raises:
        TypeError: Both `settings` and the options it is built from were given.
        ConfigError: An option makes no sense; the message says which and how to
            fix it.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        websocket_recheck: float = 5.0,
        settings: Settings | None = None,
        **options: Any,
    ) -> None:
        self.app = app
        if settings is None:
            settings = shared_settings(app, options, type(self).__name__)
        elif options:
            raise TypeError("pass either settings= or the options it is built from, not both")
        self.settings = settings
        self.guard = Guard(settings)
        self.flow = self.guard.flow
        self.store = settings.store
        self.websocket_recheck = websocket_recheck
        #: The policy engine: runtime changes with `guard.policies.aupdate(...)`.
        self.policies = settings.policies

    async def apurge_expired(self) -> list[Any]:
        """End the sessions past their deadline that no request discovered, and report them.

        See [`IdleGuardWSGI.purge_expired`][idleguard.IdleGuardWSGI.purge_expired];
        this one awaits the store.

        Returns:
            The events it reported, one per session ended.
        """
        return await self.guard.apurge_expired()

    def purge_expired(self) -> list[Any]:
        """The same from a thread (what [`Sweeper`][idleguard.Sweeper] calls): sync store calls.

        Returns:
            The events it reported, one per session ended.
        """
        return self.guard.purge_expired()

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
        root = scope.get("root_path", "") or ""
        path, routed = readings(app_path(scope["path"], root))
        return RequestFacts(
            "GET" if websocket else scope["method"],
            path,
            read_headers(scope["headers"]),
            websocket,
            query.decode("latin-1") if (query := scope.get("query_string")) else "",
            client[0] if client else None,
            routed,
            root.rstrip("/"),
        )

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        guard = self.guard
        facts = self._facts(scope)
        if guard.wants_body(facts):
            facts.body = await read_asgi_body(receive, MAX_LOGOUT_BODY)
        step = guard.enter(facts)
        # In-process stores are driven without a coroutine per call: this is
        # the path every request takes, and each await costs.
        in_place = guard.in_place(facts)
        entry: Entry = guard.run_sync(step) if in_place else await guard.run_awaited(step)
        if entry.events:
            await guard.emit(entry.events)
        if entry.reply is not None:
            await _send_reply(send, entry.reply)
            return
        context: SessionContext = entry.context
        scope["idleguard"] = context
        flow = guard.flow
        touch_if_due = guard.touch_if_due
        replaced = False

        async def guarded_send(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the app's answer was replaced; the rest of its body goes nowhere
            if message["type"] == "http.response.start":
                if context.has_headers:
                    added, events, failed = await guard.run(flow.leave(context))
                    await guard.emit(events)
                    if failed is not None:
                        replaced = True
                        await _send_reply(send, failed)
                        return
                    if added:
                        message = dict(message)
                        message["headers"] = merge_raw_headers(message.get("headers", []), added)
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
        guard = self.guard
        entry: Entry = await guard.run(guard.enter(self._facts(scope, websocket=True)))
        await guard.emit(entry.events)
        if entry.reply is not None:
            await refuse_handshake(scope, receive, send, entry)
            return
        context: SessionContext = entry.context
        scope["idleguard"] = context
        if context.key is None:
            await self.app(scope, receive, send)
            return
        await WatchedSocket(guard, self.app, self.websocket_recheck, context).run(
            scope, receive, send
        )


def merge_raw_headers(existing: Any, added: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """The app's (raw ASGI) headers plus ours; ours replace its `Cache-Control`."""
    replaced = {name.encode("latin-1") for name, _ in added if name == "cache-control"}
    merged = [(name, value) for name, value in existing if name.lower() not in replaced]
    merged.extend((name.encode("latin-1"), value.encode("latin-1")) for name, value in added)
    return merged


#: The name it had before.
merge_headers = merge_raw_headers


async def _send_reply(send: Send, reply: Reply) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in reply.headers]
    headers.append((b"content-length", str(len(reply.body)).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})
