"""The identity provider's published facts, and the checks on what it signs.

`ProviderKeys` reads the discovery document and the signing keys (JWKS) once
and again when a token names a key it does not know, with a sync and an async
twin for each. `logout_claims` checks a back-channel logout token (OpenID
Connect Back-Channel Logout 1.0, section 2.6) and `check_authentication`
what an id token says of a fresh sign-in; both are pure and take `now`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any, TypeGuard

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ...errors import ConfigError, StoreUnavailable
from ...provider import LogoutRejected

__all__ = [
    "BACKCHANNEL_EVENT",
    "AuthenticationRefused",
    "ProviderKeys",
    "check_authentication",
    "logout_claims",
    "signing_algorithms",
]

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: Asymmetric algorithms only: a logout token signed with the client secret, or
#: not at all, is refused.
DEFAULT_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
#: How soon the keys may be fetched again for an unknown key id, in seconds.
REFETCH_INTERVAL = 60.0


class AuthenticationRefused(Exception):
    """The identity provider's answer does not prove what was asked; the message says why."""


class ProviderKeys:
    """The discovery document and signing keys of one issuer, fetched when needed.

    Args:
        issuer: The issuer URL, exactly as its tokens name it.
        metadata: The discovery document, instead of fetching it.
        jwks: The key set, instead of fetching it from `jwks_uri`.
        timeout: Seconds each fetch may take.
    """

    def __init__(
        self,
        issuer: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        jwks: Mapping[str, Any] | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.issuer = issuer
        self._metadata = dict(metadata) if metadata is not None else None
        self._keys: KeySet | None = None
        if jwks is not None:
            try:
                self._keys = KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError) as error:
                raise ConfigError(f"jwks: not a key set with at least one key ({error})") from error
        self._fixed_keys = jwks is not None
        self._fetched_at = -math.inf
        self._timeout = timeout

    @property
    def loaded(self) -> bool:
        """The discovery document is at hand: reading it again blocks on nothing."""
        return self._metadata is not None

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def _checked(self, document: Any) -> dict[str, Any]:
        if not isinstance(document, dict) or document.get("issuer") != self.issuer:
            raise StoreUnavailable(
                f"identity provider: {self.discovery_url} does not describe issuer {self.issuer}"
            )
        return document

    def metadata(self) -> dict[str, Any]:
        """The discovery document (fetched the first time)."""
        if self._metadata is None:
            self._metadata = self._checked(self._fetch(self.discovery_url))
        return self._metadata

    async def ametadata(self) -> dict[str, Any]:
        if self._metadata is None:
            self._metadata = self._checked(await self._afetch(self.discovery_url))
        return self._metadata

    def keys(self, key_id: str | None, now: float) -> KeySet:
        """The key set, fetched again when it lacks `key_id` (at most once a minute)."""
        if self._stale(key_id, now):
            self._store(self._fetch(self._jwks_uri(self.metadata())), now)
        assert self._keys is not None
        return self._keys

    async def akeys(self, key_id: str | None, now: float) -> KeySet:
        if self._stale(key_id, now):
            self._store(await self._afetch(self._jwks_uri(await self.ametadata())), now)
        assert self._keys is not None
        return self._keys

    def _stale(self, key_id: str | None, now: float) -> bool:
        if self._keys is None:
            return True
        if self._fixed_keys or now - self._fetched_at < REFETCH_INTERVAL:
            return False
        return key_id is not None and all(key.kid != key_id for key in self._keys.keys)

    def _store(self, document: Any, now: float) -> None:
        try:
            self._keys = KeySet.import_key_set(document)
        except (JoseError, ValueError, TypeError, KeyError) as error:
            raise StoreUnavailable(f"identity provider: unreadable JWKS: {error}") from error
        self._fetched_at = now

    def _jwks_uri(self, metadata: dict[str, Any]) -> str:
        uri = metadata.get("jwks_uri")
        if not isinstance(uri, str):
            raise StoreUnavailable("identity provider: the discovery document has no jwks_uri")
        return uri

    def _fetch(self, url: str) -> Any:
        try:
            response = httpx.get(url, timeout=self._timeout)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise StoreUnavailable(f"identity provider: {url}: {error}") from error

    async def _afetch(self, url: str) -> Any:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.get(url)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise StoreUnavailable(f"identity provider: {url}: {error}") from error


