"""Framework conveniences over the ASGI and WSGI middleware; what they share lives here.

Each integration only translates: a framework's configuration into the
middleware's keyword arguments, a framework's request into the request
object :func:`idleguard.current` already understands, and the answers below
into the framework's response type. None of them decides anything about a
session.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Mapping
from typing import Any

from ..api import context_of
from ..context import SessionInfo
from ..events import Event, EventType
from ..flow import Flow, step_up_location
from ..policy import Policy
from ..rules import Resolution, step_up_due
from ..settings import Settings

__all__ = [
    "CLIENT_SCRIPT_PATH",
    "NOT_SIGNED_IN",
    "POLICY_FIELDS",
    "STEP_UP_REQUIRED",
    "FreshnessCheck",
    "check_fresh",
    "middleware_options",
    "script_tag",
    "session_was_checked",
]

#: Where the browser client is served.
CLIENT_SCRIPT_PATH = "/_idleguard/idleguard.js"
#: The ``error`` of a ``401`` for a request that needs a session and has none.
NOT_SIGNED_IN = "not_signed_in"
#: The ``error`` of a ``401`` for a request whose sign-in is older than the view allows.
STEP_UP_REQUIRED = "step_up_required"
#: The :class:`~idleguard.Policy` fields a configuration mapping may set one by one.
POLICY_FIELDS = ("idle_timeout", "absolute_timeout", "warn_before", "touch_interval")
#: Options of the ASGI adapter that :class:`~idleguard.settings.Settings` does not take.
_ADAPTER_OPTIONS = ("websocket_recheck",)


def _known_options() -> tuple[str, ...]:
    # Read from the signature, so an option added to Settings is configurable
    # from every framework's settings without touching this module.
    parameters = inspect.signature(Settings.__init__).parameters
    return (*(name for name in parameters if name != "self"), *_ADAPTER_OPTIONS)


def middleware_options(
    config: Mapping[str, Any],
    *,
    source: str,
    fallback_secret: str | bytes | None = None,
) -> dict[str, Any]:
    """Keyword arguments for the middleware from a framework's configuration.

    ``config`` maps lower-case option names (``"store"``, ``"login_url"``, ...)
    to values; the policy fields (``idle_timeout``, ``absolute_timeout``,
    ``warn_before``, ``touch_interval``, in seconds or as ``timedelta``) may be
    given one by one and are applied over ``policy`` (or the default policy).
    ``source`` names where the mapping came from, for error messages.
    ``fallback_secret`` is the framework's own secret key, used to sign
    idleguard's cookie when no ``secret_key`` or ``identity`` is configured.
    An unknown name fails at start-up rather than being ignored.
    """
    known = _known_options()
    options: dict[str, Any] = {}
    policy_changes: dict[str, Any] = {}
    for name, value in config.items():
        if name in POLICY_FIELDS:
            policy_changes[name] = value
        elif name in known:
            options[name] = value
        else:
            raise ValueError(
                f"{source}: unknown idleguard setting {name!r}; "
                f"known: {', '.join(sorted((*known, *POLICY_FIELDS)))}"
            )
    if policy_changes:
        base = options.get("policy") or Policy()
        options["policy"] = base.replace(**policy_changes)
    if (
        options.get("secret_key") is None
        and options.get("identity") is None
        and fallback_secret is not None
    ):
        options["secret_key"] = fallback_secret
    return options


def session_was_checked(request: Any) -> bool:
    """True when idleguard checked this request's session (neither exempt nor unguarded).

    A framework login that is still alive while this is true and
    :func:`idleguard.current` is ``None`` outlived idleguard's session and must end.
    """
    context = context_of(request)
    return not (context.exempt or context.unguarded)


class FreshnessCheck:
    """The outcome of :func:`check_fresh`.

    ``session`` is the live session (``None`` without one); ``error`` is
    ``None`` when the view may run, else the ``401`` to answer: ``body`` is
    its JSON, and ``events`` the audit events to emit (``step_up_required``).
    ``location``, when set, is where a browser navigation is sent instead
    (``303`` to the middleware's ``step_up_url``).
    """

    __slots__ = ("body", "error", "events", "location", "session")

    def __init__(
        self,
        session: SessionInfo | None,
        error: str | None = None,
        body: dict[str, Any] | None = None,
        events: list[Event] | None = None,
    ) -> None:
        self.session = session
        self.error = error
        self.body: dict[str, Any] = body if body is not None else {"error": error}
        self.events: list[Event] = events or []
        self.location: str | None = None


def check_fresh(request: Any, max_age: float) -> FreshnessCheck:
    """Whether the request's user signed in (or re-authenticated) less than ``max_age`` seconds ago.

    Decided by the policy engine's own step-up test
    (:func:`idleguard.rules.step_up_due`, on the middleware's clock), so a
    view-level requirement and a ``PathRule(authenticated_within=...)`` agree
    to the second. ``error`` is :data:`NOT_SIGNED_IN` without a live session,
    :data:`STEP_UP_REQUIRED` when the last authentication is too old (the body
    then names the rule and ``max_age`` as the middleware's own step-up answer
    does), ``None`` when the view may run.
    """
    context = context_of(request)
    session = context.info()
    if session is None:
        return FreshnessCheck(None, NOT_SIGNED_IN)
    rule = f"view:{context.facts.path}"
    resolution = Resolution(context.policy, rule, rule, authenticated_within=(max_age, rule))
    now = context.settings.clock()
    # A view's requirement is about authentication age alone; idle time is the middleware's.
    step_up = step_up_due(resolution, session.authenticated_at, now, now)
    if step_up is None:
        return FreshnessCheck(session)
    event = Flow(context.settings).event(
        EventType.STEP_UP_REQUIRED,
        context,
        now,
        reason=step_up.kind,
        metadata={"rule": step_up.rule, "limit": step_up.limit},
    )
    body = {"error": STEP_UP_REQUIRED, "rule": step_up.rule, "max_age": step_up.limit}
    check = FreshnessCheck(session, STEP_UP_REQUIRED, body, [event])
    check.location = step_up_location(context.settings, context.facts)
    return check


def script_tag(src: str = CLIENT_SCRIPT_PATH, *, nonce: str | None = None) -> str:
    """The ``<script>`` element that loads the browser client (HTML, escaped).

    ``nonce`` is the page's Content-Security-Policy nonce, when it has one.
    """
    nonce_attribute = f' nonce="{html.escape(nonce)}"' if nonce else ""
    return f'<script src="{html.escape(src)}"{nonce_attribute} defer></script>'
