"""The browser client's endpoints, written once and served by both adapters.

Under `Settings.endpoint_prefix` (default `/_idleguard/`):

* `GET status`: passive, it checks the session and never extends it. Answers
  the seconds left (remaining seconds, not timestamps, so the browser's clock
  does not matter), the warning lead and the limits of the page named by
  `?path=`. With `?lang=` (the client sends it once per page), also the
  dialog's strings in that language, or the best of `Accept-Language`.
* `POST keepalive`: "Stay logged in". Counts as activity (never past the
  absolute limit) and reports `session_extended`. Refused cross-site.
* `POST logout`: "Sign me out". Refused cross-site.
* `POST backchannel-logout`: with an `identity_provider`, the provider's
  back-channel logout (OpenID Connect Back-Channel Logout 1.0): a form with
  one `logout_token`. Not a browser's request: no session, no cross-site
  check; a token that is not valid and fresh gets `400` and changes nothing.
* `GET signed-out`: with an `identity_provider`, where the provider sends the
  browser back after ending its own session; it goes on to the sign-in page
  with the reason.
* `GET idleguard.js`: the client; `idleguard.<hash>.js` is the same file cached
  for a year. `idleguard.mjs` is the ES module form.

Every answer is JSON with `Cache-Control: no-store`, except the script.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.resources
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .context import SessionContext
from .core import EndReason
from .events import EventType
from .facts import RequestFacts, normalize_path
from .flow import Entry, Flow
from .messages import client_texts, negotiate_language
from .provider import BACKCHANNEL_LOGOUT, SIGNED_OUT, LogoutRejected
from .replies import (
    NO_STORE,
    Reply,
    json_reply,
    login_location,
    safe_next,
    store_unavailable_reply,
    with_headers,
)
from .session_events import provider_logout_event, request_event
from .steps import End, SessionsOf, StepOf
from .stores.base import StoreUnavailable

__all__ = ["client_script_url", "cross_site_reason", "serve"]

Handler = Callable[[Flow, RequestFacts], StepOf]

#: The hashed script never changes under its name; the plain name may, so it is kept briefly.
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT_CACHE = "public, max-age=300"
_MODULE_FOOTER = (
    "\nconst idleguard = globalThis.idleguard;\n"
    "export const start = idleguard.start;\n"
    "export default idleguard;\n"
)
_DEFAULT_PORTS = {"http": "80", "https": "443"}
PASSIVE = "x-idleguard-passive"


@dataclasses.dataclass(frozen=True, slots=True)
class Asset:
    """The client script as served: its bytes and the hash in its long-lived name."""

    body: bytes
    digest: str


@functools.cache
def assets() -> dict[str, Asset]:
    """The script (`js`) and its ES module form (`mjs`), read once from package data."""
    source = importlib.resources.files("idleguard") / "static" / "idleguard.js"
    script = source.read_bytes()
    module = script + _MODULE_FOOTER.encode()
    return {
        kind: Asset(body, hashlib.sha256(body).hexdigest()[:12])
        for kind, body in (("js", script), ("mjs", module))
    }


def client_script_url(prefix: str = "/_idleguard/", *, module: bool = False) -> str:
    """The path of the client under `prefix`, with its content hash (cacheable forever).

    Put it in a `<script src=...>` (or an `import`, with `module=True`);
    a new release changes the name, so browsers never run a stale client.

    Args:
        prefix: The middleware's `endpoint_prefix`.
        module: The ES module form (`.mjs`) instead of the classic script.

    Returns:
        The path, such as `/_idleguard/idleguard.0123456789ab.js`. Under a mount
            prefix (ASGI `root_path`, WSGI `SCRIPT_NAME`), put that in front.
    """
    kind = "mjs" if module else "js"
    return f"{prefix.rstrip('/')}/idleguard.{assets()[kind].digest}.{kind}"


def serve(flow: Flow, facts: RequestFacts) -> StepOf:
    """Answer a request under the endpoint prefix."""
    name = facts.path[len(flow.settings.endpoint_prefix) :]
    context = SessionContext(flow.settings, facts)
    if name.startswith("idleguard.") and name.endswith((".js", ".mjs")):
        return Entry(context, _script(facts, name))
    route = _ROUTES.get(name)
    if route is None:
        return Entry(context, json_reply(404, {"error": "not_found"}, []))
    method, handler = route
    if facts.method != method:
        return Entry(context, json_reply(405, {"error": "method_not_allowed"}, [("allow", method)]))
    if name in _PROVIDER_ROUTES:
        if flow.settings.identity_provider is None:
            return Entry(context, json_reply(404, {"error": "not_found"}, []))
        # The identity provider's calls: no browser, so no cross-site check.
        return (yield from handler(flow, facts))
    if method == "POST":
        refused = cross_site_reason(facts, flow.settings.trusted_origins)
        if refused is not None:
            return Entry(context, json_reply(403, {"error": "cross_site", "detail": refused}, []))
    return (yield from handler(flow, facts))


def _script(facts: RequestFacts, name: str) -> Reply:
    if facts.method not in ("GET", "HEAD"):
        return json_reply(405, {"error": "method_not_allowed"}, [("allow", "GET, HEAD")])
    stem, kind = name.rsplit(".", 1)
    asset = assets()[kind]
    # An older hash (a page cached across a release) still gets the current client, briefly cached.
    cache = IMMUTABLE if stem == f"idleguard.{asset.digest}" else SHORT_CACHE
    headers = [
        ("content-type", "text/javascript; charset=utf-8"),
        ("cache-control", cache),
        ("x-content-type-options", "nosniff"),
    ]
    return Reply(200, headers, asset.body)


def cross_site_reason(facts: RequestFacts, trusted_origins: frozenset[str]) -> str | None:
    """Why a state-changing request may come from another site; `None` when it may not.

    A page on another site cannot send the `X-Idleguard: 1` header without a
    CORS preflight this endpoint never approves, and browsers name the
    request's origin in `Origin` and `Sec-Fetch-Site`. Any one failing refuses.
    """
    headers = facts.headers
    if headers.get("x-idleguard") != "1":
        return "the X-Idleguard: 1 header is required"
    if headers.get("sec-fetch-site") == "cross-site":
        return "Sec-Fetch-Site is cross-site"
    origin = headers.get("origin")
    if origin is None:
        return None
    origin = origin.strip().rstrip("/").lower()
    if origin in trusted_origins:
        return None
    parts = urlsplit(origin)
    host = headers.get("host", "").strip().lower()
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or not host:
        return "Origin is not this site"
    if host.endswith(":" + _DEFAULT_PORTS[parts.scheme]):
        host = host.rsplit(":", 1)[0]
    netloc = parts.netloc
    if netloc.endswith(":" + _DEFAULT_PORTS[parts.scheme]):
        netloc = netloc.rsplit(":", 1)[0]
    return None if netloc == host else "Origin is not this site"


def _page(flow: Flow, facts: RequestFacts) -> RequestFacts | None:
    """The request as if it were for the page the client names in `?path=`.

    The page chooses the limits only: whether the request counts as activity
    is the endpoint's to say, and the session is checked whatever the page
    (an exempt or passive page has a session like any other).
    """
    values = parse_qs(facts.query, keep_blank_values=True).get("path")
    raw = values[0] if values else "/"
    if len(raw) > 2048 or not safe_next(raw):
        return None
    path = normalize_path(raw.split("?", 1)[0].split("#", 1)[0])
    if facts.root and (path == facts.root or path.startswith(facts.root + "/")):
        path = path[len(facts.root) :] or "/"  # the browser names the page with the mount prefix
    if path.startswith(flow.settings.endpoint_prefix):
        return None
    headers = {name: value for name, value in facts.headers.items() if name != PASSIVE}
    return dataclasses.replace(facts, path=path, headers=headers, routed=None)


def _state(context: SessionContext) -> dict[str, Any]:
    """What the client needs to know, in seconds; `active` false without a live session."""
    settings = context.settings
    info = context.info()
    policy = context.policy
    state: dict[str, Any] = {
        "active": info is not None,
        "warn_before": policy.warn_before,
        "idle_timeout": policy.idle_timeout,
        "absolute_timeout": policy.absolute_timeout,
        "login_url": settings.login_url,
    }
    if info is not None:
        state["idle_remaining"] = _seconds(info.idle_remaining)
        state["absolute_remaining"] = _seconds(info.absolute_remaining)
    return state


def _answer(status: int, payload: dict[str, Any], headers: list[tuple[str, str]]) -> Reply:
    """JSON with the headers the flow asked for (its `no-store` is already in `json_reply`)."""
    return json_reply(status, payload, [header for header in headers if header != NO_STORE])


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(max(value, 0.0), 3)


def _checked(flow: Flow, facts: RequestFacts, *, activity: bool) -> StepOf:
    """Check the session for the named page; a reply when the answer is already known."""
    page = _page(flow, facts)
    if page is None:
        context = SessionContext(flow.settings, facts)
        return Entry(context), json_reply(400, {"error": "bad_path"}, [])
    entry = yield from flow.check(page, activity=activity)
    if entry.reply is not None:
        return entry, entry.reply
    if entry.context.unguarded:
        # fail_open serves the app unguarded; the client must not be told a session is fine.
        return entry, json_reply(503, {"error": "store_unavailable"}, [("retry-after", "5")])
    return entry, None


def _status(flow: Flow, facts: RequestFacts) -> StepOf:
    entry, reply = yield from _checked(flow, facts, activity=False)
    if reply is None:
        headers, events, failed = yield from flow.leave(entry.context)
        entry.events.extend(events)
        reply = failed or _answer(200, _with_texts(_state(entry.context), facts), headers)
    return Entry(entry.context, reply, entry.events)


def _with_texts(state: dict[str, Any], facts: RequestFacts) -> dict[str, Any]:
    """The dialog's strings, when the page asks with `?lang=` (its first status only).

    Later answers leave them out, so the status the client polls stays small;
    the strings of each language are built once (`client_texts()`).
    """
    if "lang=" not in facts.query:
        return state
    values = parse_qs(facts.query, keep_blank_values=True).get("lang")
    if values is None:
        return state
    language = negotiate_language(values[0][:64], facts.headers.get("accept-language"))
    return {**state, "lang": language, "messages": client_texts(language)}


def _keepalive(flow: Flow, facts: RequestFacts) -> StepOf:
    # The store decides expiry before it touches, in one step: an expired
    # session is reported and stays over; it is never revived.
    entry, reply = yield from _checked(flow, facts, activity=True)
    context = entry.context
    if reply is None:
        headers, events, failed = yield from flow.leave(context)
        entry.events.extend(events)
        info = context.info()
        if failed is not None:
            reply = failed
        elif info is None:
            reply = _answer(401, {"error": "no_session"}, headers)
        else:
            now = flow.settings.clock()
            extended = request_event(
                EventType.SESSION_EXTENDED,
                context,
                now,
                metadata={
                    "idle_remaining": _seconds(info.idle_remaining),
                    "absolute_remaining": _seconds(info.absolute_remaining),
                    "touched": bool(context.decision is not None and context.decision.touch),
                },
            )
            entry.events.append(extended)
            reply = _answer(200, _state(context), headers)
    return Entry(context, reply, entry.events)


def _logout(flow: Flow, facts: RequestFacts) -> StepOf:
    entry, reply = yield from _checked(flow, facts, activity=False)
    context = entry.context
    if reply is not None:
        # Already over (the reply clears the cookie), or the store is down: then
        # the sign-out is not recorded and the answer must not claim it was,
        # though this browser still forgets the session.
        if reply.status == 503:
            reply = with_headers(reply, flow.settings.clear_cookie_headers())
        return Entry(context, reply, entry.events)
    context.end()
    headers, events, failed = yield from flow.leave(context)
    payload = {"active": False, "login_url": flow.settings.login_url}
    reply = failed or _answer(200, payload, headers)
    return Entry(context, reply, [*entry.events, *events])


def _backchannel_logout(flow: Flow, facts: RequestFacts) -> StepOf:
    """End every session a valid logout token from the identity provider names.

    The token is checked whole before anything changes; a bad one, or one seen
    before, gets `400`. The sessions end with reason `idp_logout`, each
    reported as `session_ended`; the answer is `200`, never cached.
    """
    settings = flow.settings
    provider = settings.identity_provider
    assert provider is not None
    context = SessionContext(settings, facts)
    if facts.body is None:
        return Entry(context, json_reply(413, {"error": "invalid_request"}, []))
    content_type = facts.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return Entry(context, _invalid_logout("the body must be a form"))
    try:
        form = parse_qs(facts.body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return Entry(context, _invalid_logout("the body is not a form"))
    now = settings.clock()
    try:
        logout = yield from provider.verify_logout(form, now)
    except LogoutRejected as error:
        return Entry(context, _invalid_logout(str(error)))
    except StoreUnavailable:
        return Entry(context, store_unavailable_reply(facts))
    try:
        keys = list(logout.keys)
        if logout.subject is not None:
            sessions = yield SessionsOf(logout.subject, now)
            keys.extend(key for key, _ in sessions)
        events = []
        for key in dict.fromkeys(keys):
            record = yield End(key, EndReason.IDP_LOGOUT, now)
            if record is not None:
                events.append(provider_logout_event(settings, key, record, now))
            flow.ended(key)
    except StoreUnavailable:
        # Not done: the provider may send the same token again, and it must be taken then.
        yield from provider.release(logout)
        return Entry(context, store_unavailable_reply(facts), events)
    return Entry(context, Reply(200, [NO_STORE]), events)


def _invalid_logout(description: str) -> Reply:
    payload = {"error": "invalid_request", "error_description": description}
    return json_reply(400, payload, [])


def _signed_out(flow: Flow, facts: RequestFacts) -> StepOf:
    """Back from the identity provider's logout: on to the sign-in page, with the reason."""
    settings = flow.settings
    provider = settings.identity_provider
    assert provider is not None
    context = SessionContext(settings, facts)
    returned = provider.returned(facts.query)
    reason, target = returned if returned is not None else (EndReason.INVALID.value, None)
    if settings.login_url is None:
        return Entry(context, json_reply(200, {"active": False, "reason": reason}, []))
    location = login_location(settings.login_url, facts, reason, target or "")
    yield from ()  # a step like the others, though it needs no store call
    return Entry(context, Reply(303, [("location", location), NO_STORE]))


_ROUTES: dict[str, tuple[str, Handler]] = {
    "status": ("GET", _status),
    "keepalive": ("POST", _keepalive),
    "logout": ("POST", _logout),
    BACKCHANNEL_LOGOUT: ("POST", _backchannel_logout),
    SIGNED_OUT: ("GET", _signed_out),
}
_PROVIDER_ROUTES = frozenset({BACKCHANNEL_LOGOUT, SIGNED_OUT})
