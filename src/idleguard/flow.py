"""The request flow, written once and driven by both adapters.

Each step is a generator that yields the store calls it needs, ``(method
name, arguments)``, and is sent their results back; it never does I/O itself.
:func:`drive_sync` runs it against a store's sync methods (WSGI),
:func:`drive_async` against the awaited ``a``-prefixed twins (ASGI). So the
ASGI and WSGI sides cannot drift apart: there is only one side.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import logging
from collections.abc import Awaitable, Generator
from typing import Any
from urllib.parse import quote

from .context import SessionContext
from .core import Decision, EndReason, SessionRecord, Verdict, decide, touched
from .events import Event, EventType
from .facts import RequestFacts, client_address, path_matches, read_cookie
from .policy import Limits
from .rules import StepUp, step_up_due
from .settings import Settings
from .stores.base import Check, Store, StoreUnavailable

__all__ = ["Entry", "Op", "Reply", "drive_async", "drive_sync"]

logger = logging.getLogger("idleguard")

#: One store call: the sync method's name and its arguments; or a callable (a
#: policy resolver, sync or async) and its arguments.
Op = tuple[Any, tuple[Any, ...]]
Step = Generator[Op, Any, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Reply:
    """A response idleguard sends itself, instead of calling the app."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


@dataclasses.dataclass(slots=True)
class Entry:
    """The result of checking a request: a reply to send, or the context to call the app with."""

    context: SessionContext
    reply: Reply | None = None
    events: list[Event] = dataclasses.field(default_factory=list)


NO_STORE = ("cache-control", "no-store")
#: Limits under which a check only reads: nothing can expire, nothing is touched.
PEEK = Limits(None, None, float("inf"))
_CLEAR = "\x00clear"
_COOKIE_CACHE_SIZE = 4096
_COOKIE_CACHE_HEADER_LIMIT = 4096


def json_reply(status: int, payload: dict[str, Any], headers: list[tuple[str, str]]) -> Reply:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Reply(status, [("content-type", "application/json"), NO_STORE, *headers], body)


def expired_reply(settings: Settings, facts: RequestFacts, reason: str) -> Reply:
    """The default answer to a request whose session has ended.

    A browser navigation is sent to the sign-in page with the reason (and
    where it was going, when that is a plain local path); anything else gets
    ``401`` with JSON it can act on.
    """
    headers = settings.clear_cookie_headers()
    if facts.wants_html and settings.login_url is not None:
        location = f"{settings.login_url}{'&' if '?' in settings.login_url else '?'}reason={reason}"
        if facts.method == "GET" and _safe_next(facts.path):
            location += "&next=" + quote(facts.path, safe="/")
        return Reply(303, [("location", location), NO_STORE, *headers])
    return json_reply(401, {"error": "session_expired", "reason": reason}, headers)


def step_up_location(settings: Settings, facts: RequestFacts) -> str | None:
    """Where a browser navigation goes to authenticate again, or ``None`` (answer 401 JSON)."""
    url = settings.policies.step_up_url
    if not facts.wants_html or url is None:
        return None
    if facts.method == "GET" and _safe_next(facts.path):
        url += ("&" if "?" in url else "?") + "next=" + quote(facts.path, safe="/")
    return url


def _safe_next(path: str) -> bool:
    # Only a local absolute path: "//host" or a backslash would leave the site.
    return path.startswith("/") and not path.startswith("//") and "\\" not in path


