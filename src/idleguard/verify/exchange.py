"""Requests as evidence: one session's credential, one request and its answer, redacted.

`idleguard verify` keeps its own cookies rather than an HTTP client's jar: a jar would not
send a `Secure` cookie over plain HTTP to a staging server, and a probe must be able to
replay an old cookie on purpose. Every request and answer is kept as an
[`Exchange`][idleguard.verify.Exchange] with its secrets replaced by idleguard's own
[`Redactor`][idleguard.audit.Redactor]; a cookie's value shows only as a short fingerprint,
so a reader can see that a value changed without learning it.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from ..audit.redaction import REDACTED, Redactor
from .timeline import Timeline

if TYPE_CHECKING:
    import httpx

__all__ = ["Answer", "Client", "Credential", "Exchange", "Session", "answer_of", "fingerprint"]

_REDACTOR = Redactor()
#: Answers that say "sign in again": unauthorized, forbidden, and two vendors' session codes.
REFUSED_STATUSES = frozenset({401, 403, 419, 440})


class Answer(str, enum.Enum):
    """What an answer says about the session that sent the request."""

    ALIVE = "alive"
    REFUSED = "refused"
    #: Neither: a server error, a missing page, no answer. A probe that sees one cannot conclude.
    ERROR = "error"
    #: The answer to a sign-in that gave a session.
    SIGNED_IN = "signed in"


def answer_of(status: int | None) -> Answer:
    """`ALIVE` for 2xx, `REFUSED` for a redirect or 401/403/419/440, else `ERROR`."""
    if status is None:
        return Answer.ERROR
    if 200 <= status < 300:
        return Answer.ALIVE
    if 300 <= status < 400 or status in REFUSED_STATUSES:
        return Answer.REFUSED
    return Answer.ERROR


def fingerprint(value: str) -> str:
    """A short hash of a secret, to tell values apart in a report (not to recover them)."""
    return "#" + hashlib.sha256(value.encode()).hexdigest()[:8]


@dataclasses.dataclass
class Credential:
    """What a signed-in client sends: cookies (name to value) and headers (`Authorization`)."""

    cookies: dict[str, str] = dataclasses.field(default_factory=dict)
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    def copy(self) -> Credential:
        """An independent copy (a replay keeps the old one while the session moves on)."""
        return Credential(dict(self.cookies), dict(self.headers))

    def request_headers(self) -> dict[str, str]:
        """The headers that present this credential."""
        headers = dict(self.headers)
        if self.cookies:
            headers["cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        return headers


@dataclasses.dataclass
class Session:
    """One signed-in session a probe uses.

    Attributes:
        credential: What it sends.
        user: Who signed in (a label from the recipe; never a password).
        signed_in_at: When its sign-in request was sent (timeline seconds).
        sign_in: The sign-in's exchanges, when the recipe made requests.
        cookies_set: The `Set-Cookie` headers the sign-in answered with (raw, not redacted).
    """

    credential: Credential
    user: str
    signed_in_at: float
    sign_in: list[Exchange] = dataclasses.field(default_factory=list)
    cookies_set: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True, slots=True)
class Exchange:
    """One request and its answer, as the report shows them (secrets redacted).

    Attributes:
        at: When the request was sent (seconds since the epoch, on the timeline).
        method: The request's method.
        url: Its URL (query string redacted).
        request_headers: The headers sent that matter here, redacted.
        form: The form fields sent, secrets redacted by field name.
        status: The answer's status code; `None` when none came.
        response_headers: The answer's headers that matter here, redacted.
        answer: What the answer says about the session.
        note: Why the probe sent it (`idle 900 s after sign-in`).
        error: Why no answer came, when none did.
        setup: Whether it only made a session ready (a sign-in, the checks right after it),
            as opposed to the probe's own requests.
    """

    at: float
    method: str
    url: str
    request_headers: dict[str, str]
    form: dict[str, Any]
    status: int | None
    response_headers: dict[str, list[str]]
    answer: Answer
    note: str = ""
    error: str = ""
    setup: bool = False

    def to_json(self) -> dict[str, Any]:
        """The exchange as the JSON report shows it."""
        data = dataclasses.asdict(self)
        data["answer"] = self.answer.value
        return data


#: Answer headers a report shows; the rest say nothing about sessions.
SHOWN_RESPONSE_HEADERS = (
    "location",
    "set-cookie",
    "cache-control",
    "clear-site-data",
    "www-authenticate",
)


def _redact_cookie_pairs(header: str) -> str:
    pairs = []
    for pair in header.split(";"):
        name, _, value = pair.strip().partition("=")
        pairs.append(f"{name}={REDACTED}{fingerprint(value)}" if value else name)
    return "; ".join(pairs)


def _redact_set_cookie(header: str) -> str:
    head, _, attributes = header.partition(";")
    name, _, value = head.strip().partition("=")
    shown = f"{name}={REDACTED}{fingerprint(value)}" if value else f"{name}="
    # The attributes are the evidence (Secure, HttpOnly, SameSite, Max-Age); the rules still
    # run over them, in case a server put something secret there.
    return shown + (";" + _REDACTOR.text(attributes) if attributes else "")


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Request headers with every secret replaced (cookies by fingerprint, `Authorization`)."""
    shown: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "cookie":
            shown[lowered] = _redact_cookie_pairs(value)
        elif lowered == "authorization":
            scheme, _, secret = value.partition(" ")
            shown[lowered] = f"{scheme} {REDACTED}{fingerprint(secret)}"
        else:
            shown[lowered] = _REDACTOR.value(value)
    return shown


