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
from typing import TypeAlias
from urllib.parse import unquote

from .credentials import AMBIGUOUS, Ambiguous, Presented, bearer_token, cookie_value, read_cookie
from .errors import ConfigError

__all__ = [
    "AMBIGUOUS",
    "HEADER_NAMES",
    "Ambiguous",
    "Presented",
    "ProxyTrust",
    "RequestFacts",
    "api_keys",
    "bearer_token",
    "client_address",
    "cookie_value",
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
        "sec-fetch-mode",
        "x-idleguard",
        "x-forwarded-for",
        "host",
        # The browser client's strings come in the reader's language (endpoints.py).
        "accept-language",
        # The back-channel logout receiver takes a form body.
        "content-type",
    }
)


@dataclasses.dataclass(slots=True)
class RequestFacts:
    """What the flow needs to know about one request.

    `path` is normalized (see `normalize_path`); `headers` holds only
    `HEADER_NAMES`, lower-case, repeated headers joined as HTTP allows;
    `query` is the raw query string; `client` the peer address the server
    saw (`None` when unknown). `routed` is the path as the app itself
    routes it (decoded by the server, `..` left in place) when that differs
    from `path`: the flow refuses a request whose two readings would be
    treated differently.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    websocket: bool = False
    query: str = ""
    client: str | None = None
    routed: str | None = None
    #: Where the app is mounted (ASGI `root_path`, WSGI `SCRIPT_NAME`); `path` is below it.
    root: str = ""
    #: The request body, read by the adapter only for an endpoint that takes one
    #: (`Guard.wants_body`); `None` otherwise, or when it was larger than allowed.
    body: bytes | None = None

    @property
    def wants_html(self) -> bool:
        """A browser navigation (it gets a redirect, not JSON, when its session ends)."""
        accept = self.headers.get("accept", "")
        if "text/html" not in accept:
            return False
        # A form submitted by the browser is a navigation too: it gets the sign-in
        # page, not JSON shown to a person.
        return self.method in ("GET", "HEAD") or self.headers.get("sec-fetch-mode") == "navigate"

    @property
    def preflight(self) -> bool:
        return self.method == "OPTIONS" and "access-control-request-method" in self.headers


def normalize_path(raw: str) -> str:
    """The path as a server would route it, so prefix rules cannot be dodged.

    Percent-escapes are decoded (twice at most: `%252e` is still a dot),
    backslashes count as slashes, `.` and `..` are resolved and repeated
    slashes folded. `//billing`, `/public/%2e%2e/billing` and
    `/health%3F/../billing` all come out as `/billing`.
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


def app_path(path: str, root_path: str = "") -> str:
    """The path relative to where the app is mounted (ASGI `root_path`).

    Servers and routers put the mount prefix in `root_path` and, per the
    ASGI specification, keep it at the front of `path` too; rules, passive
    and exempt paths and the endpoints are written relative to the app.
    """
    if root_path and path.startswith(root_path):
        rest = path[len(root_path) :]
        if not rest or rest[0] == "/":
            return rest or "/"
    return path


def readings(path: str) -> tuple[str, str | None]:
    """`(normalized, routed)`: the path as `normalize_path` reads it, and
    the raw path when the app would route a different string (else `None`)."""
    normalized = normalize_path(path)
    return normalized, (path if normalized != path and path else None)


def path_matches(path: str, prefixes: tuple[str, ...]) -> bool:
    """True when `path` is one of `prefixes` or below one (on a segment boundary)."""
    for prefix in prefixes:
        if path == prefix or path.startswith(prefix if prefix.endswith("/") else prefix + "/"):
            return True
    return False


IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclasses.dataclass(frozen=True, slots=True)
class ProxyTrust:
    """Which peers may say, in `X-Forwarded-For`, whom they forward for.

    Built once at start-up from `trusted_proxies` and `trusted_proxy_depth`
    (see `parse`) and read by `client_address`.

    Attributes:
        proxies: The networks the reverse proxies connect from; one address
            is a `/32` or `/128` network. Empty: no peer is believed.
        depth: `0` reads `X-Forwarded-For` from the right past every
            trusted proxy; `N` takes the `N`-th entry from the right.
    """

    proxies: tuple[IPNetwork, ...] = ()
    depth: int = 0

    def __post_init__(self) -> None:
        if self.depth > 0 and not self.proxies:
            # Believing the header without knowing who sent it let any client
            # that reached the app directly write its own address into events.
            raise ConfigError(
                f"trusted_proxy_depth={self.depth} needs trusted_proxies=: list your proxies' "
                "addresses or networks (e.g. trusted_proxies=['10.0.0.0/8', '127.0.0.1']), so "
                "X-Forwarded-For is believed only from them",
                about=("trusted_proxy_depth",),
            )

    @classmethod
    def parse(cls, trusted_proxies: Iterable[str], depth: int = 0) -> ProxyTrust:
        """The trust the two settings describe; a bad entry fails here, at start-up.

        Args:
            trusted_proxies: IP addresses (`"127.0.0.1"`, `"::1"`) or
                networks (`"10.0.0.0/8"`) of the reverse proxies.
            depth: `trusted_proxy_depth`, the number of proxies in front
                of the app, or `0` to skip every trusted proxy.

        Raises:
            TypeError: `trusted_proxies` is one string, or holds a non-string.
            ConfigError: an entry is not an address or a network, or a depth
                is given without proxies (a `ValueError`).
        """
        if isinstance(trusted_proxies, str):
            raise TypeError(
                "trusted_proxies must be a list of addresses or networks, not one string"
            )
        networks: list[IPNetwork] = []
        for entry in trusted_proxies:
            if not isinstance(entry, str):
                raise TypeError(
                    f"trusted_proxies: {entry!r} must be a string like '10.0.0.0/8' or '::1'"
                )
            try:
                networks.append(ipaddress.ip_network(entry.strip()))
            except ValueError as error:
                raise ConfigError(
                    f"trusted_proxies: {entry!r} is not an IP address or network ({error}); "
                    "write addresses like '127.0.0.1' or '::1' and networks like '10.0.0.0/8'",
                    about=("trusted_proxies",),
                ) from None
        return cls(tuple(networks), depth)

    def trusts(self, address: str | IPAddress | None) -> bool:
        """True when `address` (a peer or a forwarded entry) is one of the proxies."""
        if not self.proxies or address is None:
            return False
        if isinstance(address, str):
            parsed = _forwarded_address(address)
            if parsed is None:
                return False
            address = parsed
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            # A dual-stack server reports an IPv4 proxy as ::ffff:10.0.0.1.
            address = address.ipv4_mapped
        return any(address in network for network in self.proxies)


def client_address(facts: RequestFacts, trust: ProxyTrust) -> str | None:
    """The client's IP address: the peer, or whom a trusted proxy forwarded for.

    `X-Forwarded-For` is read only when the peer the server saw is one of
    `trust.proxies`: anyone else can send that header and claim any address,
    so for them the peer is the client. Each proxy appends the address it saw,
    so the list is read from the right: with `trust.depth` `0`, past every
    entry that is itself a trusted proxy to the first that is not; with `N`,
    the `N`-th entry. Entries further left were written by the client and
    are never believed.

    A trusted peer that forwards nothing (a health check from the proxy) is
    the client, and so is the leftmost entry when every entry is a trusted
    proxy. An entry read on the way that is not an IP address, or fewer than
    `N` entries (a request that bypassed a proxy), gives `None` rather
    than a guess.

    Args:
        facts: The request; `facts.client` is the peer.
        trust: The settings' `proxy_trust`.

    Returns:
        The address in its normal form (the peer's as the server gave it), or `None`.
    """
    if not trust.trusts(facts.client):
        return facts.client
    forwarded = [part.strip() for part in facts.headers.get("x-forwarded-for", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if trust.depth > 0:
        if len(forwarded) < trust.depth:
            return None
        chosen = _forwarded_address(forwarded[-trust.depth])
        return None if chosen is None else str(chosen)
    if not forwarded:
        return facts.client
    for entry in reversed(forwarded):
        chosen = _forwarded_address(entry)
        if chosen is None:
            return None
        if not trust.trusts(chosen):
            return str(chosen)
    # Every entry is a trusted proxy: the client was one of those hosts itself.
    return str(chosen)


def _forwarded_address(entry: str) -> IPAddress | None:
    if entry.startswith("[") and "]" in entry:
        entry = entry[1 : entry.index("]")]  # "[2001:db8::1]:443"
    elif entry.count(":") == 1:
        entry = entry.split(":", 1)[0]  # "203.0.113.7:51234"
    try:
        return ipaddress.ip_address(entry)
    except ValueError:
        return None


def default_api_key_exempt(headers: Mapping[str, str]) -> bool:
    """Requests carrying an API key: an `X-API-Key` header or `Authorization: ApiKey ...`."""
    if "x-api-key" in headers:
        return True
    authorization = headers.get("authorization")
    return authorization is not None and authorization[:7].lower() == "apikey "


#: The exemption predicate's type: it sees the headers idleguard reads.
ApiKeyPredicate = Callable[[Mapping[str, str]], bool]


def api_keys(keys: Iterable[str]) -> ApiKeyPredicate:
    """An `api_key_exempt` predicate that exempts only requests with one of `keys`.

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
