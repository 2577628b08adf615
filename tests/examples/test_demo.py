"""The demo that ``make demo`` serves: sign-in, protected page, passive poll, idle expiry, sign-out."""

from __future__ import annotations

import httpx
import pytest

from examples.fastapi_app import create_app
from idleguard import Policy
from idleguard.testing import EventCollector, SettableClock


@pytest.fixture
async def client(clock: SettableClock, events: EventCollector) -> httpx.AsyncClient:
    app = create_app(
        clock=clock,
        on_event=events,
        policy=Policy(idle_timeout=900, absolute_timeout=3600, warn_before=60),
        https_only=False,
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo")


async def test_walk_through(
    client: httpx.AsyncClient, clock: SettableClock, events: EventCollector
) -> None:
    assert (await client.get("/", headers={"accept": "text/html"})).status_code == 303
    assert "Sign in" in (await client.get("/login")).text
    wrong = await client.post("/login", data={"username": "ann", "password": "nope"})
    assert wrong.status_code == 401
    signed_in = await client.post("/login", data={"username": "ann", "password": "demo"})
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/"
    assert "Hello, ann" in (await client.get("/")).text
    assert (await client.get("/api/me")).json()["user"] == "ann"
    for _ in range(2):  # the passive poll never extends
        clock.advance(400)
        assert (await client.get("/api/notifications")).status_code == 200
    clock.advance(100)  # 900 s since the last real activity
    expired = await client.get("/api/me")
    assert expired.status_code == 401
    assert expired.json() == {"error": "session_expired", "reason": "idle"}
    page = await client.get("/", headers={"accept": "text/html"})
    assert page.status_code == 303
    assert events.types() == ["session_started", "session_expired_inactivity"]


@pytest.mark.parametrize(
    ("language", "words"),
    [
        pytest.param("en", "You were signed out after 15 minutes without activity.", id="en"),
        pytest.param("fr-FR,fr;q=0.9", "Votre session a été fermée après 15 minutes", id="fr"),
    ],
)
async def test_the_sign_in_page_says_why_in_words(
    client: httpx.AsyncClient, language: str, words: str
) -> None:
    page = await client.get("/login?reason=idle", headers={"accept-language": language})
    assert words in page.text
    assert "idle" not in page.text.split("<main>", 1)[1]  # the code itself is not shown


async def test_sign_out(client: httpx.AsyncClient, events: EventCollector) -> None:
    await client.post("/login", data={"username": "ann", "password": "demo"})
    response = await client.post("/logout")
    assert response.status_code == 303
    assert response.headers["clear-site-data"] == '"cookies"'
    assert (await client.get("/api/me")).status_code == 401
    assert events.types() == ["session_started", "session_ended"]


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDLEGUARD_IDLE_TIMEOUT", "300")
    monkeypatch.setenv("IDLEGUARD_WARN_BEFORE", "30")
    monkeypatch.setenv("IDLEGUARD_STORE", "memory://?maxsize=10")
    app = create_app()
    middleware = app.user_middleware[0]
    assert middleware.kwargs["policy"] == Policy(idle_timeout=300, warn_before=30)
    assert middleware.kwargs["store"] == "memory://?maxsize=10"
