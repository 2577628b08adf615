"""The Starlette example, served for real by uvicorn on 127.0.0.1: the app's own cookie."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from examples.starlette_app import COOKIE, create_app
from idleguard import Policy
from idleguard.testing import EventCollector, SettableClock
from tests.examples.servers import serve_asgi

HTML = {"accept": "text/html"}


@pytest.fixture
def base_url(clock: SettableClock, events: EventCollector) -> Iterator[str]:
    app = create_app(
        clock=clock,
        on_event=events,
        policy=Policy(idle_timeout=900, absolute_timeout=3600, warn_before=60),
        https_only=False,
    )
    with serve_asgi(app) as base_url:
        yield base_url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url) as client:
        yield client


def sign_in(client: httpx.Client, user: str = "ann") -> str:
    response = client.post("/login", data={"username": user, "password": "demo"})
    assert response.status_code == 303
    return client.cookies[COOKIE]


def test_walk_through(client: httpx.Client, clock: SettableClock, events: EventCollector) -> None:
    assert "/login?next=" in client.get("/", headers=HTML).headers["location"]
    assert "<h1>Sign in</h1>" in client.get("/login").text
    wrong = client.post("/login", data={"username": "ann", "password": "x"})
    assert wrong.status_code == 401
    assert 'role="alert">Wrong user or password.' in wrong.text
    assert 'value="ann"' in wrong.text
    assert client.get("/api/me").status_code == 401
    sign_in(client)
    assert "<h1>Hello, ann</h1>" in client.get("/").text
    assert client.get("/api/me").json()["user"] == "ann"
    for _ in range(2):  # the passive poll never extends
        clock.advance(400)
        assert client.get("/api/notifications").status_code == 200
    clock.advance(100)
    token = client.cookies[COOKIE]
    expired = client.get("/api/me")
    assert expired.status_code == 401
    assert expired.json() == {"error": "session_expired", "reason": "idle"}
    # The app's own cookie is cleared, and the same token stays refused: its digest
    # is a tombstone now.
    assert COOKIE not in client.cookies
    replayed = httpx.get(f"{client.base_url}/", headers=HTML, cookies={COOKIE: token})
    assert replayed.headers["location"] == "/login?reason=idle&next=/"
    notice = client.get(replayed.headers["location"]).text
    assert "You were signed out after 15 minutes without activity." in notice
    assert events.types() == ["session_started", "session_expired_inactivity"]


def test_sign_out(client: httpx.Client, events: EventCollector) -> None:
    token = sign_in(client)
    response = client.post("/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?reason=signed_out"
    assert "You signed out." in client.get(response.headers["location"]).text
    refused = httpx.get(f"{client.base_url}/api/me", cookies={COOKIE: token})
    assert refused.status_code == 401
    assert refused.json() == {"error": "session_expired", "reason": "signed_out"}
    assert events.types() == ["session_started", "session_ended"]


def test_each_sign_in_is_its_own_session(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as first, httpx.Client(base_url=base_url) as second:
        sign_in(first)
        sign_in(second, "bob")
        first.post("/logout")
        assert first.get("/api/me").status_code == 401
        assert second.get("/api/me").json()["user"] == "bob"


def test_a_token_the_app_never_issued_is_refused(base_url: str, events: EventCollector) -> None:
    planted = httpx.get(f"{base_url}/api/me", cookies={COOKIE: "made-up-token"})
    assert planted.status_code == 401
    assert planted.json()["error"] == "session_expired"
    assert events.types() == []
