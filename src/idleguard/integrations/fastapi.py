"""FastAPI: dependencies over the ASGI middleware, and the answers in the OpenAPI schema.

`Depends(current_session)` gives a view the live
[`SessionInfo`][idleguard.SessionInfo] or answers `401`;
`Depends(require_fresh_auth(minutes=5))` also answers `401` when the sign-in is
older than that. The dependencies raise
[`SessionError`][idleguard.integrations.fastapi.SessionError], an
`HTTPException`; with [`install`][idleguard.integrations.fastapi.install] (or
`exception_handlers=EXCEPTION_HANDLERS`) its body is `{"error": ...}` like the
middleware's own answers ([`IdleGuard`][idleguard.IdleGuard]), otherwise
FastAPI's `{"detail": {...}}`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from .. import api
from ..asgi import IdleGuard
from ..context import SessionInfo
from ..events import emit_sync
from ..options import ADAPTER_OPTIONS
from ..shared import keyword_settings
from . import NOT_SIGNED_IN, check_fresh

__all__ = [
    "EXCEPTION_HANDLERS",
    "SessionError",
    "SessionErrorBody",
    "current_session",
    "install",
    "openapi_responses",
    "require_fresh_auth",
]


class SessionError(HTTPException):
    """A `401` raised by the dependencies.

    Args:
        error: The machine-readable reason (`not_signed_in`,
            `step_up_required`), kept as `error`.
        body: The JSON answered, kept as `body`: `{"error": ...}`, with `rule`
            and `max_age` in seconds for a step-up. Default: `{"error": error}`.
    """

    def __init__(self, error: str, body: dict[str, Any] | None = None) -> None:
        self.body = body if body is not None else {"error": error}
        super().__init__(401, detail=self.body, headers={"cache-control": "no-store"})
        self.error = error


class SessionErrorBody(BaseModel):
    """The JSON body of a `401` from idleguard (middleware or dependency)."""

    error: Literal["session_expired", "not_signed_in", "step_up_required"]
    reason: str | None = None
    """Why a session ended (`idle`, `absolute`, `signed_out`, `revoked`, `idp_logout`, `invalid`)."""
    rule: str | None = None
    """For a step-up: the rule that asked for it."""
    max_age: float | None = None
    """For a step-up: the oldest sign-in the rule accepts, in seconds."""


class StoreUnavailableBody(BaseModel):
    """The JSON body of a `503` while the session store cannot be reached."""

    error: Literal["store_unavailable"]


def current_session(request: Request) -> SessionInfo:
    """Dependency: the request's live session, or `401 {"error": "not_signed_in"}`.

    Args:
        request: The request (FastAPI passes it).

    Returns:
        The live session.

    Raises:
        SessionError: The request has no live session.
    """
    session = api.current(request)
    if session is None:
        raise SessionError(NOT_SIGNED_IN)
    return session


def require_fresh_auth(minutes: float) -> Callable[[Request], SessionInfo]:
    """Dependency factory: the live session, if its sign-in is at most `minutes` old.

    Otherwise the dependency answers
    `401 {"error": "step_up_required", "rule": ..., "max_age": SECONDS}` and
    records a `step_up_required` event (a browser navigation is sent to the
    middleware's `step_up_url` with `303` when there is one), or
    `401 {"error": "not_signed_in"}` without a session. After the user proves
    who they are again, call
    [`idleguard.reauthenticated`][idleguard.reauthenticated].

    Args:
        minutes: How old the last sign-in may be, in minutes.

    Returns:
        The dependency, for `Depends(...)`.
    """
    max_age = minutes * 60.0

    def fresh_session(request: Request) -> SessionInfo:
        check = check_fresh(request, max_age)
        if check.error is not None:
            hooks = api.context_of(request).settings.hooks
            if check.events and hooks:
                # A sync dependency runs in a worker thread: sync delivery is safe here.
                emit_sync(hooks, check.events)
            if check.location is not None:
                # A browser navigation goes to re-authenticate, as the middleware sends it.
                raise HTTPException(
                    303, headers={"location": check.location, "cache-control": "no-store"}
                )
            raise SessionError(check.error, check.body)
        assert check.session is not None
        return check.session

    return fresh_session


def openapi_responses(*, store: bool = True) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route or router guarded by idleguard.

    Args:
        store: Also declare the `503` a fail-closed guard answers while its
            store is down.

    Returns:
        The `401` (session expired, not signed in, step-up required) and, with
            `store`, the `503`, with their models.
    """
    responses: dict[int | str, dict[str, Any]] = {
        401: {
            "model": SessionErrorBody,
            "description": "The session expired, there is none, or a fresh sign-in is needed.",
        }
    }
    if store:
        responses[503] = {
            "model": StoreUnavailableBody,
            "description": "The session store cannot be reached; retry later.",
        }
    return responses


async def _session_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, SessionError)
    return JSONResponse(error.body, status_code=401, headers=error.headers)


#: `FastAPI(exception_handlers=EXCEPTION_HANDLERS)`: `SessionError` as `{"error": ...}`.
EXCEPTION_HANDLERS: dict[int | type[Exception], Callable[..., Any]] = {SessionError: _session_error}


def install(app: FastAPI, **options: Any) -> None:
    """Guard `app`: add the middleware and the error handler for `SessionError`.

    The settings are built here, when `install` is called, not when Starlette builds its
    middleware on the first ASGI message: a misconfiguration stops the import of the app,
    with its message, instead of surfacing as a `500` on every request.

    Args:
        app: The FastAPI app.
        **options: The keyword options of [`IdleGuard`][idleguard.IdleGuard].

    Raises:
        ConfigError: A setting is refused (a misspelt keyword names the closest one).
    """
    adapter = {name: options.pop(name) for name in ADAPTER_OPTIONS if name in options}
    if "settings" not in adapter:
        adapter["settings"] = keyword_settings(options, "install")
    elif options:
        raise TypeError("pass either settings= or the options it is built from, not both")
    # mypy cannot infer Starlette's middleware factory from a class taking **options.
    app.add_middleware(IdleGuard, **adapter)  # type: ignore[arg-type]
    app.add_exception_handler(SessionError, _session_error)