class Flow:
    """The steps of a request, bound to one middleware's settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Cookie header -> our cookie's value. A browser sends the same header
        # on every request until a cookie changes, so parsing it once pays.
        self._cookie_values: dict[str, str | None] = {}

    # -- before the app -------------------------------------------------------
    def enter(self, facts: RequestFacts) -> Generator[Op, Any, Entry]:
        """Find the request's session and decide it (one store call at most)."""
        settings = self.settings
        if facts.path.startswith(settings.endpoint_prefix) and not facts.websocket:
            from .endpoints import serve  # it builds on this module, so it is imported late

            return (yield from serve(self, facts))
        context = SessionContext(settings, facts)
        if settings.is_exempt(facts):
            context.exempt = True
            return Entry(context)
        credential = self._credential(facts)
        if not credential:
            if credential == "":
                context.clear_cookie = settings.identity.source == "cookie"
            return Entry(context)
        key = settings.identity.key_for(credential)
        if key is None:
            # Tampered, rotated-out, malformed: no session, and the browser is
            # told to forget the bad cookie. No store query was made.
            context.clear_cookie = settings.identity.issues
            return Entry(context)
        context.credential_key = key
        now = settings.clock()
        activity = not (facts.preflight or settings.is_passive(facts))
        context.activity = activity
        carrier = settings.carrier_name
        if carrier is not None:
            context.carried = read_cookie(facts.headers.get("cookie", ""), carrier)
        policies = settings.policies
        try:
            if policies.needs_record:
                decision, record = yield from self._check(context, key, activity, now)
            else:
                # The common case, kept free of a nested generator: every request takes it.
                resolution = context.resolution = policies.for_facts(facts)
                context.policy = resolution.policy
                if resolution.step_up_idle is None:
                    limits = resolution.policy.limits
                    if carrier is None:
                        decision, record = yield ("check", (key, limits, activity, now))
                    else:
                        checked = ("check", (key, limits, activity, now, context.carried))
                        decision, record = yield checked
                else:
                    decision, record = yield from self._check(context, key, activity, now)
        except StoreUnavailable as error:
            return self._store_down(context, now, error)
        context.settle(key, decision, record, now)
        verdict = decision.verdict
        if policies.explain_log:
            logger.info(
                "idleguard explain %s %s: %s", facts.method, facts.path, self._explain(context)
            )
        if verdict is Verdict.ALLOW:
            resolved = context.resolution
            if record is not None and resolved is not None and resolved.asks_step_up:
                step_up = step_up_due(resolved, record.authenticated_at, record.last_activity, now)
                if step_up is not None:
                    return self._refuse_step_up(context, step_up, now)
            if carrier is not None:
                self._reseal(context, key, decision, record, now)
            return Entry(context)
        if verdict is Verdict.NO_SESSION:
            if not settings.identity.issues and settings.identity_adopts:
                started = yield from self._adopt(context, key, now)
                return Entry(context, events=started)
            context.clear_cookie = settings.identity.issues
            return Entry(context)
        # The session is over: refuse the credential, and report it if it ended just now.
        reason = (decision.reason or EndReason.INVALID).value
        events = []
        if decision.expired_now:
            events.append(self._expiry_event(context, decision, record, now))
        reply = settings.expired_response(settings, facts, reason)
        return Entry(context, reply, events)

    def _check(
        self, context: SessionContext, key: str, activity: bool, now: float
    ) -> Generator[Op, Any, Check]:
        """Decide the request under the limits of its session's tenant, user and path.

        In steady state this is one store call: the session's tenant and user
        are remembered from earlier requests, their policies come from the
        cache. Two cases read the record first ("peek": a check that can
        neither touch nor expire) and decide here: a session this process has
        not seen (its tenant is in the record), and a path whose rule asks for
        step-up when idle (the refused request must not count as activity, or
        simply retrying it would pass).
        """
        policies = self.settings.policies
        peeked: SessionRecord | None = None
        if policies.needs_record:
            hint = policies.hint(key)
            if hint is None:
                decision, peeked = yield ("check", self._carrying(context, key, PEEK, False, now))
                if peeked is None or decision.verdict is not Verdict.ALLOW:
                    return decision, peeked
                hint = (peeked.subject, peeked.tenant)
                policies.remember(key, *hint)
            resolution = yield from policies.resolve(context.facts, hint, now)
        else:
            resolution = policies.for_facts(context.facts)
        context.resolution = resolution
        context.policy = resolution.policy
        limits = resolution.policy.limits
        if peeked is None and resolution.step_up_idle is None:
            checked: tuple[Decision, SessionRecord | None] = yield (
                "check",
                self._carrying(context, key, limits, activity, now),
            )
            return checked
        if peeked is None:
            decision, peeked = yield ("check", self._carrying(context, key, PEEK, False, now))
            if peeked is None or decision.verdict is not Verdict.ALLOW:
                return decision, peeked
        decision = decide(peeked, limits, activity, now)
        if decision.expired_now:
            ended = yield (
                "end",
                self._carrying(context, key, decision.reason or EndReason.IDLE, now),
            )
            if ended is None:  # another request ended it first and reported it
                return Decision(Verdict.ENDED, reason=decision.reason), peeked
            return decision, peeked
        if decision.touch and not step_up_due(
            resolution, peeked.authenticated_at, peeked.last_activity, now
        ):
            checked = yield ("check", self._carrying(context, key, limits, activity, now))
            return checked
        return decision._replace(touch=False), peeked

    def _refuse_step_up(self, context: SessionContext, step_up: StepUp, now: float) -> Entry:
        """The session stays; this request is refused until the user reauthenticates."""
        context.step_up = step_up
        facts = context.facts
        event = self.event(
            EventType.STEP_UP_REQUIRED,
            context,
            now,
            reason=step_up.kind,
            metadata={"rule": step_up.rule, "limit": step_up.limit},
        )
        location = step_up_location(self.settings, facts)
        if location is not None:
            return Entry(context, Reply(303, [("location", location), NO_STORE]), [event])
        payload = {"error": "step_up_required", "rule": step_up.rule, "max_age": step_up.limit}
        return Entry(context, json_reply(401, payload, []), [event])

    def _explain(self, context: SessionContext) -> str:
        return json.dumps(self.settings.policies.explain(context), separators=(",", ":"))

    # -- a store whose record rides in a cookie (see Store.carrier) -----------
    def _carrying(self, context: SessionContext, *args: Any) -> tuple[Any, ...]:
        """A store call's arguments, plus the carried record for a client-side store."""
        if self.settings.carrier_name is None:
            return args
        return (*args, context.carried)

    def _reseal(
        self,
        context: SessionContext,
        key: str,
        decision: Decision,
        record: SessionRecord | None,
        now: float,
    ) -> None:
        if self.settings.carrier_name is not None and decision.touch and record is not None:
            context.carry = self.settings.store.seal(key, touched(record, now))

    def _credential(self, facts: RequestFacts) -> str | None:
        """The raw credential the request presents; ``""`` for an unusable cookie."""
        identity = self.settings.identity
        if identity.source == "bearer":
            authorization = facts.headers.get("authorization")
            if authorization is None or authorization[:7].lower() != "bearer ":
                return None
            return authorization[7:].strip() or None
        cookie_header = facts.headers.get("cookie")
        if cookie_header is None:
            return None
        cache = self._cookie_values
        try:
            return cache[cookie_header]
        except KeyError:
            value = read_cookie(cookie_header, self.settings.cookie_name)
            if len(cache) >= _COOKIE_CACHE_SIZE:
                cache.clear()
            if len(cookie_header) <= _COOKIE_CACHE_HEADER_LIMIT:
                cache[cookie_header] = value
            return value

    def _adopt(self, context: SessionContext, key: str, now: float) -> Step:
        record = SessionRecord(None, None, now, now, now)
        try:
            yield ("create", (key, record, context.policy.limits))
        except StoreUnavailable as error:
            self._store_down(context, now, error)
            return []
        self.settings.policies.remember(key, None, None)
        context.settle(key, Decision(Verdict.ALLOW), record, now)
        context.refresh(now)
        return [self.event(EventType.SESSION_STARTED, context, now)]

    def _store_down(self, context: SessionContext, now: float, error: Exception) -> Entry:
        settings = self.settings
        logger.warning("idleguard store unavailable: %s", type(error).__name__)
        event = self.event(
            EventType.STORE_UNAVAILABLE,
            context,
            now,
            metadata={"fail_open": settings.fail_open, "error": type(error).__name__},
        )
        if settings.fail_open:
            context.unguarded = True
            return Entry(context, events=[event])
        reply = json_reply(503, {"error": "store_unavailable"}, [("retry-after", "5")])
        return Entry(context, reply, [event])

    # -- while bytes flow -----------------------------------------------------
    def activity_due(self, context: SessionContext, now: float) -> bool:
        """A streaming request or message is due to count as activity again."""
        return (
            context.alive
            and context.activity
            and now - context.activity_mark >= context.policy.touch_interval
        )

    def keep_alive(self, context: SessionContext, now: float, *, activity: bool = True) -> Step:
        """Re-check a long request or socket; ends it in the context if it expired."""
        key = context.key
        if key is None:
            return []
        context.activity_mark = now
        try:
            decision, record = yield (
                "check",
                self._carrying(context, key, context.policy.limits, activity, now),
            )
        except StoreUnavailable:
            return []
        context.settle(key, decision, record, now)
        if decision.alive:
            self._reseal(context, key, decision, record, now)
        if decision.expired_now:
            return [self._expiry_event(context, decision, record, now)]
        return []

    # -- after the app --------------------------------------------------------
    def leave(
        self, context: SessionContext
    ) -> Generator[Op, Any, tuple[list[tuple[str, str]], list[Event]]]:
        """Carry out the app's begin, end and reauthenticate; return headers and events."""
        settings = self.settings
        events: list[Event] = []
        # What the browser's cookie becomes: a new credential, _CLEAR, or unchanged (None).
        cookie: str | None = None
        for action in context.pending:
            now = action.at
            try:
                if action.kind == "begin":
                    new = action.record
                    assert new is not None
                    # The new session's tenant and user may set other limits than
                    # the request arrived under; the store needs the right ones.
                    hint = (new.subject, new.tenant)
                    resolution = yield from settings.policies.resolve(context.facts, hint, now)
                    context.resolution = resolution
                    context.policy = resolution.policy
                    yield ("create", (action.key, new, resolution.policy.limits))
                    settings.policies.remember(action.key, *hint)
                    events.append(
                        self.event(EventType.SESSION_STARTED, context, now, action=action)
                    )
                    cookie = action.credential
                    if settings.carrier_name is not None:
                        context.carry = settings.store.seal(action.key, new)
                elif action.kind == "end":
                    record = yield ("end", self._carrying(context, action.key, action.reason, now))
                    context.carry = None
                    if record is not None:
                        events.append(
                            self.event(
                                EventType.SESSION_ENDED,
                                context,
                                now,
                                action=action,
                                record=record,
                                reason=action.reason.value,
                            )
                        )
                    cookie = _CLEAR
                else:  # reauthenticate
                    if (yield ("reauthenticate", self._carrying(context, action.key, now))):
                        events.append(
                            self.event(EventType.REAUTHENTICATED, context, now, action=action)
                        )
                    if settings.carrier_name is not None and context.record is not None:
                        context.carry = settings.store.seal(action.key, context.record)
            except StoreUnavailable as error:
                events.append(
                    self.event(
                        EventType.STORE_UNAVAILABLE,
                        context,
                        now,
                        metadata={"during": action.kind, "error": type(error).__name__},
                    )
                )
                if action.kind == "begin":
                    # No record was written: hand out no cookie for it.
                    cookie = _CLEAR if cookie is not None else None
                elif action.kind == "end":
                    # The browser forgets the session even if the store missed the tombstone.
                    cookie = _CLEAR
        context.pending = ()
        if cookie is _CLEAR:
            headers = [*settings.clear_cookie_headers(), NO_STORE]
            if settings.clear_site_data:
                headers.append(("clear-site-data", '"cookies"'))
            return headers, events
        carried = [settings.set_carrier_header(context.carry)] if context.carry else []
        if cookie is not None and settings.identity.issues:
            return [settings.set_cookie_header(cookie), *carried, NO_STORE], events
        if context.clear_cookie:
            return [*settings.clear_cookie_headers(), NO_STORE], events
        if carried:
            return [*carried, NO_STORE], events
        return [], events

    # -- sweeping -------------------------------------------------------------
    def sweep(self, now: float) -> Generator[Op, Any, list[Event]]:
        """End the sessions past their deadline that no request discovered; their events.

        The store ends each one atomically, so with a sweeper in every worker
        each expiry is still reported exactly once.
        """
        expired = yield ("purge_expired", (now,))
        return [self.swept_event(key, record, reason, now) for key, record, reason in expired]

    def swept_event(self, key: str, record: SessionRecord, reason: EndReason, now: float) -> Event:
        """The expiry event for a session the sweep ended, outside any request."""
        return Event(
            type=EventType.SESSION_EXPIRED_ABSOLUTE
            if reason is EndReason.ABSOLUTE
            else EventType.SESSION_EXPIRED_INACTIVITY,
            at=now,
            session=self.settings.tag(key),
            subject=record.subject,
            tenant=record.tenant,
            reason=reason.value,
            idle_seconds=now - record.last_activity,
            policy=self.settings.policy.as_dict(),
            metadata={"discovered_by": "sweep"},
        )

    # -- events ---------------------------------------------------------------
    def _expiry_event(
        self, context: SessionContext, decision: Decision, record: SessionRecord | None, now: float
    ) -> Event:
        kind = (
            EventType.SESSION_EXPIRED_ABSOLUTE
            if decision.verdict is Verdict.EXPIRED_ABSOLUTE
            else EventType.SESSION_EXPIRED_INACTIVITY
        )
        idle = now - record.last_activity if record is not None else None
        return self.event(
            kind,
            context,
            now,
            record=record,
            reason=(decision.reason or EndReason.IDLE).value,
            idle_seconds=idle,
        )

    def event(
        self,
        kind: EventType,
        context: SessionContext,
        now: float,
        *,
        action: Any = None,
        record: SessionRecord | None = None,
        reason: str | None = None,
        idle_seconds: float | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Event:
        key = action.key if action is not None else context.credential_key
        if action is not None and action.record is not None and record is None:
            record = action.record
        if record is None:
            record = context.record
        facts = context.facts
        return Event(
            type=kind,
            at=now,
            session=self.settings.tag(key) if key is not None else None,
            subject=record.subject if record is not None else None,
            tenant=record.tenant if record is not None else None,
            reason=reason,
            path=facts.path,
            method=facts.method,
            idle_seconds=idle_seconds,
            client_ip=client_address(facts, self.settings.proxy_trust),
            user_agent=facts.headers.get("user-agent"),
            policy=context.policy.as_dict() if context.policy is not None else None,
            metadata=metadata or {},
        )


# -- drivers -------------------------------------------------------------------
def drive_sync(store: Store, step: Generator[Op, Any, Any]) -> Any:
    """Run a step against the store's sync methods; return what the step returns."""
    send_value: Any = None
    error: BaseException | None = None
    while True:
        try:
            op = step.send(send_value) if error is None else step.throw(error)
        except StopIteration as stop:
            return stop.value
        name, args = op
        try:
            if name.__class__ is str:
                send_value = getattr(store, name)(*args)
            else:  # a policy resolver, which may be async
                send_value = name(*args)
                if inspect.isawaitable(send_value):
                    send_value = _run_awaitable(send_value)
            error = None
        except StoreUnavailable as failure:
            error, send_value = failure, None
        except Exception as failure:  # a driver's own error: the store did not answer
            logger.debug("idleguard store call %s failed", name, exc_info=True)
            error, send_value = StoreUnavailable(f"{name}: {type(failure).__name__}"), None


def _run_awaitable(awaitable: Any) -> Any:
    async def wait() -> Any:
        return await awaitable

    return asyncio.run(wait())


async def _bounded(call: Awaitable[Any], timeout: float | None) -> Any:
    # wait_for() runs the call as a task of its own: it costs more than awaiting it
    # in place, but a store that fails without ever suspending still lets the event
    # loop run other requests (and whatever is restarting the store).
    return await asyncio.wait_for(call, timeout)


async def drive_async(store: Store, step: Generator[Op, Any, Any], timeout: float | None) -> Any:
    """Run a step against the store's async methods, each call bounded by ``timeout`` seconds."""
    send_value: Any = None
    error: BaseException | None = None
    while True:
        try:
            op = step.send(send_value) if error is None else step.throw(error)
        except StopIteration as stop:
            return stop.value
        name, args = op
        try:
            call = getattr(store, "a" + name)(*args) if isinstance(name, str) else name(*args)
            if inspect.isawaitable(call):
                send_value = await _bounded(call, timeout)
            else:
                send_value = call
            error = None
        except StoreUnavailable as failure:
            error, send_value = failure, None
        except Exception as failure:
            logger.debug("idleguard store call %s failed", name, exc_info=True)
            error, send_value = StoreUnavailable(f"{name}: {type(failure).__name__}"), None


__all__ += ["Flow", "expired_reply", "json_reply", "path_matches", "step_up_location"]
