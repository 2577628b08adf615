"""What a URL setting may hold, checked once at start-up by one set of rules.

A configured URL ends up where a browser acts on it: in a `Location`
header (`login_url`, `step_up_url`), in the JSON the browser client
follows, or compared with a request's `Origin` (`trusted_origins`). A
browser reads `/\\host` like `//host` (another site: an open redirect),
a CR or LF in a header value starts a new header, and `https://good@evil`
goes to `evil`. Two checks that each caught some of these drifted apart,
so every URL setting goes through this module instead.

It imports nothing from the rest of the package, so any module can use it.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

from .errors import ConfigError

__all__ = ["check_local_path", "check_origin", "check_redirect_url"]

_SCHEMES = ("http", "https")
_LOCAL_PATH = "a local path like {example!r} (a single leading '/', no backslash)"
_REDIRECT = (
    _LOCAL_PATH.format(example="/login")
    + " or an http(s) URL with a host and no user info, like 'https://sso.example/login'"
)
_ORIGIN = "origins like 'https://app.example' or 'http://localhost:8000' (no path)"
# Host names as DNS writes them; anything else (a '%', a non-ASCII letter) is
# what browsers rewrite before connecting, so the host in the setting would not
# be the host visited. Underscores appear in internal names and are harmless.
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_HOST_NAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}\.?")


def check_redirect_url(name: str, url: str) -> str:
    """`url` unchanged if a browser may safely be sent there; else a `ValueError`.

    Accepted: a local path (`/login`, `/sso/start?app=1`) or an absolute
    `http://` or `https://` URL with a host. Refused anywhere in the
    value: control characters (C0, DEL, C1), spaces and other whitespace,
    non-ASCII characters (percent-encode them) and backslashes. A local path
    must not start with `//`; an absolute URL must not carry user info
    (`https://good@evil`). Percent-escapes are left alone: browsers do not
    decode them when they resolve a redirect, so `/%5Cevil` and
    `/%2F/evil` stay on this site.

    Args:
        name: The setting's name, for the error message (`"login_url"`).
        url: The configured value.

    Returns:
        `url` itself.

    Raises:
        TypeError: `url` is not a string.
        ValueError: `url` is not safe to redirect to; the message names the
            setting, the value and what is accepted.
    """
    _check_type(name, url, "a string")
    problem = _character_problem(url)
    if problem is None:
        if url.startswith("/"):
            problem = _local_path_problem(url)
        else:
            problem = _absolute_problem(url, origin=False)
    if problem is not None:
        raise ConfigError(f"{name} {url!r} is refused: {problem}. {name} takes {_REDIRECT}.")
    return url


def check_local_path(name: str, path: str, *, example: str = "/login") -> str:
    """`path` unchanged if it is a path on this site; else a `ValueError`.

    The local-path half of `check_redirect_url`, for settings that may
    never name another site (`endpoint_prefix`).

    Args:
        name: The setting's name, for the error message.
        path: The configured value.
        example: A good value, shown in the error message.

    Returns:
        `path` itself.

    Raises:
        TypeError: `path` is not a string.
        ValueError: `path` is not a local path; the message names the
            setting, the value and what is accepted.
    """
    _check_type(name, path, "a string")
    problem = _character_problem(path) or _local_path_problem(path)
    if problem is not None:
        accepted = _LOCAL_PATH.format(example=example)
        raise ConfigError(f"{name} {path!r} is refused: {problem}. {name} takes {accepted}.")
    return path


def check_origin(name: str, origin: str) -> str:
    """`origin` as browsers write it in an `Origin` header; else a `ValueError`.

    Accepted: `http` or `https`, a host and an optional port, with at
    most a trailing `/`; the same characters as `check_redirect_url`.
    The answer is lower-case without the trailing `/` and without the
    scheme's default port (`:443`, `:80`), the form a request's `Origin` is
    compared in.

    Args:
        name: The setting's name, for the error message (`"trusted_origins"`).
        origin: The configured value.

    Returns:
        The origin, normalized for comparison.

    Raises:
        TypeError: `origin` is not a string.
        ValueError: `origin` is not an origin; the message names the
            setting, the value and what is accepted.
    """
    _check_type(name, origin, "a list of origin strings")
    problem = _character_problem(origin) or _absolute_problem(origin, origin=True)
    if problem is not None:
        raise ConfigError(f"{name} {origin!r} is refused: {problem}. {name} takes {_ORIGIN}.")
    normalized = origin.rstrip("/").lower()
    # Browsers leave the scheme's own port out of `Origin`: written in, it would never match.
    default_port = {"http": ":80", "https": ":443"}[normalized.split(":", 1)[0]]
    return normalized.removesuffix(default_port)


def _check_type(name: str, value: object, expected: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be {expected}, not {type(value).__name__}")


def _character_problem(value: str) -> str | None:
    if not value:
        return "it is empty"
    for char in value:
        code = ord(char)
        if code < 0x20 or 0x7F <= code <= 0x9F:
            return f"it contains the control character {char!r}"
        if char.isspace():
            return f"it contains whitespace ({char!r})"
        if code > 0x7F:
            # Header values travel as Latin-1 at best; a browser would see other bytes.
            return f"it contains the non-ASCII character {char!r} (percent-encode it)"
        if char == "\\":
            return "it contains a backslash, which browsers read as '/'"
    return None


def _local_path_problem(path: str) -> str | None:
    if not path.startswith("/"):
        return "it does not start with '/'"
    if path.startswith("//"):
        return "'//' at the start names another host"
    return None


def _absolute_problem(url: str, *, origin: bool) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError as error:  # "https://[::1" and other unbalanced brackets
        return f"it is not a URL ({error})"
    if parts.scheme not in _SCHEMES:
        if origin:
            return "its scheme is not http or https"
        return "it is neither a local path nor an http(s) URL"
    if url[len(parts.scheme) : len(parts.scheme) + 3] != "://":
        return "an http(s) URL needs '//' and a host after the scheme"
    problem = _host_problem(parts)
    if problem is None and origin:
        if parts.path not in ("", "/"):
            return "it has a path; an origin is only a scheme, a host and a port"
        if "?" in url or "#" in url:
            return "it has a query or a fragment; an origin is only a scheme, a host and a port"
    return problem


def _host_problem(parts: SplitResult) -> str | None:
    if "@" in parts.netloc:
        return "it has user info before '@' (the browser would go to the host after it)"
    try:
        _ = parts.port  # reading it is what validates it
    except ValueError:
        return "its port is not a number from 0 to 65535"
    host = parts.hostname
    if not host:
        return "it has no host"
    if parts.netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"{host!r} in brackets is not an IPv6 address"
        return None
    if not _HOST_NAME.fullmatch(host):
        return f"{host!r} is not a host name"
    return None
