"""What the request flow asks of an identity provider, and nothing more.

With single sign-on, ending idleguard's session is not enough: the identity
provider (IdP) would sign the user straight back in. The flow keeps every
decision (this session is over; this logout token names those sessions; this
request needs a fresh authentication) and asks an `IdentityProvider` only to
translate: where the browser goes so the IdP ends its own session, what a
logout token from the IdP names, and what the IdP says of its own session
limit. [`idleguard.integrations.oidc.OpenIDProvider`][idleguard.integrations.oidc.OpenIDProvider]
is the OpenID Connect one; anything with these methods will do.

Its calls are steps like the flow's own (`idleguard.steps`): they yield
`idleguard.steps.Call` values for their I/O (the IdP's keys, a small
server-side ledger), so WSGI drives them with sync calls and ASGI awaits them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol

from .facts import RequestFacts
from .steps import StepOf
from .stores.base import Store

__all__ = [
    "BACKCHANNEL_LOGOUT",
    "MAX_LOGOUT_BODY",
    "SIGNED_OUT",
    "IdentityProvider",
    "LogoutRejected",
    "ProviderLogout",
]

#: The back-channel logout receiver, under the endpoint prefix.
BACKCHANNEL_LOGOUT = "backchannel-logout"
#: Where the IdP sends the browser back after ending its session, under the endpoint prefix.
SIGNED_OUT = "signed-out"
#: The largest back-channel logout request body read (a logout token is a few hundred bytes).
MAX_LOGOUT_BODY = 16 * 1024


class LogoutRejected(Exception):
    """A back-channel logout request that changes nothing: answered `400`, the message says why."""


@dataclasses.dataclass(frozen=True, slots=True)
class ProviderLogout:
    """The sessions a valid logout token names.

    Attributes:
        keys: Store keys of the sessions signed in with the token's `sid`.
        subject: When the token names a user and no IdP session: every session
            of this subject (as the app passed it to [`begin`][idleguard.begin])
            ends.
        token_id: The token's id (`jti`), recorded as used.
    """

    keys: tuple[str, ...]
    subject: str | None = None
    token_id: str | None = None


class IdentityProvider(Protocol):
    """The identity provider integration the flow talks to (`identity_provider=`).

    Attributes:
        session_limit: The IdP's own session lifetime in seconds, when known;
            [`idleguard.explain`][idleguard.explain] reports it when it is
            shorter than idleguard's absolute limit.
    """

    @property
    def session_limit(self) -> float | None:
        """The IdP's own session lifetime in seconds, or `None` when unknown."""
        ...

    @property
    def blocking(self) -> bool:
        """True while its steps' calls may block on I/O (then ASGI awaits them)."""
        ...

    def bind(self, *, store: Store, clock: Callable[[], float], endpoint_prefix: str) -> None:
        """Called once when the middleware's settings are built (may raise `ConfigError`)."""
        ...

    def logout_location(self, key: str, reason: str, facts: RequestFacts) -> StepOf:
        """A step returning where the browser goes so the IdP ends its session too, or `None`.

        Asked when idleguard refuses session `key` for `reason` (an
        [`EndReason`][idleguard.EndReason] value). `None` gives the usual answer
        (the sign-in page, or `401` JSON).
        """
        ...

    def verify_logout(self, form: dict[str, list[str]], now: float) -> StepOf:
        """A step returning the [`ProviderLogout`][idleguard.provider.ProviderLogout] a request names.

        `form` is the back-channel request's form body, parsed.

        Raises:
            LogoutRejected: The request is not a valid, fresh logout token.
        """
        ...

    def release(self, logout: ProviderLogout) -> StepOf:
        """A step that forgets `logout`'s token was used: ending its sessions failed, it may come again."""
        ...

    def returned(self, query: str) -> tuple[str, str | None] | None:
        """`(reason, next path)` from the query the IdP sends the browser back with, or `None`."""
        ...
