"""Starlette: the middleware as it is, and the session as `request.user` / `request.auth`.

[`SessionBackend`][idleguard.integrations.starlette.SessionBackend] plugs idleguard's
session into Starlette's own `AuthenticationMiddleware`, so `request.user.is_authenticated`,
`request.user.display_name` and `@requires("authenticated")` follow the
server-side session. Put [`IdleGuard`][idleguard.IdleGuard] outside it (first in
the `middleware=` list).
"""

from __future__ import annotations

from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser
from starlette.requests import HTTPConnection

from .. import api
from ..context import SessionInfo

__all__ = ["SessionBackend", "SessionUser"]


class SessionUser(BaseUser):
    """`request.user` for a request with a live session.

    Its `display_name` and `identity` are the session's subject.

    Args:
        session: The live session, kept as `session`.
    """

    def __init__(self, session: SessionInfo) -> None:
        self.session = session

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.session.subject or ""

    @property
    def identity(self) -> str:
        return self.session.subject or ""


class SessionBackend(AuthenticationBackend):
    """An authentication backend: a live idleguard session is a signed-in user.

    Args:
        scopes: The credentials granted to every such user (for `@requires`).
    """

    def __init__(self, scopes: tuple[str, ...] = ("authenticated",)) -> None:
        self.scopes = scopes

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        session = api.current(conn)
        if session is None:
            return None
        return AuthCredentials(list(self.scopes)), SessionUser(session)
