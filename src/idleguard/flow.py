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
import enum
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any, NamedTuple
from urllib.parse import quote

from .audit import printable
from .context import SessionContext
from .core import Decision, EndReason, SessionRecord, Verdict, decide, touched
from .events import Event, EventType
from .facts import (
    AMBIGUOUS,
    Presented,
    RequestFacts,
    bearer_token,
    client_address,
    cookie_value,
    path_matches,
    read_cookie,
)
from .policy import Limits
from .rules import StepUp, step_up_due
from .settings import Settings
from .stores.base import Check, Store, StoreUnavailable

__all__ = ["Departure", "Entry", "Op", "Reply", "drive_async", "drive_sync"]

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


class CookieChange(enum.Enum):
    """What happens to the browser's session cookie besides setting a new one."""

    CLEAR = "clear"


class Departure(NamedTuple):
    """What the flow adds after the app: headers, events, and a reply that replaces the app's."""

    headers: list[tuple[str, str]]
    events: list[Event]
    reply: Reply | None = None


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


#: Outages are logged at most once per this many seconds per store (one per burst).
OUTAGE_LOG_INTERVAL = 10.0
_last_outage_log: dict[int, float] = {}


def report_outage(settings: Settings, error: Exception) -> None:
    """Log a store outage at ERROR, once per burst, naming the store and the driver's message."""
    now = time.monotonic()
    store = settings.store
    if now - _last_outage_log.get(id(store), float("-inf")) < OUTAGE_LOG_INTERVAL:
        return
    _last_outage_log[id(store)] = now
    logger.error(
        "idleguard: the session store (%s) is unavailable: %s; requests with a session get %s",
        type(store).__name__,
        printable(str(error))[:300],
        "served unguarded (fail_open)" if settings.fail_open else "503",
    )


_UNAVAILABLE_PAGE = (
    b"<!doctype html><html lang=en><meta charset=utf-8><title>Service unavailable</title>"
    b"<h1>Sign-in is unavailable</h1><p>The session service is not answering. "
    b"Nothing was changed; please try again in a moment.</p></html>"
)


def with_headers(reply: Reply, headers: list[tuple[str, str]]) -> Reply:
    """``reply`` with ``headers`` added (its own ``Cache-Control`` kept, not repeated)."""
    extra = [header for header in headers if header != NO_STORE]
    return dataclasses.replace(reply, headers=[*reply.headers, *extra])


def store_unavailable_reply(facts: RequestFacts) -> Reply:
    """``503``: JSON for an API client, a page that says so for a browser."""
    headers = [("retry-after", "5")]
    if "text/html" in facts.headers.get("accept", ""):
        return Reply(
            503,
            [("content-type", "text/html; charset=utf-8"), NO_STORE, *headers],
            _UNAVAILABLE_PAGE,
        )
    return json_reply(503, {"error": "store_unavailable"}, headers)


