"""Carrying out what the app asked for during a request: sign-in, sign-out, re-authentication.

The app's `idleguard.begin()`, `end()` and `reauthenticated()` only
record intent in the request's context; this step applies it against the
store when the response starts, and says what the response becomes: the
cookie to set or clear, the events, and a reply that replaces the app's when
the store did not record what the app's answer would claim.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import NamedTuple

from .context import SessionContext
from .errors import StoreUnavailable
from .events import Event, EventType
from .replies import NO_STORE, Reply, store_unavailable_reply, with_headers
from .session_events import request_event
from .steps import Create, End, Reauthenticate, StepOf

__all__ = ["CookieChange", "Departure", "carry_out"]


class CookieChange(enum.Enum):
    """What happens to the browser's session cookie besides setting a new one."""

    CLEAR = "clear"


class Departure(NamedTuple):
    """What the flow adds after the app: headers, events, and a reply that replaces the app's."""

    headers: list[tuple[str, str]]
    events: list[Event]
    reply: Reply | None = None


def carry_out(
    context: SessionContext,
    on_end: Callable[[str], None],
    on_outage: Callable[..., None],
) -> StepOf:
    """Apply `context.pending` against the store; returns a `Departure`.

    `on_end(key)` is told of each session ended here (its open sockets
    close); `on_outage(settings, error)` of a store that did not answer.
    """
    settings = context.settings
    events: list[Event] = []
    # What the browser's cookie becomes: a new credential, CLEAR, or unchanged (None).
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
                yield Create(action.key, new, resolution.policy.limits)
                settings.policies.remember(action.key, *hint)
                events.append(request_event(EventType.SESSION_STARTED, context, now, action=action))
                cookie = action.credential
                if settings.carrier_name is not None:
                    context.carry = settings.store.seal(action.key, new)
            elif action.kind == "end":
                record = yield End(action.key, action.reason, now, context.carried)
                context.carry = None
                if record is not None:
                    events.append(
                        request_event(
                            EventType.SESSION_ENDED,
                            context,
                            now,
                            action=action,
                            record=record,
                            reason=action.reason.value,
                        )
                    )
                on_end(action.key)
                cookie = CookieChange.CLEAR
            else:  # reauthenticate
                if (yield Reauthenticate(action.key, now, context.carried)):
                    events.append(
                        request_event(EventType.REAUTHENTICATED, context, now, action=action)
                    )
                if settings.carrier_name is not None and context.record is not None:
                    context.carry = settings.store.seal(action.key, context.record)
        except StoreUnavailable as error:
            on_outage(settings, error)
            events.append(
                request_event(
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
