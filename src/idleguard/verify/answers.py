"""The probes that need no wait: sign-out, cookie attributes, session rotation, the client's endpoints."""

from __future__ import annotations

import json
from collections.abc import Generator
from email.utils import parsedate_to_datetime

from .bench import Bench, Endpoint, Inconclusive, Target, guarded
from .exchange import Answer, Exchange, Session, parse_set_cookie
from .report import ProbeResult, Record, Verdict
from .waits import seconds

__all__ = [
    "client_endpoints",
    "cookie_attributes",
    "session_rotation",
    "sign_out_headers",
    "sign_out_replay",
]

Probe = Generator[float, None, ProbeResult]


def sign_out_replay(bench: Bench, target: Target) -> Probe:
    """Probe: after sign-out, the old cookie replayed is refused."""
    record = bench.record("sign-out-replay", target.base)
    if target.logout is None:
        return bench.finish(record, Verdict.SKIPPED, "no sign-out request given (--logout-url)")
    return (yield from guarded(bench, record, _replay(bench, target, target.logout, record)))


def _sign_out_then_replay(
    bench: Bench,
    target: Target,
    logout: Endpoint,
    session: Session,
    record: Record,
    signing_out: str,
    replaying: str,
) -> Exchange:
    """Sign out through `logout`, then present the cookie held before it: the replay's answer."""
    old = session.credential.copy()
    bench.request(target, logout, session, record, signing_out)
    session.credential = old
    replay = bench.request(target, target.check, session, record, replaying, follow_cookies=False)
    if replay.answer is Answer.ERROR:
        raise Inconclusive(f"the replay answered {replay.status or replay.error}")
    return replay


def _replay(bench: Bench, target: Target, logout: Endpoint, record: Record) -> Probe:
    yield record.started_at
    session = bench.session(target, record)
    # The session was accepted when it was made (Bench.session asks at once).
    replay = _sign_out_then_replay(
        bench, target, logout, session, record, "sign out", "replay of the signed-out cookie"
    )
    if replay.answer is Answer.ALIVE:
        return bench.finish(
            record,
            Verdict.FAILED,
            f"the signed-out cookie was accepted again ({replay.status})",
            findings=[
                "sign-out does not end the session on the server: the old cookie still works"
            ],
        )
    return bench.finish(
        record, Verdict.PASSED, f"the signed-out cookie was refused ({replay.status})"
    )


def sign_out_headers(bench: Bench, target: Target) -> Probe:
    """Probe: the sign-out answer says `Cache-Control: no-store` and `Clear-Site-Data`."""
    record = bench.record("sign-out-headers", target.base)
    if target.logout is None:
        return bench.finish(record, Verdict.SKIPPED, "no sign-out request given (--logout-url)")
    return (
        yield from guarded(bench, record, _logout_headers(bench, target, target.logout, record))
    )


def _logout_headers(bench: Bench, target: Target, logout: Endpoint, record: Record) -> Probe:
    yield record.started_at
    session = bench.session(target, record)
    exchange = bench.request(target, logout, session, record, "sign out")
    if exchange.status is None or exchange.status >= 500:
        raise Inconclusive(f"the sign-out answered {exchange.status or exchange.error}")
    findings = []
    cache = ",".join(exchange.response_headers.get("cache-control", [])).lower()
    if "no-store" not in cache:
        findings.append(f"Cache-Control is {cache or 'absent'}, not no-store")
    clear = ",".join(exchange.response_headers.get("clear-site-data", [])).lower()
    if "cookies" not in clear and '"*"' not in clear:
        findings.append(f'Clear-Site-Data is {clear or "absent"}, without "cookies"')
    return bench.conclude(record, findings, f"Cache-Control: {cache}; Clear-Site-Data: {clear}")


def cookie_attributes(bench: Bench, target: Target) -> Probe:
    """Probe: each cookie sign-in sets is `Secure`, `HttpOnly`, `SameSite`, and not long-lived."""
    record = bench.record("cookie-attributes", target.base)
    if not bench.recipe.makes_requests:
        return bench.finish(
            record, Verdict.SKIPPED, "the sign-in recipe makes no request whose cookies can be read"
        )
    return (yield from guarded(bench, record, _cookies(bench, target, record)))


def _cookies(bench: Bench, target: Target, record: Record) -> Probe:
    yield record.started_at
    session = bench.session(target, record)
    absolute = bench.expectation.absolute_timeout
    findings: list[str] = []
    advice: list[str] = []
    names = []
    for header in session.cookies_set:
        parsed = parse_set_cookie(header)
        if parsed is None:
            findings.append("a Set-Cookie header cannot be parsed")
            continue
        name, _, attributes = parsed
        names.append(name)
        if "secure" not in attributes:
            findings.append(f"{name}: no Secure attribute (sent over plain HTTP too)")
        if "httponly" not in attributes:
            findings.append(f"{name}: no HttpOnly attribute (readable by scripts)")
        same_site = attributes.get("samesite", "").lower()
        if same_site not in ("lax", "strict"):
            findings.append(f"{name}: SameSite is {same_site or 'absent'}, not Lax or Strict")
        if not name.startswith("__Host-"):
            advice.append(f"{name}: a __Host- prefix would bind it to this host over HTTPS")
        lifetime = _lifetime(attributes, session.signed_in_at)
        if (
            lifetime is not None
            and absolute is not None
            and lifetime > absolute + bench.expectation.tolerance
        ):
            findings.append(
                f"{name}: kept by the browser for {seconds(lifetime)}, longer than the absolute limit {seconds(absolute)}"
            )
    record.measured["cookies"] = names
    if not names:
        raise Inconclusive("the sign-in set no cookie")
    return bench.conclude(
        record,
        findings,
        f"{', '.join(names)}: Secure, HttpOnly, SameSite, no lifetime past the absolute limit",
        advice,
    )


