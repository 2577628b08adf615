"""The session lifecycle, run over both adapters (ASGI/Starlette and WSGI/Flask)."""

from __future__ import annotations

import pytest

from idleguard import Policy
from idleguard.identity import SignedCookie
from idleguard.testing import EventCollector, SettableClock
from tests.apps import SECRET
from tests.harness import Harness
from tests.scenarios.conftest import MakeClient

COOKIE = "__Host-idleguard"


def sign_in(client: Harness, user: str = "alice") -> None:
    response = client.post(f"/login?user={user}")
    assert response.status == 200
    assert COOKIE in client.cookies


def test_sign_in_sets_a_hardened_cookie(client: Harness, events: EventCollector) -> None:
    response = client.post("/login?user=alice")
    (cookie,) = response.all("set-cookie")
    assert cookie.startswith(COOKIE + "=")
    for attribute in ("Path=/", "HttpOnly", "Secure", "SameSite=Lax"):
        assert attribute in cookie
    assert "Domain" not in cookie
    assert response.header("cache-control") == "no-store"
    assert client.get("/me").json()["user"] == "alice"
    assert events.types() == ["session_started"]
    assert events.events[0].subject == "alice"


def test_plain_http_development_drops_the_secure_prefix(make_client: MakeClient) -> None:
    client = make_client(https_only=False)
    cookie = client.post("/login").all("set-cookie")[0]
    assert cookie.startswith("idleguard=")
    assert "Secure" not in cookie


@pytest.mark.parametrize(
    ("idle_for", "alive"),
    [
        pytest.param(899.0, True, id="just-under"),
        pytest.param(899.999, True, id="a-millisecond-under"),
        pytest.param(900.0, False, id="exactly-at-the-limit"),
        pytest.param(901.0, False, id="just-over"),
    ],
)
def test_idle_limit_edges(
    client: Harness, clock: SettableClock, events: EventCollector, idle_for: float, alive: bool
) -> None:
    sign_in(client)
    clock.advance(idle_for)
    response = client.get("/me")
    if alive:
        assert response.json()["user"] == "alice"
        assert events.types() == ["session_started"]
    else:
        assert response.status == 401
        assert response.json() == {"error": "session_expired", "reason": "idle"}
        assert COOKIE not in client.cookies, "the expired cookie is cleared"
        assert events.types() == ["session_started", "session_expired_inactivity"]
        expiry = events.events[-1]
        assert expiry.subject == "alice"
        assert expiry.reason == "idle"
        assert expiry.idle_seconds == pytest.approx(idle_for)


def test_activity_resets_the_idle_clock(client: Harness, clock: SettableClock) -> None:
    sign_in(client)
    for _ in range(10):
        clock.advance(800)
        assert client.get("/me").json()["user"] == "alice"


def test_a_browser_is_redirected_to_sign_in(client: Harness, clock: SettableClock) -> None:
    sign_in(client)
    clock.advance(1000)
    response = client.get("/me", headers={"accept": "text/html,application/xhtml+xml"})
    assert response.status == 303
    assert response.header("location") == "/login?reason=idle&next=/me"
    assert response.header("cache-control") == "no-store"


@pytest.mark.parametrize(
    ("login_url", "location"),
    [
        pytest.param("/login#form", "/login?reason=idle&next=/me#form", id="fragment"),
        pytest.param(
            "/login?lang=fr#form", "/login?lang=fr&reason=idle&next=/me#form", id="query-fragment"
        ),
    ],
)
def test_a_sign_in_page_fragment_stays_last(
    make_client: MakeClient, clock: SettableClock, login_url: str, location: str
) -> None:
    # Parameters written after the '#' would never reach the sign-in page's server.
    client = make_client(login_url=login_url)
    sign_in(client)
    clock.advance(1000)
    response = client.get("/me", headers={"accept": "text/html"})
    assert response.header("location") == location


