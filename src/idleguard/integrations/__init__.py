"""Framework conveniences over the ASGI and WSGI middleware; what they share lives here.

Each integration only translates: a framework's configuration into the
middleware's keyword arguments, a framework's request into the request
object [`idleguard.current`][idleguard.current] already understands, and the answers
below into the framework's response type. None of them decides anything about a
session: whether a framework's login may be served is decided here, once,
by `login_is_bound`.
"""

from __future__ import annotations

import hmac
import html
from collections.abc import Mapping
from typing import Any

from ..api import context_of
from ..context import SessionInfo
from ..endpoints import client_script_url
from ..events import Event, EventType
from ..options import READERS, Configured, Spelling
from ..policy import POLICY_FIELDS
from ..replies import step_up_location
from ..resolution import Resolution, step_up_due
from ..session_events import request_event
from ..settings import Settings

__all__ = [
    "BINDING_SESSION_KEY",
    "CLIENT_SCRIPT_PATH",
    "NOT_SIGNED_IN",
    "POLICY_FIELDS",
    "STEP_UP_REQUIRED",
    "FreshnessCheck",
    "binding_for",
    "check_fresh",
    "client_script_tag",
    "end_with_framework_login",
    "login_is_bound",
    "middleware_options",
    "script_tag",
    "session_was_checked",
]

#: Where the browser client is served.
CLIENT_SCRIPT_PATH = "/_idleguard/idleguard.js"
#: The `error` of a `401` for a request that needs a session and has none.
NOT_SIGNED_IN = "not_signed_in"
#: The `error` of a `401` for a request whose sign-in is older than the view allows.
STEP_UP_REQUIRED = "step_up_required"
#: Where a framework's own session (Flask's `session`, Django's `request.session`) records
#: which idleguard session its login belongs to (see `binding_for`).
BINDING_SESSION_KEY = "_idleguard_session"


def middleware_options(
    config: Mapping[str, Any],
    *,
    source: str | Spelling,
    fallback_secret: str | bytes | None = None,
) -> dict[str, Any]:
    """Keyword arguments for the middleware from a framework's configuration.

    The Flask and Django integrations gather their settings with
    `idleguard.options.Configured`, which also remembers where each was written; this is
    the same reading for a configuration of your own.

    Args:
        config: Setting names (`"store"`, `"idle_timeout"`, ...) or, with a
            `Spelling`, keys as it writes them, to values. Text values read as the
            environment's do (`"15m"`, `"off"`); the policy fields are applied over
            `policy` by the middleware.
        source: Where the mapping came from, for messages (`"settings.IDLEGUARD"`), or
            how its keys are spelt.
        fallback_secret: The framework's own secret key, used to sign idleguard's cookie
            when no `secret_key` or `identity` is configured.

    Returns:
        The keyword arguments for [`IdleGuard`][idleguard.IdleGuard] or
            [`IdleGuardWSGI`][idleguard.IdleGuardWSGI].

    Raises:
        ConfigError: An unknown name (with the closest one) or a value that does not read.
    """
    spelling = (
        source
        if isinstance(source, Spelling)
        else Spelling(source, place=f"{source}[{{key!r}}]", suggestion="{key!r}", text=True)
    )
    configured = Configured().read(config, spelling, READERS)
    configured.fallback_secret(fallback_secret)
    return configured.options


def session_was_checked(request: Any) -> bool:
    """Whether idleguard checked this request's session (neither exempt nor unguarded).

    Whether a framework login may be served is `login_is_bound`'s question, not this one: a
    checked request may present another login's session.

    Args:
        request: The framework's request (anything `idleguard.current` accepts).

    Returns:
        True unless the request was exempt or served unguarded under `fail_open`.
    """
    context = context_of(request)
    return not (context.exempt or context.unguarded)


def binding_for(request: Any) -> str | None:
    """What a framework's session records at sign-in, under `BINDING_SESSION_KEY`.

    Call it right after `idleguard.begin`, so it names the session just begun. The value is
    that session's keyed tag (the one events name it by), never its id or store key: a
    framework session kept in a cookie, as Flask's is, can be read by the browser.

    Args:
        request: The framework's request, inside the middleware.

    Returns:
        The tag of the request's session, or None when it has none.
    """
    context = context_of(request)
    return None if context.key is None else context.settings.tag(context.key)


