"""OpenID Connect single sign-on: the identity provider's session ends with idleguard's.

`pip install idleguard[oidc]` (Authlib, with its joserfc). The app signs users
in with Authlib's client as usual; this module translates idleguard's
decisions for the identity provider (IdP):

* An idle or absolute expiry sends the browser through the IdP's
  `end_session_endpoint` (RP-Initiated Logout 1.0) with the id token as
  `id_token_hint`, so the IdP does not sign the user straight back in; an API
  client gets the URL as `logout_url` in the `401` body.
* The IdP's back-channel logout (Back-Channel Logout 1.0) arrives at
  `<endpoint_prefix>backchannel-logout` and ends every session of that IdP
  session (`sid`) or user (`sub`), with reason `idp_logout`.
* Step-up is proven by the IdP: `step_up_params` asks it for a fresh
  authentication (`max_age=0`, `prompt=login`, `acr_values`), and
  `stepped_up` accepts only an `auth_time` newer than that request (and the
  `acr` asked for) before it records [`reauthenticated`][idleguard.reauthenticated].

What it keeps on the server (the id token, `sid` to sessions, seen `jti`) lives
beside the session store: see `idleguard.integrations.oidc.ledger`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio.to_thread

try:
    import cachetools  # noqa: F401 - the in-process ledger's
    import httpx  # noqa: F401 - the provider's keys
    import joserfc  # noqa: F401 - logout tokens
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        f'idleguard.integrations.oidc needs {error.name}: pip install "idleguard[oidc]"'
    ) from error

from ...api import context_of
from ...context import SessionContext
from ...core import EndReason
from ...errors import ConfigError, StoreUnavailable
from ...facts import RequestFacts
from ...provider import SIGNED_OUT, LogoutRejected, ProviderLogout
from ...replies import next_path
from ...steps import Call, StepOf
from ...stores.base import Store
from ...urls import check_origin
from .ledger import Entry, Ledger, MemoryLedger, ledger_for
from .logout import decode_state, encode_state, end_session_url
from .tokens import (
    AuthenticationRefused,
    ProviderKeys,
    check_authentication,
    header_key_id,
    logout_claims,
    signing_algorithms,
)

__all__ = ["AuthenticationRefused", "OpenIDProvider"]

logger = logging.getLogger("idleguard")

#: Seconds an entry outlives a session with no absolute limit.
UNBOUNDED_SESSION_TTL = 7 * 24 * 3600.0


class OpenIDProvider:
    """An OpenID Provider whose session follows idleguard's: pass it as `identity_provider=`.

    Register at the IdP, for this client: the post-logout redirect URI
    `{app_url}{endpoint_prefix}signed-out` and the back-channel logout URI
    `{app_url}{endpoint_prefix}backchannel-logout` (with `sid` required).

    Args:
        issuer: The IdP's issuer URL, exactly as its tokens name it; its
            discovery document is read from `/.well-known/openid-configuration`.
        client_id: This app's client id at the IdP (the logout token's `aud`).
        app_url: The app's public origin and mount point, such as
            `"https://app.example"`, from which the URIs above are made.
        end_session_on: The end reasons whose refusal goes through the IdP's
            logout (default: `idle` and `absolute`). Pass `()` to keep the
            IdP's session (a per-app choice).
        step_up_acr_values: The `acr` values a step-up asks for and accepts
            (default: any).
        step_up_prompt: Besides `max_age=0`, also send `prompt=login`
            (default: true; some IdPs honour only one of the two).
        session_limit: The IdP's own session lifetime in seconds, when known.
            No discovery field publishes it, so it is configured here;
            [`idleguard.explain`][idleguard.explain] reports it when shorter
            than the absolute limit.
        ledger: Where the id tokens, `sid` links and seen `jti` live: a
            [`Ledger`][idleguard.integrations.oidc.ledger.Ledger] or a
            `memory://` / `redis://` URL. By default, beside the session store
            (a memory store: in process; a Redis store: on its server). The
            cookie and SQL stores need one named.
        logout_token_max_age: Seconds a logout token's `iat` may be old.
        leeway: Seconds of clock difference allowed with the IdP.
        metadata: The discovery document, instead of fetching it.
        jwks: The IdP's key set, instead of fetching it from `jwks_uri`.
        timeout: Seconds each request to the IdP may take.

    Raises:
        ConfigError: `app_url` is not an origin with an optional path, an
            `end_session_on` value is no end reason, or `jwks` holds no key.
    """

    def __init__(
        self,
        issuer: str,
        client_id: str,
        *,
        app_url: str,
        end_session_on: Iterable[str] = (EndReason.IDLE.value, EndReason.ABSOLUTE.value),
        step_up_acr_values: Iterable[str] = (),
        step_up_prompt: bool = True,
        session_limit: float | None = None,
        ledger: Ledger | str | None = None,
        logout_token_max_age: float = 120.0,
        leeway: float = 60.0,
        metadata: Mapping[str, Any] | None = None,
        jwks: Mapping[str, Any] | None = None,
        timeout: float = 5.0,
    ) -> None:
        parts = urlsplit(app_url)
        check_origin("app_url", f"{parts.scheme}://{parts.netloc}")
        if parts.query or parts.fragment:
            raise ConfigError(f"app_url {app_url!r}: an origin and a path, with no query")
        self.issuer = issuer
        self.client_id = client_id
        self.app_url = app_url.rstrip("/")
        self.end_session_on = frozenset(str(reason) for reason in end_session_on)
        unknown = self.end_session_on - {reason.value for reason in EndReason}
        if unknown:
            raise ConfigError(f"end_session_on: {sorted(unknown)} are not end reasons")
        self.step_up_acr_values = tuple(step_up_acr_values)
        self.step_up_prompt = step_up_prompt
        self._session_limit = session_limit
        self.keys = ProviderKeys(issuer, metadata=metadata, jwks=jwks, timeout=timeout)
        self.logout_token_max_age = logout_token_max_age
        self.leeway = leeway
        self._ledger_option = ledger
        self.ledger: Ledger | None = ledger if not isinstance(ledger, (str, type(None))) else None
        self.clock: Callable[[], float] = time.time
        self.tombstone_ttl = 24 * 3600.0
        self.endpoint_prefix = "/_idleguard/"

    @property
    def session_limit(self) -> float | None:
        return self._session_limit

    @property
    def blocking(self) -> bool:
        """True until the discovery document is read, and always with a network ledger."""
        return not isinstance(self.ledger, MemoryLedger) or not self.keys.loaded

    @property
    def post_logout_redirect_uri(self) -> str:
        """Where the IdP sends the browser after its logout (register it there)."""
        return f"{self.app_url}{self.endpoint_prefix}{SIGNED_OUT}"

    # -- bound by the middleware's settings -----------------------------------
    def bind(self, *, store: Store, clock: Callable[[], float], endpoint_prefix: str) -> None:
        """Take the middleware's store, clock and prefix; choose the ledger."""
        self.clock = clock
        self.endpoint_prefix = endpoint_prefix
        self.tombstone_ttl = store.tombstone_ttl
        if self.ledger is None:
            self.ledger = ledger_for(self._ledger_option, store, clock)

    def close(self) -> None:
        """Close the ledger's connections (a Redis ledger's); call it when the app stops."""
        if self.ledger is not None:
            self.ledger.close()

    def _bound(self) -> Ledger:
        if self.ledger is None:
            raise LookupError("OpenIDProvider is not in use: pass it as identity_provider=")
        return self.ledger

    # -- what the app calls from its sign-in views ----------------------------
    def sign_in_params(self, request: Any) -> dict[str, Any]:
        """Extra authorization parameters for a sign-in: `max_age`, the absolute limit.

        Pass them to Authlib's `authorize_redirect(...)`: an IdP session older
        than idleguard would let a session live asks the user to sign in again.
        """
        absolute = context_of(request).policy.absolute_timeout
        return {} if absolute is None else {"max_age": int(absolute)}

    def signed_in(self, request: Any, token: Mapping[str, Any], **begin: Any) -> None:
        """Begin the idleguard session for an Authlib token, and remember it for the IdP.

        Call it in the redirect view, after `authorize_access_token`: `token` is
        what that returns, its id token already verified by Authlib (signature,
        `iss`, `aud`, `exp`, `nonce`). `subject` defaults to the id token's
        `sub`; other keywords go to [`idleguard.begin`][idleguard.begin].

        Raises:
            AuthenticationRefused: The token has no id token, or (with an
                absolute limit) authenticates the user longer ago than that.
            StoreUnavailable: The ledger could not record the session.
        """
        context, key, entry, links = self._begin(request, token, begin)
        ledger, ttl = self._bound(), self._ttl(context)
        ledger.put(key, entry, ttl)
        for group in links:
            ledger.link(group, key, ttl)

    # The async forms run the sync one on a worker thread: a sign-in is rare,
    # and the ledger's sync client then never blocks the event loop.
    async def asigned_in(self, request: Any, token: Mapping[str, Any], **begin: Any) -> None:
        """`signed_in` from an async view."""
        await anyio.to_thread.run_sync(lambda: self.signed_in(request, token, **begin))

    async def astep_up_params(self, request: Any) -> dict[str, Any]:
        """`step_up_params` from an async view."""
        params: dict[str, Any] = await anyio.to_thread.run_sync(self.step_up_params, request)
        return params

    async def astepped_up(self, request: Any, token: Mapping[str, Any]) -> None:
        """`stepped_up` from an async view."""
        await anyio.to_thread.run_sync(self.stepped_up, request, token)

    def _begin(
        self, request: Any, token: Mapping[str, Any], begin: dict[str, Any]
    ) -> tuple[SessionContext, str, Entry, list[str]]:
        claims = _claims(token)
        context = context_of(request)
        absolute = context.policy.absolute_timeout
        if absolute is not None:
            check_authentication(claims, not_before=self.clock() - absolute - self.leeway)
        subject = begin.pop("subject", None) or claims["sub"]
        context.begin(subject, begin.pop("tenant", None), begin.pop("credential", None))
        if begin:
            raise TypeError(f"signed_in() got unexpected arguments {sorted(begin)}")
        assert context.key is not None
        entry: Entry = {"id_token": token["id_token"], "sub": claims["sub"]}
        # A logout token names the IdP session (`sid`) or the user (`sub`): both lead here.
        links = ["sub:" + claims["sub"]]
        if isinstance(claims.get("sid"), str):
            entry["sid"] = claims["sid"]
            links.append("sid:" + claims["sid"])
        return context, context.key, entry, links

    def _live(self, request: Any, caller: str) -> tuple[SessionContext, str, Ledger]:
        context = context_of(request)
        if context.key is None:
            raise LookupError(f"{caller}() needs a live session")
        return context, context.key, self._bound()

    def _ttl(self, context: SessionContext) -> float:
        absolute = context.policy.absolute_timeout
        return (absolute or UNBOUNDED_SESSION_TTL) + self.tombstone_ttl

    def step_up_params(self, request: Any) -> dict[str, Any]:
        """Parameters that make the IdP authenticate the user again; remembers when it was asked.

        Pass them to Authlib's `authorize_redirect(...)` from the view your
        `step_up_url` names. The request needs a live session.

        Raises:
            LookupError: The request has no live session.
        """
        context, key, ledger = self._live(request, "step_up_params")
        entry = ledger.get(key) or {}
        entry["step_up_at"] = self.clock()
        ledger.put(key, entry, self._ttl(context))
        params: dict[str, Any] = {"max_age": 0}
        if self.step_up_prompt:
            params["prompt"] = "login"
        if self.step_up_acr_values:
            params["acr_values"] = " ".join(self.step_up_acr_values)
        return params

    def stepped_up(self, request: Any, token: Mapping[str, Any]) -> None:
        """Accept the IdP's answer to a step-up: then, and only then, `reauthenticated()`.

        Raises:
            AuthenticationRefused: No step-up was asked for this session, the
                `auth_time` is older than the request, the `acr` is not one asked
                for, or the token is another user's.
            LookupError: The request has no live session.
        """
        context, key, ledger = self._live(request, "stepped_up")
        entry = ledger.get(key)
        if entry is None or "step_up_at" not in entry:
            raise AuthenticationRefused("no step-up was asked for this session")
        claims = _claims(token)
        check_authentication(
            claims,
            not_before=entry["step_up_at"],
            acr_values=self.step_up_acr_values,
            subject=entry.get("sub"),
        )
        del entry["step_up_at"]
        entry["id_token"] = token["id_token"]  # the freshest, for the logout hint
        ledger.put(key, entry, self._ttl(context))
        context.reauthenticated()

    # -- what the flow asks ---------------------------------------------------
    def logout_location(self, key: str, reason: str, facts: RequestFacts) -> StepOf:
        """The IdP's end-session URL for session `key`, or `None` (see `IdentityProvider`)."""
        if reason not in self.end_session_on or self.ledger is None:
            return None
        try:
            entry = yield Call(self.ledger.get, (key,), self.ledger.aget)
            if entry is None:
                return None
            metadata = yield Call(self.keys.metadata, (), self.keys.ametadata)
        except StoreUnavailable as error:
            # The session is refused all the same; only the IdP's own logout is lost.
            logger.warning("idleguard: no identity provider logout for an ended session: %s", error)
            return None
        endpoint = metadata.get("end_session_endpoint")
        id_token = entry.get("id_token")
        if not isinstance(endpoint, str) or not isinstance(id_token, str):
            return None
        return end_session_url(
            endpoint,
            id_token_hint=id_token,
            post_logout_redirect_uri=self.post_logout_redirect_uri,
            client_id=self.client_id,
            state=encode_state(reason, next_path(facts)),
        )

    def returned(self, query: str) -> tuple[str, str | None] | None:
        """The reason and the page to return to, from the `state` the IdP sends back."""
        values = parse_qs(query).get("state")
        return None if not values else decode_state(values[0])

    def verify_logout(self, form: dict[str, list[str]], now: float) -> StepOf:
        """Check a back-channel logout request; the sessions it names (see `IdentityProvider`)."""
        ledger = self.ledger
        assert ledger is not None
        tokens = form.get("logout_token", [])
        if len(tokens) != 1 or not tokens[0]:
            raise LogoutRejected("the request needs exactly one logout_token")
        token = tokens[0]
        key_id = header_key_id(token)
        metadata = yield Call(self.keys.metadata, (), self.keys.ametadata)
        keys = yield Call(self.keys.keys, (key_id, now), self.keys.akeys)
        claims = logout_claims(
            token,
            keys,
            issuer=self.issuer,
            client_id=self.client_id,
            now=now,
            max_age=self.logout_token_max_age,
            leeway=self.leeway,
            algorithms=signing_algorithms(metadata),
        )
        # Past this the iat check refuses the token anyway: the jti need not be kept longer.
        ttl = self.logout_token_max_age + 2 * self.leeway
        if not (yield Call(ledger.claim, (claims["jti"], ttl), ledger.aclaim)):
            raise LogoutRejected("this logout token was used before")
        sid = claims.get("sid")
        if isinstance(sid, str) and sid:
            keys_of_sid = yield Call(ledger.members, ("sid:" + sid,), ledger.amembers)
            return ProviderLogout(tuple(keys_of_sid), token_id=claims["jti"])
        sub = claims["sub"]
        # The sessions signed in as `sub`, and (revoke by subject) those whose subject it is.
        linked = yield Call(ledger.members, ("sub:" + sub,), ledger.amembers)
        return ProviderLogout(tuple(linked), subject=sub, token_id=claims["jti"])

    def release(self, logout: ProviderLogout) -> StepOf:
        """Forget that `logout`'s token was used (see `IdentityProvider`); best effort."""
        ledger = self.ledger
        if ledger is None or logout.token_id is None:
            return
        try:
            yield Call(ledger.release, (logout.token_id,), ledger.arelease)
        except StoreUnavailable as error:
            logger.warning("idleguard: a failed back-channel logout stays recorded: %s", error)


def _claims(token: Mapping[str, Any]) -> Mapping[str, Any]:
    claims = token.get("userinfo")
    if not isinstance(token.get("id_token"), str) or not isinstance(claims, Mapping):
        raise AuthenticationRefused("the token has no id token (ask for the openid scope)")
    if not isinstance(claims.get("sub"), str):
        raise AuthenticationRefused("the id token has no sub")
    return claims
