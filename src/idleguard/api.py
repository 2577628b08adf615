"""What an app calls from its views: begin, end, reauthenticated, current.

``request`` may be a Starlette/FastAPI ``Request``, a Flask/werkzeug request,
a Django request, an ASGI scope or a WSGI environ: whatever the view has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .context import SessionContext, SessionInfo

__all__ = ["begin", "context_of", "current", "end", "reauthenticated"]


def context_of(request: Any) -> SessionContext:
    """The idleguard context of a request; a clear error if the middleware is missing."""
    holder: Any = None
    if isinstance(request, Mapping):
        holder = request
    else:
        for attribute in ("scope", "environ", "META"):
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
    """Start a session for ``subject`` on sign-in, always under a NEW id.

    Any session the request already had is ended first, so an id planted
    before sign-in is worthless after it. With idleguard's own cookie the
    cookie is set on this response. When idleguard guards the app's own
    cookie or token, pass the ``credential`` the app has just issued.
    """
    context_of(request).begin(subject, tenant, credential)


def end(request: Any) -> None:
    """End the request's session on sign-out; the cookie is cleared on this response."""
    context_of(request).end()


def reauthenticated(request: Any) -> None:
    """Record that the user has just proved who they are again (for step-up checks)."""
    context_of(request).reauthenticated()


def current(request: Any) -> SessionInfo | None:
    """The request's live session (subject, remaining seconds), or ``None``."""
    return context_of(request).info()
