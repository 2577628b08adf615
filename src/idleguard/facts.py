"""The facts of a request that the flow decides on, read the same way for ASGI and WSGI.

Adapters hand over the few header values idleguard reads; everything that
interprets them (which cookie, is it passive, is it exempt, is it a browser)
lives here, once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import posixpath
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import unquote

__all__ = [
    "HEADER_NAMES",
    "RequestFacts",
    "api_keys",
    "client_address",
    "default_api_key_exempt",
    "normalize_path",
    "path_matches",
    "read_cookie",
]

#: The only request headers idleguard reads (lower-case names).
HEADER_NAMES = frozenset(
    {
        "cookie",
        "authorization",
        "accept",
        "x-api-key",
        "x-idleguard-passive",
        "access-control-request-method",
        "user-agent",
        "origin",
        "sec-fetch-site",
        "x-idleguard",
        "x-forwarded-for",
        "host",
    }
)


@dataclasses.dataclass(slots=True)
class RequestFacts:
    """What the flow needs to know about one request.

    ``path`` is normalized (see :func:`normalize_path`); ``headers`` holds only
    :data:`HEADER_NAMES`, lower-case, repeated headers joined as HTTP allows;
    ``query`` is the raw query string; ``client`` the peer address the server
    saw (``None`` when unknown).
    """

    method: str
    path: str
    headers: Mapping[str, str]
    websocket: bool = False
    query: str = ""
    client: str | None = None

    @property
    def wants_html(self) -> bool:
        """A browser navigation (it gets a redirect, not JSON, when its session ends)."""
        accept = self.headers.get("accept", "")
        return "text/html" in accept and self.method in ("GET", "HEAD")

    @property
    def preflight(self) -> bool:
        return self.method == "OPTIONS" and "access-control-request-method" in self.headers


def normalize_path(raw: str) -> str:
    """The path as a server would route it, so prefix rules cannot be dodged.

    Percent-escapes are decoded (twice at most: ``%252e`` is still a dot),
    backslashes count as slashes, ``.`` and ``..`` are resolved and repeated
    slashes folded. ``//billing``, ``/public/%2e%2e/billing`` and
    ``/health%3F/../billing`` all come out as ``/billing``.
    """
    if "%" not in raw and "\\" not in raw and "/." not in raw and "//" not in raw and raw:
        return raw if raw[0] == "/" else "/" + raw
    path = raw
    for _ in range(2):
        if "%" not in path:
            break
        path = unquote(path, errors="replace")
    path = path.replace("\\", "/")
    path = "/" + path.lstrip("/")
    normalized = posixpath.normpath(path)
    if normalized.startswith("//"):
        normalized = "/" + normalized.lstrip("/")
    if path.endswith("/") and normalized != "/":
        normalized += "/"
    return normalized


def path_matches(path: str, prefixes: tuple[str, ...]) -> bool:
    """True when ``path`` is one of ``prefixes`` or below one (on a segment boundary)."""
    for prefix in prefixes:
        if path == prefix or path.startswith(prefix if prefix.endswith("/") else prefix + "/"):
            return True
    return False


def read_cookie(header: str, name: str) -> str | None:
    """The value of cookie ``name``, or ``None``.

    Presented twice with different values, the cookie is ambiguous: an
    attacker may have planted one beside the real one, so neither is trusted.
    """
    found: str | None = None
    start = 0
    prefix = name + "="
    while True:
        index = header.find(prefix, start)
        if index < 0:
            return found
        start = index + len(prefix)
        if index > 0 and header[index - 1] not in " ;":
            continue
        end = header.find(";", start)
        value = header[start:] if end < 0 else header[start:end]
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if found is not None and found != value:
            return ""
        found = value


def client_address(facts: RequestFacts, trusted_proxy_depth: int = 0) -> str | None:
    """The client's IP address, trusting exactly ``trusted_proxy_depth`` proxies.

    With ``0`` it is the peer the server saw and ``X-Forwarded-For`` is
    ignored: anyone can send that header. With ``N`` proxies in front of the
    app, each appending the address it saw, the client is the ``N``-th entry
    from the right; entries further left were written by the client and are
    never believed. Too few entries (a request that bypassed a proxy) or an
    entry that is not an IP address gives ``None`` rather than a guess.
    """
    if trusted_proxy_depth <= 0:
        return facts.client
    forwarded = [part.strip() for part in facts.headers.get("x-forwarded-for", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < trusted_proxy_depth:
        return None
    candidate = forwarded[-trusted_proxy_depth]
    if candidate.startswith("[") and "]" in candidate:
        candidate = candidate[1 : candidate.index("]")]  # "[2001:db8::1]:443"
    elif candidate.count(":") == 1:
        candidate = candidate.split(":", 1)[0]  # "203.0.113.7:51234"
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def default_api_key_exempt(headers: Mapping[str, str]) -> bool:
    """Requests carrying an API key: an ``X-API-Key`` header or ``Authorization: ApiKey ...``."""
    if "x-api-key" in headers:
        return True
    authorization = headers.get("authorization")
    return authorization is not None and authorization[:7].lower() == "apikey "


#: The exemption predicate's type: it sees the headers idleguard reads.
ApiKeyPredicate = Callable[[Mapping[str, str]], bool]


def api_keys(keys: Iterable[str]) -> ApiKeyPredicate:
    """An ``api_key_exempt`` predicate that exempts only requests with one of ``keys``.

    The default predicate exempts any request that *carries* an API key and
    leaves checking it to the app. This one checks it: the presented key's
    SHA-256 digest is compared with each known digest in constant time, so
    the comparison's timing tells nothing about how close a guess came.
    """
    known_keys = list(keys)
    digests = [hashlib.sha256(key.encode()).digest() for key in known_keys]
    if not digests or any(not key for key in known_keys):
        raise ValueError("api_keys needs at least one non-empty key")

    def exempt(headers: Mapping[str, str]) -> bool:
        presented = headers.get("x-api-key")
        if presented is None:
            authorization = headers.get("authorization", "")
            if authorization[:7].lower() != "apikey ":
                return False
            presented = authorization[7:].strip()
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        matched = False
        for known in digests:
            # No early exit: every key is compared, whichever matches.
            matched |= hmac.compare_digest(digest, known)
        return matched

    return exempt
