"""The Starlette example, served for real by uvicorn on 127.0.0.1: bearer tokens."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from examples.starlette_app import create_app
from idleguard import Policy
from idleguard.testing import EventCollector, SettableClock
from tests.examples.servers import serve_asgi


@pytest.fixture
def client(clock: SettableClock, events: EventCollector) -> Iterator[httpx.Client]:
    app = create_app(
        clock=clock,
        on_event=events,
        policy=Policy(idle_timeout=900, absolute_timeout=3600, warn_before=60),
    )
    with serve_asgi(app) as base_url, httpx.Client(base_url=base_url) as client:
        yield client


def sign_in(client: httpx.Client) -> dict[str, str]:
    response = client.post("/login", data={"username": "ann", "password": "demo"})
    assert response.status_code == 200
    return {"authorization": f"Bearer {response.json()['token']}"}


def test_walk_through(client: httpx.Client, clock: SettableClock, events: EventCollector) -> None:
    assert "Sign in" in client.get("/login").text
    assert client.post("/login", data={"username": "ann", "password": "x"}).status_code == 401
    assert client.get("/api/me").status_code == 401
    auth = sign_in(client)
    assert client.get("/", headers=auth).json() == {"message": "Hello, ann"}
    assert client.get("/api/me", headers=auth).json()["user"] == "ann"
    for _ in range(2):  # the passive poll never extends
        clock.advance(400)
        assert client.get("/api/notifications", headers=auth).status_code == 200
    clock.advance(100)
    expired = client.get("/api/me", headers=auth)
    assert expired.status_code == 401
    assert expired.json() == {"error": "session_expired", "reason": "idle"}
    # The same token stays refused: its digest is a tombstone now.
    assert client.get("/", headers=auth).json()["error"] == "session_expired"
    assert events.types() == ["session_started", "session_expired_inactivity"]


def test_sign_out(client: httpx.Client, events: EventCollector) -> None:
    auth = sign_in(client)
    assert client.post("/logout", headers=auth).json() == {"signed_out": True}
    refused = client.get("/api/me", headers=auth)
    assert refused.status_code == 401
    assert refused.json() == {"error": "session_expired", "reason": "signed_out"}
    assert events.types() == ["session_started", "session_ended"]


def test_each_sign_in_is_its_own_session(client: httpx.Client) -> None:
    first, second = sign_in(client), sign_in(client)
    client.post("/logout", headers=first)
    assert client.get("/api/me", headers=first).status_code == 401
    assert client.get("/api/me", headers=second).json()["user"] == "ann"