def signing_algorithms(metadata: Mapping[str, Any]) -> list[str]:
    """The asymmetric algorithms the IdP says it signs id tokens with (the defaults if none)."""
    published = metadata.get("id_token_signing_alg_values_supported")
    if not isinstance(published, list):
        return list(DEFAULT_ALGORITHMS)
    chosen = [name for name in published if name in ASYMMETRIC_ALGORITHMS]
    return chosen or list(DEFAULT_ALGORITHMS)


def header_key_id(token: str) -> str | None:
    """The `kid` a compact JWS names, read before its signature is checked (to pick the key)."""
    try:
        header = jws.extract_compact(token.encode("ascii")).protected
    except (JoseError, ValueError, UnicodeEncodeError) as error:
        raise LogoutRejected("the logout token is not a signed JWT") from error
    kid = header.get("kid")
    return kid if isinstance(kid, str) else None


def logout_claims(
    token: str,
    keys: KeySet,
    *,
    issuer: str,
    client_id: str,
    now: float,
    max_age: float,
    leeway: float,
    algorithms: Collection[str] = DEFAULT_ALGORITHMS,
) -> dict[str, Any]:
    """The claims of a valid logout token; anything else raises `LogoutRejected`.

    Checked: the signature (one of `algorithms`, a key of the IdP's), `typ`
    (`logout+jwt` when present), `iss`, `aud`, `iat` no older than `max_age`
    seconds and no further than `leeway` in the future, `exp` when present,
    `jti`, the back-channel logout `events` member, `sid` or `sub`, and no
    `nonce` (an id token is not a logout token).
    """
    try:
        decoded = jwt.decode(token, keys, algorithms=list(algorithms))
    except (JoseError, ValueError, TypeError) as error:
        raise LogoutRejected(f"the logout token's signature does not verify: {error}") from error
    typ = decoded.header.get("typ")
    if typ is not None and str(typ).lower() not in ("logout+jwt", "application/logout+jwt"):
        raise LogoutRejected(f"the token's typ is {typ!r}, not logout+jwt")
    claims = decoded.claims
    if claims.get("iss") != issuer:
        raise LogoutRejected("the logout token is from another issuer")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if client_id not in audiences:
        raise LogoutRejected("the logout token is for another client")
    issued = claims.get("iat")
    if not _number(issued) or not now - max_age <= issued <= now + leeway:
        raise LogoutRejected("the logout token's iat is missing, too old or in the future")
    expires = claims.get("exp")
    if expires is not None and (not _number(expires) or expires <= now - leeway):
        raise LogoutRejected("the logout token has expired")
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise LogoutRejected("the logout token has no jti")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise LogoutRejected("the logout token's events claim names no back-channel logout")
    sid, sub = claims.get("sid"), claims.get("sub")
    if not (isinstance(sid, str) and sid) and not (isinstance(sub, str) and sub):
        raise LogoutRejected("the logout token names neither sid nor sub")
    if "nonce" in claims:
        raise LogoutRejected("a logout token carries no nonce")
    return claims


def check_authentication(
    claims: Mapping[str, Any],
    *,
    not_before: float,
    acr_values: Collection[str] = (),
    subject: str | None = None,
) -> None:
    """Check that an id token proves an authentication at `not_before` or later.

    `auth_time` is the IdP's word for when the user proved who they are; `iat`
    only says when the token was minted (a silent SSO sign-in mints a fresh
    one for an old authentication), so it is never used. `auth_time` is in
    whole seconds: one in the same second as `not_before` counts.

    Raises:
        AuthenticationRefused: `auth_time` is missing or older, `acr` is not one
            of `acr_values` (when any), or the token is another user's.
    """
    auth_time = claims.get("auth_time")
    if not _number(auth_time):
        raise AuthenticationRefused("the id token has no auth_time")
    if auth_time < math.floor(not_before):
        raise AuthenticationRefused(
            "the identity provider did not authenticate the user again "
            f"(auth_time {auth_time} is before {math.floor(not_before)})"
        )
    if acr_values and claims.get("acr") not in acr_values:
        raise AuthenticationRefused(
            f"the authentication's acr is {claims.get('acr')!r}, not one of {sorted(acr_values)}"
        )
    if subject is not None and claims.get("sub") != subject:
        raise AuthenticationRefused("the id token is for another user")


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