def parse_set_cookie(header: str) -> tuple[str, str, dict[str, str]] | None:
    """`(name, value, attributes)` of one `Set-Cookie` header (attribute names lower-cased)."""
    cookie = SimpleCookie()
    try:
        cookie.load(header)
    except CookieError:
        return None
    for name, morsel in cookie.items():
        attributes = {key.lower(): str(value) for key, value in morsel.items() if value}
        # SimpleCookie keeps flags as True; a flag attribute is present, whatever its text.
        lowered = header.lower()
        for flag in ("secure", "httponly"):
            if any(part.strip() == flag for part in lowered.split(";")[1:]):
                attributes[flag] = "true"
        return name, morsel.value, attributes
    return None


def _deletes(attributes: Mapping[str, str]) -> bool:
    if attributes.get("max-age", "").strip() in {"0", "-1"}:
        return True
    expires = attributes.get("expires", "")
    return "1970" in expires


class Client:
    """Sends a probe's requests and keeps each one as an [`Exchange`][idleguard.verify.Exchange].

    Args:
        http: The HTTP client (redirects are never followed: a redirect is an answer).
        timeline: Where each request's time is read.
    """

    def __init__(self, http: httpx.Client, timeline: Timeline) -> None:
        self.http = http
        self.timeline = timeline

    def send(
        self,
        method: str,
        url: str,
        credential: Credential | None,
        *,
        note: str = "",
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        follow_cookies: bool = True,
        base: str | None = None,
        setup: bool = False,
    ) -> tuple[httpx.Response | None, Exchange]:
        """Send one request with `credential`; keep the cookies the answer sets on it.

        Args:
            method: The method.
            url: The URL, absolute or relative to `base`.
            credential: What to present; updated from the answer's `Set-Cookie` unless
                `follow_cookies` is false.
            note: Why the probe sends it, for the report.
            form: Form fields to send (`application/x-www-form-urlencoded`).
            headers: More headers.
            follow_cookies: Whether to keep what the answer sets.
            base: What a relative `url` is relative to.
            setup: Whether it only makes a session ready (see `Exchange.setup`).

        Returns:
            The answer (`None` when none came) and the exchange as evidence.
        """
        import httpx

        target = urljoin(base, url) if base else url
        sent = {**(credential.request_headers() if credential else {}), **(headers or {})}
        at = self.timeline.now()
        response: httpx.Response | None = None
        error = ""
        try:
            response = self.http.request(
                method, target, headers=sent, data=dict(form or {}) or None
            )
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}"
        if response is not None and credential is not None and follow_cookies:
            for header in response.headers.get_list("set-cookie"):
                parsed = parse_set_cookie(header)
                if parsed is None:
                    continue
                name, value, attributes = parsed
                if _deletes(attributes):
                    credential.cookies.pop(name, None)
                else:
                    credential.cookies[name] = value
        shown = {}
        if response is not None:
            for name in SHOWN_RESPONSE_HEADERS:
                values = response.headers.get_list(name)
                if values:
                    shown[name] = [
                        _redact_set_cookie(value)
                        if name == "set-cookie"
                        else str(_REDACTOR.value(value))
                        for value in values
                    ]
        exchange = Exchange(
            at=at,
            method=method,
            url=_REDACTOR.text(target),
            request_headers=redact_headers(sent),
            form=_REDACTOR.value(dict(form or {})),
            status=None if response is None else response.status_code,
            response_headers=shown,
            answer=answer_of(None if response is None else response.status_code),
            note=note,
            error=_REDACTOR.text(error),
            setup=setup,
        )
        return response, exchange
