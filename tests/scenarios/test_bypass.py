"""Requests an attacker shapes so idleguard and the app read them differently, over ASGI and WSGI.

Each case here was once served unguarded: an expired session revived by an
API-key header, a path the router saw another way, a client endpoint that
recursed, a bug in a store mistaken for an outage and let through.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from idleguard import PathRule
from idleguard.core import EndReason, SessionRecord
from idleguard.facts import api_keys
from idleguard.stores import MemoryStore, StoreUnavailable
from idleguard.testing import EventCollector, SettableClock
from tests.apps import starlette_app
from tests.harness import AsgiHarness, Harness
from tests.scenarios.conftest import MakeClient
from tests.switchable import SwitchableStore

CLIENT = {"x-idleguard": "1"}


def _signed_in(make_client: MakeClient, **options: Any) -> Harness:
    client = make_client(**options)
    client.post("/login?user=victim")
    assert client.get("/me").json()["user"] == "victim"
    return client


# -- rule 1: a request that presents a session credential is always checked -------------
API_KEYS = [
    pytest.param({"x-api-key": "anything"}, id="x-api-key"),
    pytest.param({"authorization": "ApiKey anything"}, id="authorization-apikey"),
]


@pytest.mark.parametrize("headers", API_KEYS)
def test_an_api_key_header_never_revives_an_idle_session(
    make_client: MakeClient, clock: SettableClock, headers: dict[str, str]
) -> None:
    client = _signed_in(make_client)
    clock.advance(1000)
    response = client.get("/me", headers=headers)
    assert response.status == 401
    assert response.json() == {"error": "session_expired", "reason": "idle"}


@pytest.mark.parametrize("headers", API_KEYS)
def test_an_api_key_header_never_revives_a_session_past_its_absolute_limit(
    make_client: MakeClient, clock: SettableClock, headers: dict[str, str]
) -> None:
    client = _signed_in(make_client)
    for _ in range(17):  # active every 800 s: 13,600 s in all
        clock.advance(800)
        assert client.get("/me").status == 200
    clock.advance(801)  # 14,401 s since sign-in: past the 4 h limit, not idle
    response = client.get("/me", headers=headers)
    assert response.status == 401
    assert response.json() == {"error": "session_expired", "reason": "absolute"}


def test_the_attackers_own_valid_key_does_not_exempt_the_victims_cookie(
    make_client: MakeClient, clock: SettableClock
) -> None:
    client = _signed_in(make_client, api_key_exempt=api_keys(["mallory-key"]))
    clock.advance(1000)
    assert client.get("/me", headers={"x-api-key": "mallory-key"}).status == 401


def test_a_credential_on_an_exempt_request_is_checked_but_never_extends(
    make_client: MakeClient, clock: SettableClock
) -> None:
    client = _signed_in(make_client, exempt_paths=["/api"])
    clock.advance(800)
    assert client.get("/me", headers={"x-api-key": "k"}).json()["user"] == "victim"
    assert client.get("/api/data").status == 200
    clock.advance(200)  # 1,000 s since the last activity: neither request extended it
    assert client.get("/api/data").status == 401


def test_an_api_key_alone_is_still_exempt(make_client: MakeClient) -> None:
    client = make_client()
    response = client.get("/api/data", headers={"x-api-key": "k"}, cookies=False)
    assert response.status == 200


def test_a_sign_out_sent_with_an_api_key_ends_the_session(
    make_client: MakeClient, clock: SettableClock
) -> None:
    client = _signed_in(make_client)
    cookies = dict(client.cookies)
    client.post("/logout", headers={"x-api-key": "k"})
    client.cookies = cookies  # a copy of the cookie kept from before
    assert client.get("/me").status == 401


# -- paths: the app's reading and ours ---------------------------------------------------
def test_a_dot_segment_cannot_borrow_an_exempt_path(
    make_client: MakeClient, clock: SettableClock
) -> None:
    client = _signed_in(make_client, exempt_paths=["/health"])
    clock.advance(1000)
    response = client.get("/me/../health")
    assert response.status == 400
    assert response.json() == {"error": "ambiguous_path"}


def test_a_dot_segment_cannot_dodge_a_step_up_rule(
    make_client: MakeClient, clock: SettableClock
) -> None:
    rule = PathRule("/me", authenticated_within=60)
    client = _signed_in(make_client, rules=[rule])
    clock.advance(120)
    assert client.get("/me").json()["error"] == "step_up_required"
    # A router with a path parameter under /me runs its handler for this path;
    # resolved, it would read as the passive /poll, free of the rule.
    response = client.get("/me/../poll")
    assert response.status == 400
    assert response.json() == {"error": "ambiguous_path"}


def test_head_is_held_to_a_get_rule(make_client: MakeClient, clock: SettableClock) -> None:
    client = _signed_in(
        make_client, rules=[PathRule("/me", methods=["GET"], authenticated_within=60)]
    )
    clock.advance(120)
    assert client.request("HEAD", "/me").status == 401


def test_passive_paths_and_rules_apply_under_a_root_path(clock: SettableClock) -> None:
    client = AsgiHarness(starlette_app(clock), root_path="/app")
    client.post("/login")
    clock.advance(800)
    assert client.get("/poll").status == 200  # passive: checked, never extended
    clock.advance(200)
    assert client.get("/me").status == 401, "1,000 s idle: the poll did not count"
    status = client.get("/_idleguard/status")
    assert status.status == 200, "the client endpoints are under the root path too"


# -- the client endpoints ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        pytest.param("GET", "/_idleguard/status?path=/poll", {}, id="status-on-a-passive-page"),
        pytest.param(
            "GET", "/_idleguard/status?path=/me", {"x-api-key": "x"}, id="status-with-an-api-key"
        ),
        pytest.param(
            "POST", "/_idleguard/keepalive?path=/poll", CLIENT, id="keepalive-on-a-passive-page"
        ),
        pytest.param("GET", "/_idleguard/status?path=/health", {}, id="status-on-an-exempt-page"),
    ],
)
def test_the_client_endpoints_answer_on_every_kind_of_page(
    make_client: MakeClient, method: str, path: str, headers: dict[str, str]
) -> None:
    anonymous = make_client(exempt_paths=["/health"])
    assert anonymous.request(method, path, headers=headers).status in (200, 401)
    client = _signed_in(make_client, exempt_paths=["/health"])
    response = client.request(method, path, headers=headers)
    assert response.status == 200
    assert response.json()["active"] is True


def test_keepalive_on_a_passive_page_extends_the_session(
    make_client: MakeClient, clock: SettableClock
) -> None:
    client = _signed_in(make_client)
    clock.advance(800)
    assert client.post("/_idleguard/keepalive?path=/poll", headers=CLIENT).status == 200
    clock.advance(800)
    assert client.get("/me").json()["user"] == "victim"


# -- nothing is written for a credential idleguard did not issue ---------------------------
def test_an_anonymous_sign_out_writes_nothing(
    make_client: MakeClient, clock: SettableClock
) -> None:
    store = MemoryStore(clock=clock)
    client = make_client(store=store)
    for index in range(20):
        client.cookies = {"__Host-idleguard": f"junk{index}"}
        assert client.post("/_idleguard/logout", headers=CLIENT).status == 200
    assert len(store) == 0


# -- bugs are loud and closed, outages are outages -----------------------------------------
@pytest.mark.parametrize("fail_open", [False, True])
def test_a_bug_in_a_store_is_refused_and_logged_never_an_outage(
    make_client: MakeClient,
    clock: SettableClock,
    events: EventCollector,
    caplog: pytest.LogCaptureFixture,
    fail_open: bool,
) -> None:
    store = SwitchableStore(clock)
    client = make_client(store=store, fail_open=fail_open)
    client.post("/login")
    store.broken_by = TypeError
    store.down = True
    with caplog.at_level(logging.ERROR, logger="idleguard"):
        response = client.get("/me")
    assert response.status == 500
    assert response.json() == {"error": "internal_error"}
    assert "store_unavailable" not in events.types()
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert errors
    assert errors[0].exc_info is not None, "logged with its traceback"
    assert errors[0].exc_info[0] is TypeError


def test_a_bug_in_a_tenant_resolver_is_never_served_open(
    make_client: MakeClient, clock: SettableClock, caplog: pytest.LogCaptureFixture
) -> None:
    def tenants(tenant: str) -> Any:
        raise TypeError("a bug")

    client = make_client(tenants=tenants, fail_open=True)
    with caplog.at_level(logging.ERROR, logger="idleguard"):
        response = client.post("/login?tenant=acme")
    assert response.status == 500
    assert not any("Max-Age=0" not in cookie for cookie in response.all("set-cookie"))


def test_a_sign_out_the_store_did_not_record_is_not_reported_as_done(
    make_client: MakeClient, clock: SettableClock
) -> None:
    store = SwitchableStore(clock)
    client = make_client(store=store)
    client.post("/login")
    cookies = dict(client.cookies)
    store.down = True
    response = client.post("/_idleguard/logout", headers=CLIENT)
    assert response.status == 503
    assert response.json()["error"] == "store_unavailable"
    assert any("Max-Age=0" in cookie for cookie in response.all("set-cookie"))
    store.down = False

    def failing_end(key: str, reason: EndReason, now: float) -> SessionRecord | None:
        raise StoreUnavailable("gone")

    original_end = store.inner.end
    store.inner.end = failing_end  # type: ignore[method-assign]
    client.cookies = dict(cookies)
    response = client.post("/logout")
    assert response.status == 503, "the app's own sign-out is not claimed either"
    assert response.json()["error"] == "store_unavailable"
    store.inner.end = original_end  # type: ignore[method-assign]
    client.cookies = dict(cookies)
    assert client.get("/me").json()["user"] == "alice", "truthfully: the session was not ended"


# -- running out of room never makes a credential unguarded --------------------------------
def test_a_full_memory_store_drops_tombstones_before_live_sessions(clock: SettableClock) -> None:
    from idleguard.policy import Limits

    limits = Limits(900.0, None, 0.0)
    store = MemoryStore(maxsize=64, clock=clock)
    store.create("victim", SessionRecord("victim", None, clock(), clock(), clock()), limits)
    for index in range(200):
        key = f"k{index}"
        store.create(key, SessionRecord(f"user{index}", None, clock(), clock(), clock()), limits)
        store.end(key, EndReason.SIGNED_OUT, clock())
    decision, _ = store.check("victim", limits, False, clock())
    assert decision.alive, "the live session outlived 200 tombstones"


def test_a_denylist_never_loses_a_tombstone_for_room(clock: SettableClock) -> None:
    from idleguard.policy import Limits

    limits = Limits(900.0, None, 0.0)
    store = MemoryStore(maxsize=8, clock=clock, keep_tombstones=True)
    for index in range(8):
        store.create(f"k{index}", SessionRecord("u", None, clock(), clock(), clock()), limits)
        store.end(f"k{index}", EndReason.SIGNED_OUT, clock())
    with pytest.raises(StoreUnavailable, match="full"):
        store.create("new", SessionRecord("u", None, clock(), clock(), clock()), limits)
    for index in range(8):
        decision, _ = store.check(f"k{index}", limits, False, clock())
        assert decision.verdict.value == "ended"


def test_one_subject_cannot_push_everyone_else_out(clock: SettableClock) -> None:
    from idleguard.policy import Limits

    limits = Limits(900.0, None, 0.0)
    store = MemoryStore(maxsize=150, clock=clock, max_sessions_per_subject=10)
    store.create("victim", SessionRecord("victim", None, clock(), clock(), clock()), limits)
    for index in range(1000):
        store.create(f"m{index}", SessionRecord("mallory", None, clock(), clock(), clock()), limits)
    assert store.check("victim", limits, False, clock())[0].alive
    assert len(store.sessions_of("mallory", clock())) == 10
    assert store.check("m999", limits, False, clock())[0].alive, "the newest is kept"
    assert not store.check("m0", limits, False, clock())[0].alive


def test_a_form_posted_after_expiry_goes_to_the_sign_in_page(
    make_client: MakeClient, clock: SettableClock
) -> None:
    client = _signed_in(make_client)
    clock.advance(1000)
    navigation = {
        "accept": "text/html,application/xhtml+xml",
        "content-type": "application/x-www-form-urlencoded",
        "sec-fetch-mode": "navigate",
    }
    response = client.post("/logout", headers=navigation)
    assert response.status == 303
    location = response.header("location")
    assert location is not None
    assert location.startswith("/login?reason=idle")
    assert "next=" not in location, "a POST is never replayed as a GET"
    fetch = {**navigation, "sec-fetch-mode": "cors"}
    client = _signed_in(make_client)
    clock.advance(1000)
    assert client.post("/logout", headers=fetch).status == 401, "a script's request gets JSON"