def _lifetime(attributes: dict[str, str], now: float) -> float | None:
    if "max-age" in attributes:
        try:
            return float(attributes["max-age"])
        except ValueError:
            return None
    if "expires" in attributes:
        try:
            return parsedate_to_datetime(attributes["expires"]).timestamp() - now
        except (TypeError, ValueError):
            return None
    return None


def session_rotation(bench: Bench, target: Target) -> Probe:
    """Probe: a cookie sent with the sign-in (a live session's) is replaced, not kept."""
    record = bench.record("session-rotation", target.base)
    if not bench.recipe.makes_requests:
        return bench.finish(
            record, Verdict.SKIPPED, "the sign-in recipe makes no request to plant a cookie in"
        )
    return (yield from guarded(bench, record, _rotation(bench, target, record)))


def _rotation(bench: Bench, target: Target, record: Record) -> Probe:
    yield record.started_at
    bench.reserve(2)
    first = bench.session(target, record, reserved=True)
    planted = dict(first.credential.cookies)
    second = bench.session(target, record, plant=planted, reserved=True)
    findings = [
        f"{name}: the value sent with the sign-in was kept"
        for name, value in planted.items()
        if second.credential.cookies.get(name) == value
    ]
    if findings:
        return bench.finish(
            record,
            Verdict.FAILED,
            "sign-in kept a session id sent to it (fixation)",
            findings=findings,
        )
    return bench.finish(
        record, Verdict.PASSED, f"sign-in replaced every cookie sent to it ({', '.join(planted)})"
    )


def client_endpoints(bench: Bench, target: Target) -> Probe:
    """Probe (idleguard deployments): the client's endpoints say and do what is claimed.

    `status` reports the expected limits and may not be cached; `keepalive` refuses a
    request a page on another site could send (no `X-Idleguard: 1`); `logout` ends the
    session on the server, so its cookie is refused afterwards.
    """
    record = bench.record("client-endpoints", target.base)
    if target.client_prefix is None:
        return bench.finish(record, Verdict.SKIPPED, "not an idleguard deployment (--idleguard)")
    return (yield from guarded(bench, record, _client(bench, target, target.client_prefix, record)))


def _client(bench: Bench, target: Target, prefix: str, record: Record) -> Probe:
    yield record.started_at
    base = prefix.rstrip("/")
    session = bench.session(target, record)
    response, exchange = bench.client.send(
        "GET", base + "/status", session.credential, base=target.base, note="the client's status"
    )
    record.add(exchange)
    if response is None or exchange.answer is not Answer.ALIVE:
        raise Inconclusive(f"the status endpoint answered {exchange.status or exchange.error}")
    try:
        body = response.json()
    except json.JSONDecodeError:
        raise Inconclusive("the status endpoint did not answer JSON") from None
    if not isinstance(body, dict):
        raise Inconclusive("the status endpoint did not answer a JSON object")
    expected = bench.expectation
    findings = []
    for name, claimed in (
        ("idle_timeout", expected.idle_timeout),
        ("absolute_timeout", expected.absolute_timeout),
    ):
        reported = body.get(name)
        record.measured[name] = reported
        if claimed is None:
            continue
        if not isinstance(reported, (int, float)) or abs(reported - claimed) > expected.tolerance:
            findings.append(f"status says {name} is {reported!r}, expected {seconds(claimed)}")
    if "no-store" not in ",".join(exchange.response_headers.get("cache-control", [])):
        findings.append("the status answer may be cached (no Cache-Control: no-store)")
    forged = Endpoint("POST", base + "/keepalive", {"origin": "https://another.example"})
    cross_site = bench.request(
        target, forged, session, record, "keepalive as another site would send it"
    )
    if cross_site.answer is Answer.ALIVE:
        findings.append("keepalive accepted a request without X-Idleguard: 1 from another origin")
    logout = Endpoint("POST", base + "/logout", {"x-idleguard": "1"})
    replay = _sign_out_then_replay(
        bench,
        target,
        logout,
        session,
        record,
        "the client's sign-out",
        "replay after the client's sign-out",
    )
    if replay.answer is Answer.ALIVE:
        findings.append("the cookie still works after the client's sign-out")
    return bench.conclude(
        record,
        findings,
        f"status reports idle {seconds(body.get('idle_timeout'))}, absolute "
        f"{seconds(body.get('absolute_timeout'))}, no-store; keepalive refused another site "
        f"({cross_site.status}); the client's sign-out ended the session ({replay.status})",
    )
