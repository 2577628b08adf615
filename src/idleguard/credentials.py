"""Which credential a request presents, read exactly as the frameworks read it, or refused.

werkzeug, Starlette and Django parse the same `Cookie` header differently
(duplicates, quoting, whitespace), and apps split `Authorization` in more
than one way. idleguard reads a credential only where every one of those
readings agrees; anywhere they could differ the answer is `AMBIGUOUS`
and the request is refused, so the credential checked is always the one the
app authenticates. `tests/security/test_readings.py` checks this against
the real parsers.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Union

__all__ = [
    "AMBIGUOUS",
    "Ambiguous",
    "CredentialReader",
    "Presented",
    "bearer_token",
    "cookie_value",
    "read_cookie",
]


class Ambiguous(enum.Enum):
    """A credential that parsers could read in more than one way."""

    AMBIGUOUS = "ambiguous"


#: Two cookies of the same name with different values, a quoted or escaped
#: value, two `Authorization` headers, an odd separator: the request is refused.
AMBIGUOUS = Ambiguous.AMBIGUOUS
#: What a request presents: a credential, nothing (`None`), or `AMBIGUOUS`.
Presented = Union[str, None, Ambiguous]  # noqa: UP007

# RFC 6265 cookie-octets: what every parser reads byte for byte. Quotes,
# backslashes, spaces, commas and anything non-ASCII are read differently by
# werkzeug, Starlette and Django (unquoting, octal escapes, cut at a space).
_COOKIE_OCTETS = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")
# RFC 6750 b64token.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def cookie_value(header: str, name: str) -> Presented:
    """Cookie `name` as every common parser reads it, or `AMBIGUOUS`.

    Parsers disagree on duplicates (werkzeug takes the first, Starlette and
    Django the last), on quoted values (they unquote and decode octal
    escapes), on whitespace around the name (Starlette strips any Unicode
    space, werkzeug only space and tab) and on values with spaces. Wherever
    they could disagree the answer is `AMBIGUOUS`, so the credential
    idleguard checks is always the one the app reads. `""` is a cookie
    present with an empty value.
    """
    if name not in header:
        return None
    found: str | None = None
    for part in header.split(";"):
        key, _, value = part.partition("=")
        # werkzeug reads a bare name as that cookie with an empty value.
        bare = key.strip(" \t")
        if bare != name:
            if key.strip() == name:
                return AMBIGUOUS  # a name only some parsers strip down to `name`
            continue
        value = value.strip(" \t")
        if not _COOKIE_OCTETS.fullmatch(value):
            return AMBIGUOUS
        if found is not None and found != value:
            return AMBIGUOUS
        found = value
    if '"' in header and _quoted_reading(header, name) != ({found} if found is not None else set()):
        # A quoted value elsewhere can swallow a ";": werkzeug then reads the pairs
        # differently from a plain split (`a=";sid=x;"` holds no sid for werkzeug).
        return AMBIGUOUS
    return found


# The RFC 6265 grammar as werkzeug tokenizes it: a quoted value may hold ";" and
# escapes; a pair that does not parse is skipped up to the next ";".
_QUOTED_PAIR = re.compile(
    r'[ \t]*([^ \t=";]+)(?:[ \t]*=[ \t]*("(?:[^\\"]|\\.)*"|[^ \t";]*))?[ \t]*(?:;|\Z)'
)


def _quoted_reading(header: str, name: str) -> set[str]:
    """The raw values a quote-aware tokenizer finds for `name` (quoted ones as written)."""
    values: set[str] = set()
    position = 0
    while position <= len(header):
        match = _QUOTED_PAIR.match(header, position)
        if match is None or match.end() == position:
            next_pair = header.find(";", position)
            if next_pair < 0:
                break
            position = next_pair + 1
            continue
        key, value = match.groups()
        position = match.end()
        if key == name:
            values.add(value or "")
    return values


def bearer_token(authorization: str | None) -> Presented:
    """The token of `Authorization: Bearer <token>`, `None`, or `AMBIGUOUS`.

    Any mention of the Bearer scheme must be exactly one `Bearer`, one
    space and one RFC 6750 token: a tab, two spaces, or two headers (joined
    with a comma by the server) are read differently by different apps.
    """
    if authorization is None or "bearer" not in authorization.lower():
        return None
    scheme, space, token = authorization.partition(" ")
    if not space or scheme.lower() != "bearer" or not _B64TOKEN.fullmatch(token):
        return AMBIGUOUS
    return token


def read_cookie(header: str, name: str) -> str | None:
    """The value of cookie `name`; `None` when absent, `""` when ambiguous or empty."""
    value = cookie_value(header, name)
    return "" if value is AMBIGUOUS else value


#: Headers longer than this are parsed each time instead of remembered.
_CACHE_HEADER_LIMIT = 4096
_CACHE_SIZE = 4096


class CredentialReader:
    """Reads one middleware's credential from a request's headers, remembering recent headers.

    `source` is `"cookie"` or `"bearer"`; `cookie_name` the cookie's
    full name. A browser sends the same `Cookie` header on every request
    until a cookie changes, so its reading is kept (bounded, cleared whole).
    """

    def __init__(self, source: str, cookie_name: str) -> None:
        self.source = source
        self.cookie_name = cookie_name
        self._cookie_values: dict[str, Presented] = {}

    def read(self, headers: Mapping[str, str]) -> Presented:
        """The credential in `headers` (lower-case names)."""
        if self.source == "bearer":
            return bearer_token(headers.get("authorization"))
        cookie_header = headers.get("cookie")
        if cookie_header is None:
            return None
        cache = self._cookie_values
        try:
            return cache[cookie_header]
        except KeyError:
            value = cookie_value(cookie_header, self.cookie_name)
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            if len(cookie_header) <= _CACHE_HEADER_LIMIT:
                cache[cookie_header] = value
            return value
