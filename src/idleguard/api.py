"""What an app calls from its views: begin, end, reauthenticated, current.

`request` may be a Starlette/FastAPI `Request`, a Flask/werkzeug request,
a Django request, an ASGI scope or a WSGI environ: whatever the view has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .context import SessionContext, SessionInfo

if TYPE_CHECKING:
    from .engine import PolicyEngine

__all__ = [
    "begin",
    "context_of",
    "current",
    "end",
    "explain",
    "policies",
    "reauthenticated",
]


def context_of(request: Any) -> SessionContext:
    """The idleguard context of a request.

    Args:
        request: A framework's request, an ASGI scope or a WSGI environ.

    Returns:
        The context the middleware put on the request.

    Raises:
        LookupError: The request did not pass through the middleware.
    """
    holder: Any = None
    if isinstance(request, Mapping):
        holder = request
    else:
        # Starlette, Litestar, Quart, BlackSheep and Falcon's ASGI request: scope;
        # Flask, Pyramid, Bottle: environ; Django: META; Falcon's WSGI request: env.
        for attribute in ("scope", "environ", "META", "env"):
            holder = getattr(request, attribute, None)
            if isinstance(holder, Mapping) and "idleguard" in holder:
                break
    context = holder.get("idleguard") if isinstance(holder, Mapping) else None
    if not isinstance(context, SessionContext):
        raise LookupError(
            "this request did not pass through idleguard: wrap the app in "
            "IdleGuard (ASGI) or IdleGuardWSGI (WSGI)"
        )
    return context


def begin(
    request: Any,
    subject: str | None = None,
    *,
    tenant: str | None = None,
    credential: str | None = None,
) -> None:
    """Start a session for `subject` on sign-in, always under a NEW id.

    Any session the request already had is ended first, so an id planted
    before sign-in is worthless after it. With idleguard's own cookie the
    cookie is set on this response.

    Args:
        request: The view's request: a Starlette/FastAPI `Request`, a Flask or
            werkzeug request, a Django request, an ASGI scope or a WSGI environ.
        subject: Who signed in (the user's id), as events and the store name it.
        tenant: The tenant the user signed in to, for per-tenant policies.
        credential: When idleguard guards the app's own cookie or token
            ([`AppCookie`][idleguard.AppCookie],
            [`BearerToken`][idleguard.BearerToken]): the credential the app has
            just issued.

    Raises:
        LookupError: The request did not pass through the middleware.
    """
    context_of(request).begin(subject, tenant, credential)


def end(request: Any) -> None:
    """End the request's session on sign-out; the cookie is cleared on this response.

    Args:
        request: The view's request (as for [`begin`][idleguard.begin]).

    Raises:
        LookupError: The request did not pass through the middleware.
    """
    context_of(request).end()


def reauthenticated(request: Any) -> None:
    """Record that the user has just proved who they are again (for step-up checks).

    Call it after checking the password (or second factor) again. The
    session's `authenticated_at` becomes now, which satisfies step-up rules
    until it is older than they allow, and a `reauthenticated` event is
    recorded.

    Args:
        request: The view's request (as for [`begin`][idleguard.begin]).

    Raises:
        LookupError: The request did not pass through the middleware.
    """
    context_of(request).reauthenticated()


def explain(request: Any) -> dict[str, Any]:
    """Which rules set this request's limits, and how much time is left.

    Args:
        request: The view's request (as for [`begin`][idleguard.begin]).

    Returns:
        `idle_timeout` and `absolute_timeout` (seconds, `None` when off),
            `idle_rule` and `absolute_rule` (the rule, bound or choice that set
            each: `"default"`, `"preset:pci-dss"`, `"tenant:acme"`, `"user"`,
            `"role:admin"`, `"path:/billing"`, `"device:mobile"`,
            `"tenant maximum"`), `idle_remaining` and `absolute_remaining`
            (seconds), `step_up_rule` and `step_up_required`, `notes` (each
            clamp applied), `session` and `exempt`; with an identity provider
            whose session ends sooner than the absolute limit,
            `idp_session_limit` (seconds).

    Raises:
        LookupError: The request did not pass through the middleware.
    """
    context = context_of(request)
    return context.explain()


def policies(request: Any) -> PolicyEngine:
    """The policy engine guarding this request, for runtime changes from a view.

    Args:
        request: The view's request (as for [`begin`][idleguard.begin]).

    Returns:
        The middleware's [`PolicyEngine`][idleguard.PolicyEngine].

    Raises:
        LookupError: The request did not pass through the middleware.
    """
    return context_of(request).settings.policies


def current(request: Any) -> SessionInfo | None:
    """The request's live session: who, and how long it has left.

    Args:
        request: The view's request (as for [`begin`][idleguard.begin]).

    Returns:
        The session, or `None` when the request has no live session.

    Raises:
        LookupError: The request did not pass through the middleware.
    """
    return context_of(request).info()