def login_is_bound(request: Any, subject: str, recorded: object) -> bool:
    """Whether a framework login may be served on this request.

    Bound means: idleguard checked this request, found a live session, and it is the session
    begun at this login, for this subject. Not bound, and so logged out before the view runs:
    an exempt request, one served unguarded under `fail_open`, no live session, another
    session, another subject, or a login that recorded nothing (made before bindings were
    recorded, or outside the middleware).

    Args:
        request: The framework's request, inside the middleware.
        subject: The framework user's subject, as the integration gives it to `idleguard.begin`.
        recorded: What the framework's session holds under `BINDING_SESSION_KEY`; None when it
            holds nothing.

    Returns:
        True when the login may be served.
    """
    context = context_of(request)
    key = context.key
    # Exempt and unguarded requests were never looked up, so nothing vouches for their login.
    if context.exempt or context.unguarded or key is None or not isinstance(recorded, str):
        return False
    session = context.info()
    if session is None or session.subject != subject:
        return False
    return hmac.compare_digest(context.settings.tag(key), recorded)


def end_with_framework_login(request: Any) -> None:
    """End the request's idleguard session along with the framework's login (on its logout).

    Only a live session is ended in the store. Without one (not found, or the store did not
    answer under `fail_open`) nothing is written to the store: the browser is only told to
    forget a cookie idleguard issued. An exempt request presented nothing, so nothing changes.

    Args:
        request: The framework's request, inside the middleware.
    """
    context = context_of(request)
    if context.alive:
        context.end()
    elif context.credential_key is not None and context.settings.identity.issues:
        context.clear_cookie = True


class FreshnessCheck:
    """The outcome of [`check_fresh`][idleguard.integrations.check_fresh].

    Attributes:
        session: The live session; `None` without one.
        error: `None` when the view may run, else the `error` of the `401` to
            answer (`NOT_SIGNED_IN`, `STEP_UP_REQUIRED`).
        body: The `401`'s JSON.
        events: The audit events to emit (`step_up_required`).
        location: When set, where a browser navigation is sent instead (`303`
            to the middleware's `step_up_url`).
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
    """Whether the request's user signed in (or re-authenticated) recently enough.

    Decided by the policy engine's own step-up test
    (`idleguard.resolution.step_up_due`, on the middleware's clock), so a
    view-level requirement and a `PathRule(authenticated_within=...)` agree
    to the second.

    Args:
        request: The framework's request, inside the middleware.
        max_age: Seconds since the last authentication the view allows.

    Returns:
        The outcome: its `error` is `NOT_SIGNED_IN` without a live session,
            `STEP_UP_REQUIRED` when the last authentication is too old (the body
            then names the rule and `max_age` as the middleware's own step-up
            answer does), `None` when the view may run.
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
    event = request_event(
        EventType.STEP_UP_REQUIRED,
        context,
        now,
        reason=step_up.kind,
        metadata={"rule": step_up.rule, "limit": step_up.limit},
    )
    body = {"error": STEP_UP_REQUIRED, "rule": step_up.rule, "max_age": step_up.limit}
    check = FreshnessCheck(session, STEP_UP_REQUIRED, body, [event])
    check.location = step_up_location(context.settings.policies.step_up_url, context.facts)
    return check


def client_script_tag(settings: Settings, root: str = "", *, nonce: str | None = None) -> str:
    """The client's `<script>` element for a middleware's `settings`.

    It names the script under the configured `endpoint_prefix`, below the
    mount prefix, by its content hash (cached for a year, renamed by each
    release); the client finds its endpoints beside it.

    Args:
        settings: The middleware's settings.
        root: The mount prefix (WSGI `SCRIPT_NAME`, ASGI `root_path`).
        nonce: The page's Content-Security-Policy nonce, when it has one.

    Returns:
        The element, as escaped HTML.
    """
    src = root.rstrip("/") + client_script_url(settings.endpoint_prefix)
    return script_tag(src, nonce=nonce)


def script_tag(src: str = CLIENT_SCRIPT_PATH, *, nonce: str | None = None) -> str:
    """The `<script>` element that loads the browser client (HTML, escaped).

    Args:
        src: The script's URL.
        nonce: The page's Content-Security-Policy nonce, when it has one.

    Returns:
        The element.
    """
    nonce_attribute = f' nonce="{html.escape(nonce)}"' if nonce else ""
    return f'<script src="{html.escape(src)}"{nonce_attribute} defer></script>'