def test_the_expired_cookie_replayed_is_still_refused(
    client: Harness, clock: SettableClock, events: EventCollector
) -> None:
    sign_in(client)
    stolen = dict(client.cookies)
    clock.advance(1000)
    assert client.get("/me").status == 401
    client.cookies = dict(stolen)
    replay = client.get("/me")
    assert replay.status == 401
    assert replay.json()["reason"] == "idle"
    assert events.types().count("session_expired_inactivity") == 1, "reported once"


def test_absolute_limit_ends_an_active_session(
    client: Harness, clock: SettableClock, events: EventCollector
) -> None:
    sign_in(client)
    for _ in range(23):  # 23 x 10 min = 3 h 50 min of steady activity
        clock.advance(600)
        assert client.get("/me").json()["user"] == "alice"
    clock.advance(600)  # 4 h after sign-in
    response = client.get("/me")
    assert response.status == 401
    assert response.json()["reason"] == "absolute"
    assert events.types()[-1] == "session_expired_absolute"


def test_remaining_idle_never_exceeds_remaining_absolute(
    client: Harness, clock: SettableClock
) -> None:
    sign_in(client)
    for _ in range(23):
        clock.advance(600)
        client.get("/me")
    clock.advance(300)  # 4 h - 300 s after sign-in
    body = client.get("/me").json()
    assert body["absolute_remaining"] == pytest.approx(300)
    assert body["idle_remaining"] <= body["absolute_remaining"]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="configured-passive-path"),
        pytest.param({"x-idleguard-passive": "1"}, id="passive-header"),
    ],
)
def test_passive_requests_never_extend(
    client: Harness, clock: SettableClock, headers: dict[str, str]
) -> None:
    sign_in(client)
    path = "/poll" if not headers else "/me"
    for _ in range(2):
        clock.advance(400)
        assert client.get(path, headers=headers).json()["user"] == "alice"
    clock.advance(100)  # 900 s since the last real activity
    response = client.get(path, headers=headers)
    assert response.status == 401, "a passive request still expires the session"


def test_cors_preflight_is_passive(client: Harness, clock: SettableClock) -> None:
    sign_in(client)
    clock.advance(800)
    client.request("OPTIONS", "/me", headers={"access-control-request-method": "GET"})
    clock.advance(100)
    assert client.get("/me").status == 401


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"x-api-key": "k-123"}, id="x-api-key"),
        pytest.param({"authorization": "ApiKey k-123"}, id="authorization-apikey"),
    ],
)
def test_api_key_requests_are_exempt(
    client: Harness, clock: SettableClock, events: EventCollector, headers: dict[str, str]
) -> None:
    sign_in(client)
    clock.advance(800)
    assert client.get("/api/data", headers=headers).status == 200
    clock.advance(100)
    assert client.get("/me").status == 401, "an API-key request did not extend the session"
    clock.advance(10_000)
    assert client.get("/api/data", headers=headers).status == 200, "nor is it checked"


def test_sign_out_ends_the_session_everywhere(client: Harness, events: EventCollector) -> None:
    sign_in(client)
    copy = dict(client.cookies)
    response = client.post("/logout")
    assert response.header("clear-site-data") == '"cookies"'
    assert response.header("cache-control") == "no-store"
    assert COOKIE not in client.cookies
    assert events.types() == ["session_started", "session_ended"]
    assert events.events[-1].reason == "signed_out"
    client.cookies = copy
    replay = client.get("/me")
    assert replay.status == 401
    assert replay.json()["reason"] == "signed_out"


def test_sign_in_always_issues_a_new_id(client: Harness, events: EventCollector) -> None:
    sign_in(client, "alice")
    first = dict(client.cookies)
    sign_in(client, "alice")
    assert client.cookies != first
    client_copy = dict(client.cookies)
    client.cookies = first
    assert client.get("/me").status == 401, "the id from before sign-in is worthless"
    client.cookies = client_copy
    assert client.get("/me").json()["user"] == "alice"
    assert events.types() == ["session_started", "session_ended", "session_started"]


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param("garbage", id="junk"),
        pytest.param("", id="empty"),
        pytest.param("a" * 10_000, id="oversized"),
        pytest.param("abc.def", id="bad-signature"),
        pytest.param("../../etc/passwd", id="path-characters"),
        pytest.param("\x7f\x01", id="control-characters"),
    ],
)
def test_tampered_cookies_are_no_session(
    client: Harness, events: EventCollector, cookie: str
) -> None:
    client.cookies[COOKIE] = cookie
    response = client.get("/me")
    assert response.status == 200
    assert response.json()["user"] is None
    assert events.types() == []