class Flow:
    """The steps of a request, bound to one middleware's settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Cookie header -> our cookie's value. A browser sends the same header
        # on every request until a cookie changes, so parsing it once pays.
        self._cookie_values: dict[str, Presented] = {}
        #: Session key -> what to call when it ends here (the open WebSockets).
        self.listeners: dict[str, set[Callable[[], None]]] = {}

    # -- before the app -------------------------------------------------------
    def enter(self, facts: RequestFacts) -> Generator[Op, Any, Entry]:
        """Answer an endpoint request, or check the request's session (one store call at most).

        Any error that is not the store's own (a bug here, in a store or in a
        resolver) is logged with its traceback and refused: it never reads as
        an outage, so ``fail_open`` cannot let it through.
        """
        try:
            if facts.path.startswith(self.settings.endpoint_prefix) and not facts.websocket:
                from .endpoints import serve  # it builds on this module, so it is imported late

                return (yield from serve(self, facts))
            return (yield from self.check(facts))
        except Exception:
            return Entry(SessionContext(self.settings, facts), self.internal_error(facts))

    def internal_error(self, facts: RequestFacts) -> Reply:
        """Log the error being handled, loudly, and the answer that refuses the request."""
        logger.error(
            "idleguard: internal error on %s %s; the request is refused",
            facts.method,
            printable(facts.path),
            exc_info=True,
        )
        return json_reply(500, {"error": "internal_error"}, [])

    def check(self, facts: RequestFacts, activity: bool | None = None) -> Generator[Op, Any, Entry]:
        """Find the request's session and decide it.

        ``activity`` overrides whether the request counts as activity (the
        client endpoints say it themselves); by default it does unless it is
        passive, a preflight, or exempt. A request that presents a session
        credential is always checked: exemption (API keys, exempt paths) only
        means "this request has no session", so an exempt request with a
        credential is checked passively.
        """
        settings = self.settings
        context = SessionContext(settings, facts)
        if facts.routed is not None and self._readings_differ(facts):
            return Entry(context, json_reply(400, {"error": "ambiguous_path"}, []))
        identity = settings.identity
        credential = self._credential(facts)
        if credential is AMBIGUOUS:
            if identity.issues:
                # Only idleguard reads its own cookie, and only an exact signed
                # value names a session: an odd one is simply no session.
                credential = ""
            else:
                # The app reads its own credential; it might read another one than ours.
                reply = json_reply(400, {"error": "ambiguous_credential"}, [])
                return Entry(context, reply)
        if not credential:
            if settings.is_exempt(facts):
                context.exempt = True
            elif credential == "":
                context.clear_cookie = identity.source == "cookie"
            return Entry(context)
        key = identity.key_for(credential)
        if key is None:
            if identity.issues:
                # Tampered, rotated-out, malformed: no session, and the browser is
                # told to forget the bad cookie. No store query was made.
                context.clear_cookie = True
                return Entry(context)
            # The app may accept what idleguard cannot even hash: refuse it.
            return Entry(
                context, settings.expired_response(settings, facts, EndReason.UNKNOWN.value)
            )
        context.credential_key = key
        now = settings.clock()
        if activity is None:
            activity = not (
                facts.preflight or settings.is_passive(facts) or settings.is_exempt(facts)
            )
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
        if verdict is not Verdict.ALLOW and self.listeners:
            self.ended(key)  # its open sockets in this process close now
        if policies.explain_log:
            logger.info(
                "idleguard explain %s %s: %s",
                printable(facts.method),
                printable(facts.path),
                self._explain(context),
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
            if identity.issues:
                context.clear_cookie = True
                return Entry(context)
            if settings.adopt is not None:
                return (yield from self._adopt(context, credential, key, now))
            # A credential the app issued that idleguard has no record of: never
            # registered, or ended so long ago its tombstone is gone. Refused.
            return Entry(
                context, settings.expired_response(settings, facts, EndReason.UNKNOWN.value)
            )
        # The session is over: refuse the credential, and report it if it ended just now.
        reason = (decision.reason or EndReason.INVALID).value
        events = []
        if decision.expired_now:
            events.append(self._expiry_event(context, decision, record, now))
        reply = settings.expired_response(settings, facts, reason)
        return Entry(context, reply, events)

    def _readings_differ(self, facts: RequestFacts) -> bool:
        """The app's own reading of the path would be treated differently from ours."""
        assert facts.routed is not None
        routed = dataclasses.replace(facts, path=facts.routed, routed=None)
        return self._path_treatment(facts) != self._path_treatment(routed)

    def _path_treatment(self, facts: RequestFacts) -> tuple[bool, ...]:
        settings = self.settings
        path = facts.path
        return (
            path.startswith(settings.endpoint_prefix),
            bool(settings.exempt_paths) and path_matches(path, settings.exempt_paths),
            bool(settings.passive_paths) and path_matches(path, settings.passive_paths),
            *(rule.matches(facts) for rule in settings.policies.rules),
        )

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

    def _credential(self, facts: RequestFacts) -> Presented:
        """The credential the request presents: a string, ``None``, or :data:`AMBIGUOUS`."""
        identity = self.settings.identity
        if identity.source == "bearer":
            return bearer_token(facts.headers.get("authorization"))
        cookie_header = facts.headers.get("cookie")
        if cookie_header is None:
            return None
        cache = self._cookie_values
        try:
            return cache[cookie_header]
        except KeyError:
            value = cookie_value(cookie_header, self.settings.cookie_name)
            if len(cache) >= _COOKIE_CACHE_SIZE:
                cache.clear()
            if len(cookie_header) <= _COOKIE_CACHE_HEADER_LIMIT:
                cache[cookie_header] = value
            return value

    def _adopt(
        self, context: SessionContext, credential: str, key: str, now: float
    ) -> Generator[Op, Any, Entry]:
        """Ask the app whose this unknown credential is; guard it from now on, or refuse it."""
        settings = self.settings
        adopt = settings.adopt
        assert adopt is not None
        subject = yield (adopt, (credential,))
        if subject is None:
            reply = settings.expired_response(settings, context.facts, EndReason.UNKNOWN.value)
            return Entry(context, reply)
        if not isinstance(subject, str):
            raise TypeError(
                f"adopt must return a subject (str) or None, not {type(subject).__name__}"
            )
        record = SessionRecord(subject, None, now, now, now)
        try:
            yield ("create", (key, record, context.policy.limits))
        except StoreUnavailable as error:
            return self._store_down(context, now, error)
        settings.policies.remember(key, subject, None)
        context.settle(key, Decision(Verdict.ALLOW), record, now)
        context.refresh(now)
        return Entry(context, events=[self.event(EventType.SESSION_STARTED, context, now)])

    def _store_down(self, context: SessionContext, now: float, error: Exception) -> Entry:
        settings = self.settings
        report_outage(settings, error)
        event = self.event(
            EventType.STORE_UNAVAILABLE,
            context,
            now,
            metadata={"fail_open": settings.fail_open, "error": type(error).__name__},
        )
        if settings.fail_open:
            context.unguarded = True
            return Entry(context, events=[event])
        return Entry(context, store_unavailable_reply(context.facts), [event])

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
            return []  # the stream goes on; the next check or request decides
        except Exception:
            logger.error("idleguard: internal error while re-checking a stream", exc_info=True)
            context.key = None  # refused from here on: the socket or stream is closed
            return []
        context.settle(key, decision, record, now)
        if decision.alive:
            self._reseal(context, key, decision, record, now)
        if decision.expired_now:
            return [self._expiry_event(context, decision, record, now)]
        return []

    # -- after the app --------------------------------------------------------
    def leave(self, context: SessionContext) -> Generator[Op, Any, Departure]:
        """Carry out the app's begin, end and reauthenticate: the headers, events and any
        reply that must replace the app's (a sign-in or sign-out the store did not record)."""
        try:
            return (yield from self._leave(context))
        except Exception:
            context.pending = ()
            reply = self.internal_error(context.facts)
            return Departure([*self.settings.clear_cookie_headers(), NO_STORE], [], reply)

    def _leave(self, context: SessionContext) -> Generator[Op, Any, Departure]:
        settings = self.settings
        events: list[Event] = []
        # What the browser's cookie becomes: a new credential, CookieChange.CLEAR, or unchanged.
        cookie: str | CookieChange | None = None
        failed: Reply | None = None
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
                    self.ended(action.key)
                    cookie = CookieChange.CLEAR
                else:  # reauthenticate
                    if (yield ("reauthenticate", self._carrying(context, action.key, now))):
                        events.append(
                            self.event(EventType.REAUTHENTICATED, context, now, action=action)
                        )
                    if settings.carrier_name is not None and context.record is not None:
                        context.carry = settings.store.seal(action.key, context.record)
            except StoreUnavailable as error:
                report_outage(settings, error)
                events.append(
                    self.event(
                        EventType.STORE_UNAVAILABLE,
                        context,
                        now,
                        metadata={"during": action.kind, "error": type(error).__name__},
                    )
                )
                # The app's answer would claim a sign-in or sign-out that did not
                # happen: say 503 instead. The browser forgets the session either way.
                failed = store_unavailable_reply(context.facts)
                cookie = CookieChange.CLEAR
                context.key = None
        context.pending = ()
        if cookie is CookieChange.CLEAR:
            headers = [*settings.clear_cookie_headers(), NO_STORE]
            if settings.clear_site_data:
                headers.append(("clear-site-data", '"cookies"'))
            if failed is not None:
                failed = with_headers(failed, headers)
            return Departure(headers, events, failed)
        carried = [settings.set_carrier_header(context.carry)] if context.carry else []
        if isinstance(cookie, str) and settings.identity.issues:
            return Departure([settings.set_cookie_header(cookie), *carried, NO_STORE], events)
        if context.clear_cookie:
            return Departure([*settings.clear_cookie_headers(), NO_STORE], events)
        if carried:
            return Departure([*carried, NO_STORE], events)
        return Departure([], events)

    def ended(self, key: str) -> None:
        """Tell this process's open sockets of session ``key`` that it is over, at once."""
        for listener in list(self.listeners.get(key, ())):
            listener()

    def listen(self, key: str, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` when session ``key`` ends in this process; returns the undo."""
        self.listeners.setdefault(key, set()).add(listener)

        def forget() -> None:
            listeners = self.listeners.get(key)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    self.listeners.pop(key, None)

        return forget

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
        except Exception as failure:
            # Stores turn their driver's declared errors into StoreUnavailable;
            # anything else is a bug and reaches the step as itself, to be refused
            # and logged as one, never mistaken for an outage.
            error, send_value = failure, None


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
        except asyncio.TimeoutError:
            # The store did not answer within store_timeout: that is an outage.
            error, send_value = StoreUnavailable(f"{name}: no answer in {timeout} s"), None
        except Exception as failure:  # as in drive_sync: bugs stay bugs
            error, send_value = failure, None


__all__ += [
    "Flow",
    "expired_reply",
    "json_reply",
    "path_matches",
    "printable",
    "step_up_location",
    "store_unavailable_reply",
]
