"""The request flow, written once and driven by every adapter.

Each step is a generator that yields the store calls it needs (typed values
from `idleguard.steps`) and is sent their results; it never does I/O.
`drive_sync` runs it against a store's sync methods,
`drive_async` against the awaited twins, so WSGI, ASGI,
the Django middleware and the Flask extension cannot drift apart: there is
only one flow.

What happens to a request: `Flow.check` before the app (find the
session, decide it), `Flow.keep_alive` while its bytes flow,
`Flow.leave` after it (carry out the app's sign-in or sign-out);
`Flow.sweep` between requests.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable

from .actions import Departure, carry_out
from .audit import printable
from .context import SessionContext
from .core import Decision, EndReason, Limits, SessionRecord, Verdict, decide, touched
from .credentials import AMBIGUOUS, CredentialReader, read_cookie
from .events import Event, EventType
from .facts import RequestFacts, path_matches
from .outages import report_outage
from .replies import (
    NO_STORE,
    Reply,
    expired_reply,
    internal_error_reply,
    json_reply,
    provider_logout_reply,
    step_up_location,
    store_unavailable_reply,
)
from .resolution import StepUp, step_up_due
from .session_events import expiry_event, request_event, swept_event
from .settings import Settings
from .steps import Call, Check, Create, End, PurgeExpired, StepOf, drive_async, drive_sync
from .stores.base import Check as Checked
from .stores.base import StoreUnavailable

# drive_sync, drive_async and expired_reply are where callers have always found them.
__all__ = [
    "PEEK",
    "Departure",
    "Entry",
    "Flow",
    "drive_async",
    "drive_sync",
    "expired_reply",
    "report_outage",
]

logger = logging.getLogger("idleguard")

#: Limits under which a check only reads: nothing can expire, nothing is touched.
PEEK = Limits(None, None, float("inf"))


@dataclasses.dataclass(slots=True)
class Entry:
    """The result of checking a request: a reply to send, or the context to call the app with."""

    context: SessionContext
    reply: Reply | None = None
    events: list[Event] = dataclasses.field(default_factory=list)


class Flow:
    """The steps of a request, bound to one middleware's settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._credentials = CredentialReader(settings.identity.source, settings.cookie_name)
        #: Session key -> what to call when it ends here (the open WebSockets).
        self.listeners: dict[str, set[Callable[[], None]]] = {}

    # -- before the app -------------------------------------------------------
    def check(self, facts: RequestFacts, activity: bool | None = None) -> StepOf:
        """Find the request's session and decide it; returns an `Entry`.

        `activity` overrides whether the request counts as activity (the
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
        credential = self._credentials.read(facts.headers)
        if credential is AMBIGUOUS:
            if not identity.issues:
                # The app reads its own credential; it might read another one than ours.
                return Entry(context, json_reply(400, {"error": "ambiguous_credential"}, []))
            # Only idleguard reads its own cookie, and only an exact signed value
            # names a session: an odd one is simply no session.
            credential = ""
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
            return self._unknown(context)
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
                decision, record = yield from self._decide(context, key, activity, now)
            else:
                # The common case, kept free of a nested generator: every request takes it.
                resolution = context.resolution = policies.for_facts(facts)
                context.policy = resolution.policy
                if resolution.step_up_idle is None:
                    limits = resolution.policy.limits
                    decision, record = yield Check(key, limits, activity, now, context.carried)
                else:
                    decision, record = yield from self._decide(context, key, activity, now)
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
                json.dumps(context.explain(), separators=(",", ":")),
            )
        if verdict is Verdict.ALLOW:
            resolved = context.resolution
            if record is not None and resolved is not None and resolved.asks_step_up:
                step_up = step_up_due(resolved, record.authenticated_at, record.last_activity, now)
                if step_up is not None:
                    return self._refuse_step_up(context, step_up, now)
            if carrier is not None and decision.touch and record is not None:
                context.carry = settings.store.seal(key, touched(record, now))
            return Entry(context)
        if verdict is Verdict.NO_SESSION:
            if identity.issues:
                context.clear_cookie = context.stranger = True
                return Entry(context)
            if settings.adopt is not None:
                return (yield from self._adopt(context, credential, key, now))
            # A credential the app issued that idleguard has no record of: never
            # registered, or ended so long ago its tombstone is gone. Refused.
            return self._unknown(context)
        # The session is over: refuse the credential, and report it if it ended just now.
        reason = (decision.reason or EndReason.INVALID).value
        events = [expiry_event(context, decision, record, now)] if decision.expired_now else []
        reply = yield from self._ended_reply(context, key, reason)
        return Entry(context, reply, events)

    def _ended_reply(self, context: SessionContext, key: str, reason: str) -> StepOf:
        """The answer to a refused session: through the identity provider's logout, if any."""
        settings, provider = self.settings, self.settings.identity_provider
        if provider is not None:
            location = yield from provider.logout_location(key, reason, context.facts)
            if location is not None:
                return provider_logout_reply(settings, context.facts, reason, location)
        return settings.expired_response(settings, context.facts, reason)

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

    def _decide(self, context: SessionContext, key: str, activity: bool, now: float) -> StepOf:
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
        carried = context.carried
        peeked: SessionRecord | None = None
        if policies.needs_record:
            hint = policies.hint(key)
            if hint is None:
                decision, peeked = yield Check(key, PEEK, False, now, carried)
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
            checked: Checked = yield Check(key, limits, activity, now, carried)
            return checked
        if peeked is None:
            decision, peeked = yield Check(key, PEEK, False, now, carried)
            if peeked is None or decision.verdict is not Verdict.ALLOW:
                return decision, peeked
        decision = decide(peeked, limits, activity, now)
        if decision.expired_now:
            ended = yield End(key, decision.reason or EndReason.IDLE, now, carried)
            if ended is None:  # another request ended it first and reported it
                return Decision(Verdict.ENDED, reason=decision.reason), peeked
            return decision, peeked
        if decision.touch and not step_up_due(
            resolution, peeked.authenticated_at, peeked.last_activity, now
        ):
            checked = yield Check(key, limits, activity, now, carried)
            return checked
        return decision._replace(touch=False), peeked

    def _refuse_step_up(self, context: SessionContext, step_up: StepUp, now: float) -> Entry:
        """The session stays; this request is refused until the user reauthenticates."""
        context.step_up = step_up
        event = request_event(
            EventType.STEP_UP_REQUIRED,
            context,
            now,
            reason=step_up.kind,
            metadata={"rule": step_up.rule, "limit": step_up.limit},
        )
        location = step_up_location(self.settings.policies.step_up_url, context.facts)
        if location is not None:
            return Entry(context, Reply(303, [("location", location), NO_STORE]), [event])
        payload = {"error": "step_up_required", "rule": step_up.rule, "max_age": step_up.limit}
        return Entry(context, json_reply(401, payload, []), [event])

    def _unknown(self, context: SessionContext) -> Entry:
        settings = self.settings
        reply = settings.expired_response(settings, context.facts, EndReason.UNKNOWN.value)
        return Entry(context, reply)

    def _adopt(self, context: SessionContext, credential: str, key: str, now: float) -> StepOf:
        """Ask the app whose this unknown credential is; guard it from now on, or refuse it."""
        settings = self.settings
        assert settings.adopt is not None
        subject = yield Call(settings.adopt, (credential,))
        if subject is None:
            return self._unknown(context)
        if not isinstance(subject, str):
            raise TypeError(
                f"adopt must return a subject (str) or None, not {type(subject).__name__}"
            )
        record = SessionRecord(subject, None, now, now, now)
        try:
            yield Create(key, record, context.policy.limits)
        except StoreUnavailable as error:
            return self._store_down(context, now, error)
        settings.policies.remember(key, subject, None)
        context.settle(key, Decision(Verdict.ALLOW), record, now)
        context.refresh(now)
        return Entry(context, events=[request_event(EventType.SESSION_STARTED, context, now)])

    def _store_down(self, context: SessionContext, now: float, error: Exception) -> Entry:
        settings = self.settings
        report_outage(settings, error)
        event = request_event(
            EventType.STORE_UNAVAILABLE,
            context,
            now,
            metadata={"fail_open": settings.fail_open, "error": type(error).__name__},
        )
        if settings.fail_open:
            context.unguarded = True
            return Entry(context, events=[event])
        return Entry(context, store_unavailable_reply(context.facts), [event])

    def internal_error(self, facts: RequestFacts) -> Reply:
        """Log the error being handled, loudly, and the answer that refuses the request."""
        logger.error(
            "idleguard: internal error on %s %s; the request is refused",
            printable(facts.method),
            printable(facts.path),
            exc_info=True,
        )
        return internal_error_reply()

    # -- while bytes flow -----------------------------------------------------
    def activity_due(self, context: SessionContext, now: float) -> bool:
        """A streaming request or message is due to count as activity again."""
        return (
            context.alive
            and context.activity
            and now - context.activity_mark >= context.policy.touch_interval
        )

    def keep_alive(self, context: SessionContext, now: float, *, activity: bool = True) -> StepOf:
        """Re-check a long request or socket; returns its events, and ends it in the context
        when the session is over."""
        key = context.key
        if key is None:
            return []
        context.activity_mark = now
        try:
            decision, record = yield Check(
                key, context.policy.limits, activity, now, context.carried
            )
        except StoreUnavailable:
            return []  # the stream goes on; the next check or request decides
        except Exception:
            logger.error("idleguard: internal error while re-checking a stream", exc_info=True)
            context.key = None  # refused from here on: the socket or stream is closed
            return []
        context.settle(key, decision, record, now)
        carrying = self.settings.carrier_name is not None
        if carrying and decision.alive and decision.touch and record is not None:
            context.carry = self.settings.store.seal(key, touched(record, now))
        if decision.expired_now:
            return [expiry_event(context, decision, record, now)]
        return []

    # -- after the app --------------------------------------------------------
    def leave(self, context: SessionContext) -> StepOf:
        """Carry out the app's begin, end and reauthenticate; returns a `Departure`.

        A failure here that is not the store's own is a bug: logged, and the
        app's answer replaced by a `500` that also clears the cookie.
        """
        try:
            return (yield from carry_out(context, self.ended, report_outage))
        except Exception:
            context.pending = ()
            reply = self.internal_error(context.facts)
            return Departure([*self.settings.clear_cookie_headers(), NO_STORE], [], reply)

    def ended(self, key: str) -> None:
        """Tell this process's open sockets of session `key` that it is over, at once."""
        for listener in list(self.listeners.get(key, ())):
            listener()

    def listen(self, key: str, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` when session `key` ends in this process; returns the undo."""
        self.listeners.setdefault(key, set()).add(listener)

        def forget() -> None:
            listeners = self.listeners.get(key)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    self.listeners.pop(key, None)

        return forget

    # -- between requests -----------------------------------------------------
    def sweep(self, now: float) -> StepOf:
        """End the sessions past their deadline that no request discovered; their events.

        The store ends each one atomically, so with a sweeper in every worker
        each expiry is still reported exactly once.
        """
        expired = yield PurgeExpired(now)
        settings = self.settings
        return [swept_event(settings, key, record, reason, now) for key, record, reason in expired]
