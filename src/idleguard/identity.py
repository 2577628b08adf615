"""Which session a request belongs to.

Three ways to tie a request to a session, all ending in the same thing: a
*store key*, the SHA-256 digest of a secret the browser holds. The store never
sees the secret itself, so a leaked store dump cannot be replayed as cookies.

* [`SignedCookie`][idleguard.SignedCookie] (the default): idleguard issues its own
  256-bit random id in a signed cookie. An id the server never signed is refused
  before any store lookup, so a guessed or planted id can never be adopted.
* [`AppCookie`][idleguard.AppCookie]: guard the app's own session cookie as it is.
* [`BearerToken`][idleguard.BearerToken]: guard an `Authorization: Bearer` token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, Union

from itsdangerous import BadSignature, Signer

from .errors import ConfigError

__all__ = [
    "Adopt",
    "AppCookie",
    "BearerToken",
    "Identity",
    "SignedCookie",
    "check_adopt",
    "digest",
    "new_session_id",
]

#: 32 random bytes, URL-safe base64 without padding: 43 characters.
SESSION_ID_BYTES = 32
_ID_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
#: Longer credentials are junk: refused before hashing or any store query.
MAX_CREDENTIAL_LENGTH = 4096
_SIGNED_CACHE_SIZE = 4096


def new_session_id() -> str:
    """A fresh session id with 256 bits of entropy."""
    return secrets.token_urlsafe(SESSION_ID_BYTES)


def digest(secret: str) -> str:
    """The store key for a secret: SHA-256, URL-safe base64, 43 characters."""
    raw = hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class Identity(Protocol):
    """Turns what a request presents into a store key, and back into a cookie.

    Attributes:
        source: `"cookie"` or `"bearer"`: where the request presents it.
        name: The cookie's name.
        issues: True when idleguard creates the credential itself (and so sets
            and clears the cookie); false when it guards a credential the app
            owns.
    """

    source: str
    name: str
    issues: bool

    def key_for(self, credential: str) -> str | None:
        """The store key for a presented credential, or `None` if it is not acceptable."""
        ...

    def issue(self) -> tuple[str, str]:
        """A new (credential to send, store key) pair."""
        ...


class SignedCookie:
    """idleguard's own cookie: a random id signed with `secret_key`.

    Args:
        secret_key: Signs the cookie, at least 32 random characters. A list
            rotates keys: every key verifies, the first one signs.
        name: The cookie's name (the middleware adds the `__Host-` prefix when
            cookies are secure).

    Raises:
        ConfigError: `secret_key` is empty, or a list holding an empty key.
    """

    source = "cookie"
    issues = True

    def __init__(
        self, secret_key: str | bytes | Sequence[str | bytes], name: str = "idleguard"
    ) -> None:
        keys = [secret_key] if isinstance(secret_key, (str, bytes)) else list(secret_key)
        if not keys or any(not key for key in keys):
            raise ConfigError("secret_key must be a non-empty string, or a list of them")
        as_bytes = [key.encode() if isinstance(key, str) else key for key in keys]
        self.name = name
        # itsdangerous signs with the last key and verifies with all.
        self._signer = Signer(
            list(reversed(as_bytes)),
            salt="idleguard.session",
            digest_method=hashlib.sha256,
        )
        # Verifying an HMAC costs more than the rest of a request's check; a
        # signature, once verified, stays valid (it carries no time), so
        # remember recent ones. Bounded, and cleared wholesale when full.
        self._verified: dict[str, str] = {}

    def key_for(self, credential: str) -> str | None:
        cached = self._verified.get(credential)
        if cached is not None:
            return cached
        if len(credential) > 200 or not _ID_ALPHABET.issuperset(credential):
            return None
        try:
            session_id = self._signer.unsign(credential).decode("ascii")
        except (BadSignature, UnicodeDecodeError):
            return None
        key = digest(session_id)
        if len(self._verified) >= _SIGNED_CACHE_SIZE:
            self._verified.clear()
        self._verified[credential] = key
        return key

    def issue(self) -> tuple[str, str]:
        session_id = new_session_id()
        return self._signer.sign(session_id).decode("ascii"), digest(session_id)


#: `credential -> subject` (or an awaitable of it): the app vouches for a
#: credential idleguard has no record of. A string starts a session for that
#: subject; `None` refuses the credential.
Adopt = Callable[[str], Union[str, Awaitable[Union[str, None]], None]]  # noqa: UP007


def check_adopt(adopt: object) -> Adopt | None:
    """`adopt` checked: a callable, or `None`.

    Raises:
        TypeError: `adopt` is `True` (the message says what to do instead) or
            not callable.
    """
    if adopt is True:
        raise TypeError(
            "adopt=True would guard any credential presented, including ones the app never "
            "issued; pass adopt=<callable(credential) -> subject or None> that checks the "
            "credential with the app and returns whose it is"
        )
    if adopt is None or adopt is False:
        return None
    if not callable(adopt):
        raise TypeError("adopt must be a callable(credential) -> subject or None")
    return adopt  # checked callable above


class _AppCredential:
    """A credential the app owns, guarded by its digest.

    The app registers each credential with
    `idleguard.begin(request, subject=..., credential=...)` when it issues
    it. A credential idleguard has no live record for (never registered,
    ended long ago, forgotten) is refused like an expired one: idleguard
    cannot tell a stolen old credential from a new one, so the app must say.
    `adopt`, a callable `credential -> subject | None` (sync or async),
    is how it says: it is asked about each unknown credential and a subject
    starts a session for it; `None` refuses it.
    """

    issues = False
    adopt: Adopt | None = None

    def key_for(self, credential: str) -> str | None:
        if not credential or len(credential) > MAX_CREDENTIAL_LENGTH:
            return None
        if not credential.isprintable() or not credential.isascii():
            return None
        return digest(credential)

    def issue(self) -> tuple[str, str]:
        raise RuntimeError(
            "this app issues its own credentials; idleguard only guards them. "
            "Call idleguard.begin() after the app has set its cookie or token."
        )


class AppCookie(_AppCredential):
    """Guard the app's own session cookie called `name`, stored only as its digest.

    The app registers each credential with
    `idleguard.begin(request, subject=..., credential=...)` when it issues it.

    Args:
        name: The name of the app's session cookie.
        adopt: How the app vouches for a credential idleguard has no live
            record of (never registered, ended long ago, forgotten): a callable
            `credential -> subject | None`, sync or async. A subject starts a
            session for the credential; `None` refuses it. Without it, such a
            credential is refused like an expired one: idleguard cannot tell a
            stolen old credential from a new one, so the app must say.

    Raises:
        TypeError: `adopt` is `True` or not callable.
    """

    source = "cookie"

    def __init__(self, name: str = "session", *, adopt: Adopt | None = None) -> None:
        self.name = name
        self.adopt = check_adopt(adopt)


class BearerToken(_AppCredential):
    """Guard `Authorization: Bearer` tokens, stored only as their digest.

    The app registers each credential with
    `idleguard.begin(request, subject=..., credential=...)` when it issues it.

    Args:
        adopt: How the app vouches for a credential idleguard has no live
            record of (never registered, ended long ago, forgotten): a callable
            `credential -> subject | None`, sync or async. A subject starts a
            session for the credential; `None` refuses it. Without it, such a
            credential is refused like an expired one: idleguard cannot tell a
            stolen old credential from a new one, so the app must say.

    Raises:
        TypeError: `adopt` is `True` or not callable.
    """

    source = "bearer"
    name = "authorization"

    def __init__(self, *, adopt: Adopt | None = None) -> None:
        self.adopt = check_adopt(adopt)
