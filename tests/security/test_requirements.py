"""Session-management requirements, one named test each (docs/security-requirements.md maps them).

Ids: OWASP ASVS 4.0.3 chapter V3 and its 5.0 successor chapter V7; OWASP WSTG-SESS-07.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest

from idleguard.core import EndReason
from idleguard.identity import SESSION_ID_BYTES, SignedCookie, digest
from idleguard.stores import MemoryStore
from idleguard.testing import EventCollector, SettableClock
from tests.apps import SECRET, flask_app, starlette_app
from tests.harness import AsgiHarness, Harness, WsgiHarness

COOKIE = "__Host-idleguard"


@pytest.fixture(params=["asgi", "wsgi"])
def world(
    request: pytest.FixtureRequest,
) -> tuple[Harness, MemoryStore, SettableClock, EventCollector]:
    clock, events = SettableClock(), EventCollector()
    store = MemoryStore(clock=clock)
    client: Harness
    if request.param == "asgi":
        client = AsgiHarness(starlette_app(clock, store=store, on_event=events))
    else:
        client = WsgiHarness(flask_app(clock, store=store, on_event=events))
    return client, store, clock, events


def _key(client: Harness) -> str:
    key = SignedCookie(SECRET).key_for(client.cookies[COOKIE])
    assert key is not None
    return key


def test_asvs_v3_2_1_v7_2_4_new_token_on_authentication(
    world: tuple[Harness, MemoryStore, SettableClock, EventCollector],
) -> None:
    client, store, _, _ = world
    client.post("/login?user=ann")
    first = _key(client)
    client.post("/login?user=ann")  # re-authentication
    second = _key(client)
    assert first != second
    entry = store._cache[first]
    assert entry.ended is EndReason.SIGNED_OUT, "the previous token is terminated"


def test_asvs_v3_2_2_v7_2_3_tokens_have_at_least_128_bits_from_a_csprng() -> None:
    assert SESSION_ID_BYTES * 8 >= 128
    ids = [SignedCookie(SECRET).issue()[0].rsplit(".", 1)[0] for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    # Shannon entropy per character of URL-safe base64 output is close to 6 bits.
    counts = Counter("".join(ids))
    total = sum(counts.values())
    entropy = -sum(n / total * math.log2(n / total) for n in counts.values())
    assert entropy > 5.9


def test_asvs_v3_3_1_v7_4_1_wstg_sess_07_expiry_invalidates_on_the_server(
    world: tuple[Harness, MemoryStore, SettableClock, EventCollector],
) -> None:
    client, store, clock, _ = world
    client.post("/login")
    copy, key = dict(client.cookies), _key(client)
    clock.advance(900)
    assert client.get("/me").status == 401
    assert store._cache[key].ended is EndReason.IDLE, "the server-side record is gone"
    client.cookies = copy
    assert client.get("/me").status == 401, "a copy made before expiry is useless"


def test_asvs_v3_3_1_v7_4_1_logout_invalidates_on_the_server(
    world: tuple[Harness, MemoryStore, SettableClock, EventCollector],
) -> None:
    client, store, _, _ = world
    client.post("/login")
    copy, key = dict(client.cookies), _key(client)
    client.post("/logout")
    assert store._cache[key].ended is EndReason.SIGNED_OUT
    client.cookies = copy
    assert client.get("/me").status == 401, "a copy made before sign-out is useless"


def test_asvs_v3_3_2_v7_3_1_v7_3_2_idle_and_absolute_limits_are_enforced_server_side(
    world: tuple[Harness, MemoryStore, SettableClock, EventCollector],
) -> None:
    client, _, clock, events = world
    client.post("/login")
    clock.advance(899)
    assert client.get("/me").json()["user"] == "alice"
    for _ in range(16):  # active every 15 minutes, up to the 4-hour limit
        clock.advance(840)
        assert client.get("/me").status == 200
    clock.advance(61)  # 4 h after sign-in, active all along
    assert client.get("/me").status == 401
    assert "session_expired_absolute" in events.types()


def test_asvs_v3_3_3_v7_4_3_terminate_all_sessions_of_a_user(
    world: tuple[Harness, MemoryStore, SettableClock, EventCollector],
) -> None:
    client, store, clock, _ = world
    client.post("/login?user=ann")
    other: Harness
    if isinstance(client, AsgiHarness):
        other = AsgiHarness(client.app)
    else:
        assert isinstance(client, WsgiHarness)
        other = WsgiHarness(client.app)
    other.post("/login?user=ann")
    revoked = store.revoke_subject("ann", clock())
    assert len(revoked) == 2
    assert client.get("/me").json()["reason"] == "revoked"
    assert other.get("/me").status == 401


def test_asvs_v3_4_1_to_v3_4_4_cookie_attributes(
    world: tuple[Harness, MemoryStore, SettableClock, EventCollector],
) -> None:
    client, _, _, _ = world
    cookie = client.post("/login").all("set-cookie")[0]
    name, _, attributes = cookie.partition(";")
    assert name.startswith("__Host-")  # V3.4.4
    assert "; Secure" in cookie  # V3.4.1
    assert "; HttpOnly" in cookie  # V3.4.2
    assert "; SameSite=Lax" in cookie  # V3.4.3
    assert "Path=/" in attributes
    assert "Domain=" not in attributes


def test_asvs_v3_1_1_the_token_never_travels_in_the_url(
    world: tuple[Harness, MemoryStore, SettableClock, EventCollector],
) -> None:
    client, _, clock, _ = world
    client.post("/login")
    token = client.cookies[COOKIE]
    clock.advance(1000)
    response = client.get("/me", headers={"accept": "text/html"})
    assert token not in (response.header("location") or "")


def test_secrets_never_leave_in_events(
    world: tuple[Harness, MemoryStore, SettableClock, EventCollector],
) -> None:
    client, _, clock, events = world
    client.post("/login")
    token = client.cookies[COOKIE]
    session_id = token.rsplit(".", 1)[0]
    clock.advance(1000)
    client.get("/me")
    client.post("/login")
    client.post("/logout")
    text = repr([event.to_dict() for event in events.events])
    for secret in (token, session_id, digest(session_id)):
        assert secret not in text
