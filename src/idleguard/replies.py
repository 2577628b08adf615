"""The answers idleguard sends itself instead of calling the app.

Plain values and the functions that build them; no I/O. Every redirect target
is a local path checked here once (`safe_next`), and every answer that
concerns a session carries `Cache-Control: no-store`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Protocol
from urllib.parse import quote

from .facts import RequestFacts

__all__ = [
    "NO_STORE",
    "Reply",
    "ReplySettings",
    "expired_reply",
    "internal_error_reply",
    "json_reply",
    "login_location",
    "next_path",
    "provider_logout_reply",
    "safe_next",
    "step_up_location",
    "store_unavailable_reply",
    "with_headers",
]

NO_STORE = ("cache-control", "no-store")


@dataclasses.dataclass(frozen=True, slots=True)
class Reply:
    """A response idleguard sends itself: status, headers (lower-case names), body.

    What an `expired_response` hook returns.

    Attributes:
        status: The HTTP status.
        headers: `(name, value)` pairs, names in lower case.
        body: The body's bytes.
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


class ReplySettings(Protocol):
    """What an answer to an ended session needs to know of the middleware's settings."""

    @property
    def login_url(self) -> str | None:
        """Where a browser is sent to sign in again (`None`: answer `401` JSON)."""
        ...

    def clear_cookie_headers(self) -> list[tuple[str, str]]:
        """The `Set-Cookie` headers that make the browser forget the session."""
        ...


def json_reply(status: int, payload: dict[str, Any], headers: list[tuple[str, str]]) -> Reply:
    """`status` with `payload` as compact JSON, not cacheable, plus `headers`."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Reply(status, [("content-type", "application/json"), NO_STORE, *headers], body)


def with_headers(reply: Reply, headers: list[tuple[str, str]]) -> Reply:
    """`reply` with `headers` added (its own `Cache-Control` kept, not repeated)."""
    extra = [header for header in headers if header != NO_STORE]
    return dataclasses.replace(reply, headers=[*reply.headers, *extra])


def safe_next(path: str) -> bool:
    """A plain local path, safe to send a browser back to: `//host` or a backslash would leave."""
    return path.startswith("/") and not path.startswith("//") and "\\" not in path


def _local(url: str, facts: RequestFacts) -> str:
    # A local URL names a page of this app: under a mount it lives below the prefix.
    return facts.root + url if url.startswith("/") and facts.root else url


def _with_query(url: str, parameter: str) -> str:
    # A fragment ends the URL: a parameter written after it would never reach the server.
    address, hash_mark, fragment = url.partition("#")
    return f"{address}{'&' if '?' in address else '?'}{parameter}{hash_mark}{fragment}"


def next_path(facts: RequestFacts) -> str | None:
    """Where a browser was going, to come back to after signing in: a plain local GET only."""
    if facts.method == "GET" and safe_next(facts.path):
        return facts.root + facts.path
    return None


def _with_next(url: str, facts: RequestFacts, target: str | None = None) -> str:
    # `None`: where this request was going; an empty string: nowhere in particular.
    target = next_path(facts) if target is None else target
    if target:
        url = _with_query(url, "next=" + quote(target, safe="/"))
    return url


def login_location(
    login_url: str, facts: RequestFacts, reason: str, target: str | None = None
) -> str:
    """The sign-in page with `?reason=` and `next=` (`target`, else where `facts` was going)."""
    location = _with_query(_local(login_url, facts), f"reason={reason}")
    return _with_next(location, facts, target)


def provider_logout_reply(
    settings: ReplySettings, facts: RequestFacts, reason: str, logout_url: str
) -> Reply:
    """The answer to an ended session whose identity provider session must end too.

    A browser navigation is sent (`303`) to the provider's logout URL, which
    sends it back to the sign-in page; anything else gets the `401` JSON of
    `expired_reply` with `logout_url`, the
    address to open so the provider's session ends as well.
    """
    headers = settings.clear_cookie_headers()
    if facts.wants_html and settings.login_url is not None:
        return Reply(303, [("location", logout_url), NO_STORE, *headers])
    payload = {"error": "session_expired", "reason": reason, "logout_url": logout_url}
    return json_reply(401, payload, headers)


def expired_reply(settings: ReplySettings, facts: RequestFacts, reason: str) -> Reply:
    """The default answer to a request whose session has ended.

    A browser navigation is sent (`303`) to the sign-in page with the reason,
    and where it was going when that is a plain local path; anything else gets
    `401` with JSON it can act on: `{"error": "session_expired", "reason": ...}`.
    Under a mount (ASGI `root_path`, WSGI `SCRIPT_NAME`) a local `login_url`
    and `next` carry the prefix.
    """
    headers = settings.clear_cookie_headers()
    login_url = settings.login_url
    if facts.wants_html and login_url is not None:
        return Reply(
            303, [("location", login_location(login_url, facts, reason)), NO_STORE, *headers]
        )
    return json_reply(401, {"error": "session_expired", "reason": reason}, headers)


def step_up_location(step_up_url: str | None, facts: RequestFacts) -> str | None:
    """Where a browser navigation goes to authenticate again, or `None` (answer 401 JSON)."""
    if not facts.wants_html or step_up_url is None:
        return None
    return _with_next(_local(step_up_url, facts), facts)


_UNAVAILABLE_PAGE = (
    b"<!doctype html><html lang=en><meta charset=utf-8><title>Service unavailable</title>"
    b"<h1>Sign-in is unavailable</h1><p>The session service is not answering. "
    b"Nothing was changed; please try again in a moment.</p></html>"
)


def store_unavailable_reply(facts: RequestFacts) -> Reply:
    """`503`: JSON for an API client, a page that says so for a browser."""
    headers = [("retry-after", "5")]
    if "text/html" in facts.headers.get("accept", ""):
        return Reply(
            503,
            [("content-type", "text/html; charset=utf-8"), NO_STORE, *headers],
            _UNAVAILABLE_PAGE,
        )
    return json_reply(503, {"error": "store_unavailable"}, headers)


def internal_error_reply() -> Reply:
    """`500`: a bug refused the request (the traceback is in the log, never in the answer)."""
    return json_reply(500, {"error": "internal_error"}, [])
