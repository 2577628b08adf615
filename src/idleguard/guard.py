"""What every adapter shares: one guard per configuration, over the flow and the endpoints.

The ASGI and WSGI middleware, the Django middleware and the Flask extension
each only translate their framework's I/O into `RequestFacts`
and back. Everything else they need is here once: which step answers a
request (the client endpoints or the flow), how its store calls are driven
(sync, or awaited with a timeout), where events go, how headers are merged,
the sweep, and what a refused WebSocket is told.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from .context import SessionContext
from .endpoints import serve
from .events import Event, emit_async, emit_sync
from .facts import RequestFacts
from .flow import Entry, Flow
from .provider import BACKCHANNEL_LOGOUT
from .settings import Settings
from .steps import StepOf, drive_async, drive_sync

__all__ = [
    "WEBSOCKET_SESSION_ENDED",
    "WEBSOCKET_STEP_UP_REQUIRED",
    "WEBSOCKET_STORE_UNAVAILABLE",
    "Guard",
    "merge_headers",
    "websocket_refusal",
]

logger = logging.getLogger("idleguard")

#: Close code for a WebSocket whose session is over (4000-4999 are the app's own).
WEBSOCKET_SESSION_ENDED = 4401
#: Close code for a WebSocket refused until the user authenticates again (step-up).
WEBSOCKET_STEP_UP_REQUIRED = 4403
#: Close code for a WebSocket refused because the store cannot answer ("try again later").
WEBSOCKET_STORE_UNAVAILABLE = 1013
#: How many signed cookies with no record, within a minute, suggest several processes
#: each keeping its own memory store.
_STRANGERS_BEFORE_WARNING = 20


class Guard:
    """The settings of one middleware, its flow, and the calls every adapter makes around it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.flow = Flow(settings)
        self.store = settings.store
        #: The policy engine: runtime changes with `guard.policies.update(...)`.
        self.policies = settings.policies
        # An in-process store never blocks: drive it without awaits or timeouts,
        # unless a policy resolver may need awaiting.
        self.in_process = not self.store.remote and not self.policies.may_await
        self._provider = settings.identity_provider
        self._body_path = (
            None
            if settings.identity_provider is None
            else settings.endpoint_prefix + BACKCHANNEL_LOGOUT
        )
        self._strangers: list[float] = []
        self._warned = False

    # -- the steps ------------------------------------------------------------
    def enter(self, facts: RequestFacts) -> StepOf:
        """The step that answers `facts`: a client endpoint, or the flow's check.

        Returns an `Entry`. Any error that is not the
        store's own (a bug here, in a store or in a resolver) is logged with its
        traceback and refused: it never reads as an outage, so `fail_open`
        cannot let it through.
        """
        try:
            if facts.path.startswith(self.settings.endpoint_prefix) and not facts.websocket:
                entry: Entry = yield from serve(self.flow, facts)
            else:
                entry = yield from self.flow.check(facts)
        except Exception:
            return Entry(SessionContext(self.settings, facts), self.flow.internal_error(facts))
        if entry.context.stranger:
            self._note_stranger()
        return entry

    def in_place(self, facts: RequestFacts) -> bool:
        """Whether the step answering `facts` may be driven without awaiting anything.

        An in-process store, and no identity provider call that may block: its
        keys not fetched yet, a network ledger, or the back-channel logout (which
        may fetch the keys again) are awaited.
        """
        if not self.in_process:
            return False
        provider = self._provider
        return provider is None or (not provider.blocking and facts.path != self._body_path)

    def wants_body(self, facts: RequestFacts) -> bool:
        """The request is for an endpoint that reads its body: the adapter reads it first.

        At most [`MAX_LOGOUT_BODY`][idleguard.provider.MAX_LOGOUT_BODY] bytes; a
        larger body is left unread (`facts.body` stays `None`) and refused.
        """
        return facts.method == "POST" and facts.path == self._body_path

    def _note_stranger(self) -> None:
        """A cookie idleguard signed named no record: warn when it keeps happening."""
        if self._warned or self.store.remote:
            return
        now = time.monotonic()
        strangers = [moment for moment in self._strangers if now - moment < 60.0]
        strangers.append(now)
        self._strangers = strangers
        if len(strangers) >= _STRANGERS_BEFORE_WARNING:
            self._warned = True
            logger.warning(
                "idleguard: %d session cookies signed by this app had no record in its "
                "in-process store within a minute. With several worker processes each "
                "keeps its own memory store and users are signed out at random; a restart "
                "also forgets every session. Use a shared store (redis://, postgresql://).",
                len(strangers),
            )

    def run_sync(self, step: StepOf) -> Any:
        """Drive `step` with the store's sync methods."""
        return drive_sync(self.store, step)

    async def run_awaited(self, step: StepOf) -> Any:
        """Drive `step` with the store's async methods, whatever the store."""
        return await drive_async(self.store, step, self.settings.store_timeout)

    async def run(self, step: StepOf) -> Any:
        """Drive `step` from async code: in place for an in-process store, else awaited."""
        if self.in_process and (self._provider is None or not self._provider.blocking):
            return drive_sync(self.store, step)
        return await drive_async(self.store, step, self.settings.store_timeout)

    # -- events ---------------------------------------------------------------
    def emit_sync(self, events: list[Event]) -> None:
        """Hand `events` to the audit trail (redacted, then delivered)."""
        if events and self.settings.hooks:
            emit_sync(self.settings.hooks, events)

    async def emit(self, events: list[Event]) -> None:
        """`emit_sync` from async code (async hooks are awaited or scheduled)."""
        if events and self.settings.hooks:
            await emit_async(self.settings.hooks, events)

    # -- while bytes flow -----------------------------------------------------
    def touch_if_due_sync(self, context: SessionContext) -> None:
        """Count a streamed chunk as activity, at most once per `touch_interval`."""
        if context.key is not None and context.activity:
            now = self.settings.clock()
            if self.flow.activity_due(context, now):
                self.emit_sync(self.run_sync(self.flow.keep_alive(context, now)))

    async def touch_if_due(self, context: SessionContext) -> None:
        """`touch_if_due_sync` from async code."""
        if context.key is not None and context.activity:
            now = self.settings.clock()
            if self.flow.activity_due(context, now):
                await self.emit(await self.run(self.flow.keep_alive(context, now)))

    # -- between requests -----------------------------------------------------
    def purge_expired(self) -> list[Event]:
        """End the sessions past their deadline that no request discovered, and report them.

        Each becomes a `session_expired_inactivity` or `session_expired_absolute`
        event through `on_event`, as if a request had found it. Returns the events.
        """
        events: list[Event] = self.run_sync(self.flow.sweep(self.settings.clock()))
        self.emit_sync(events)
        return events

    async def apurge_expired(self) -> list[Event]:
        """`purge_expired`, awaiting the store."""
        events: list[Event] = await self.run(self.flow.sweep(self.settings.clock()))
        await self.emit(events)
        return events


def merge_headers(
    existing: list[tuple[str, str]], added: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The app's headers plus ours; ours replace its `Cache-Control`."""
    if any(name == "cache-control" for name, _ in added):
        existing = [(name, value) for name, value in existing if name.lower() != "cache-control"]
    return [*existing, *added]


def websocket_refusal(entry: Entry) -> tuple[int, str]:
    """The close code and reason for a WebSocket whose connection `entry` refused."""
    reply = entry.reply
    if reply is not None and reply.status == 503:
        return WEBSOCKET_STORE_UNAVAILABLE, "store_unavailable"
    if entry.context.step_up is not None:
        return WEBSOCKET_STEP_UP_REQUIRED, "step_up_required"
    return WEBSOCKET_SESSION_ENDED, "session_expired"