def test_a_modified_signed_cookie_is_refused(client: Harness) -> None:
    sign_in(client)
    value = client.cookies[COOKIE]
    flipped = ("A" if value[0] != "A" else "B") + value[1:]
    client.cookies[COOKIE] = flipped
    response = client.get("/me")
    assert response.json()["user"] is None
    assert any("Max-Age=0" in header for header in response.all("set-cookie"))


def test_duplicated_cookie_with_two_values_is_no_session(client: Harness) -> None:
    sign_in(client)
    value = client.cookies[COOKIE]
    other = SignedCookie(SECRET).issue()[0]
    response = client.get("/me", headers={"cookie": f"{COOKIE}={value}; {COOKIE}={other}"})
    assert response.json()["user"] is None


def test_rotated_keys_verify_and_retired_keys_do_not(
    make_client: MakeClient, clock: SettableClock
) -> None:
    old_key, new_key = "old-" + "k" * 40, "new-" + "k" * 40
    from idleguard.stores import MemoryStore

    store = MemoryStore(clock=clock)
    before = make_client(secret_key=old_key, store=store)
    before.post("/login")
    issued = dict(before.cookies)
    rotated = make_client(secret_key=[new_key, old_key], store=store)
    rotated.cookies = dict(issued)
    assert rotated.get("/me").json()["user"] == "alice", "the old key still verifies"
    rotated.post("/login")
    assert rotated.cookies != issued
    retired = make_client(secret_key=[new_key], store=store)
    retired.cookies = dict(issued)
    assert retired.get("/me").json()["user"] is None, "a retired key no longer verifies"


def test_upload_longer_than_the_idle_limit_is_not_cut_off(
    client: Harness, clock: SettableClock
) -> None:
    sign_in(client)
    chunks = [b"x" * 1024] * 6

    def slow_link(_: int) -> None:
        clock.advance(600)  # 5 x 10 min: 50 minutes of upload against a 15-minute limit

    response = client.post("/upload", body=chunks, between_chunks=slow_link)
    assert response.status == 200
    assert response.json()["size"] == 6 * 1024
    clock.advance(60)
    assert client.get("/me").json()["user"] == "alice", "not expired the moment it completes"


def test_download_longer_than_the_idle_limit_is_not_cut_off(
    client: Harness, clock: SettableClock
) -> None:
    sign_in(client)
    response = client.get("/download?chunks=6")
    assert response.body == b"x" * 60
    clock.advance(60)
    assert client.get("/me").json()["user"] == "alice"


def test_a_passive_upload_does_not_extend(client: Harness, clock: SettableClock) -> None:
    sign_in(client)
    client.post(
        "/upload",
        body=[b"x"] * 3,
        between_chunks=lambda _: clock.advance(400),
        headers={"x-idleguard-passive": "1"},
    )
    clock.advance(100)
    assert client.get("/me").status == 401


def test_no_limits_means_a_session_that_only_ends_on_sign_out(
    make_client: MakeClient, clock: SettableClock
) -> None:
    client = make_client(policy=Policy(idle_timeout=None, absolute_timeout=None))
    sign_in(client)
    clock.advance(10 * 365 * 86400)
    assert client.get("/me").json()["user"] == "alice"
    client.post("/logout")
    assert client.get("/me").json()["user"] is None


def test_the_clock_going_backwards_never_extends(client: Harness, clock: SettableClock) -> None:
    sign_in(client)
    clock.advance(600)
    client.get("/me")  # last activity at t0 + 600
    clock.advance(-200)  # the clock steps back
    client.get("/me")
    clock.advance(200 + 900)  # t0 + 1500: 900 s after the real last activity
    assert client.get("/me").status == 401
