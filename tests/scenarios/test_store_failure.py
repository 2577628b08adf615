"""A store that cannot answer: a defined response, an event, never a 500, never a session kept alive."""

from __future__ import annotations

from idleguard.core import EndReason, SessionRecord
from idleguard.stores import StoreUnavailable
from idleguard.testing import EventCollector, SettableClock
from tests.scenarios.conftest import MakeClient
from tests.switchable import SwitchableStore


def test_fail_closed_by_default(
    make_client: MakeClient, clock: SettableClock, events: EventCollector
) -> None:
    store = SwitchableStore(clock)
    client = make_client(store=store)
    client.post("/login")
    store.down = True
    response = client.get("/me")
    assert response.status == 503
    assert response.json() == {"error": "store_unavailable"}
    assert events.types()[-1] == "store_unavailable"
    assert events.events[-1].metadata["fail_open"] is False
    store.down = False
    assert client.get("/me").json()["user"] == "alice", "works again without a restart"


def test_fail_open_serves_unguarded_and_says_so(
    make_client: MakeClient, clock: SettableClock, events: EventCollector
) -> None:
    store = SwitchableStore(clock)
    client = make_client(store=store, fail_open=True)
    client.post("/login")
    store.down = True
    response = client.get("/me")
    assert response.status == 200
    assert response.json()["user"] is None, "unguarded: the app sees no session"
    assert events.events[-1].metadata["fail_open"] is True


def test_sign_out_with_the_store_down_still_clears_the_cookie(
    make_client: MakeClient, clock: SettableClock, events: EventCollector
) -> None:
    store = SwitchableStore(clock)
    client = make_client(store=store)
    client.post("/login")
    original_end = store.inner.end

    def failing_end(key: str, reason: EndReason, now: float) -> SessionRecord | None:
        raise StoreUnavailable("gone")

    store.inner.end = failing_end  # type: ignore[method-assign]
    response = client.post("/logout")
    assert any("Max-Age=0" in header for header in response.all("set-cookie"))
    assert "store_unavailable" in events.types()
    store.inner.end = original_end  # type: ignore[method-assign]


def test_sign_in_with_the_store_down_hands_out_no_cookie(
    make_client: MakeClient, clock: SettableClock, events: EventCollector
) -> None:
    store = SwitchableStore(clock)
    client = make_client(store=store)
    store.down = True
    response = client.post("/login")
    assert response.status == 503, "the app's 200 would claim a sign-in that did not happen"
    assert response.json() == {"error": "store_unavailable"}
    assert not any("Max-Age=0" not in cookie for cookie in response.all("set-cookie")), (
        "no session cookie is handed out, only cleared"
    )
    assert events.types() == ["store_unavailable"]
