"""The Flask example, served for real on 127.0.0.1: sign-in, idle expiry, step-up, sign-out."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from examples.flask_app import create_app
from idleguard import Policy, client_script_url
from idleguard.testing import EventCollector, SettableClock
from tests.examples.servers import serve_wsgi

HTML = {"accept": "text/html"}


@pytest.fixture
def client(clock: SettableClock, events: EventCollector) -> Iterator[httpx.Client]:
    app = create_app(
        clock=clock,
        on_event=events,
        policy=Policy(idle_timeout=900, absolute_timeout=3600, warn_before=60),
        https_only=False,
    )
    app.config["SESSION_COOKIE_SECURE"] = False
    with serve_wsgi(app) as base_url, httpx.Client(base_url=base_url) as client:
        yield client


def sign_in(client: httpx.Client, user: str = "ann") -> httpx.Response:
    return client.post("/login", data={"username": user, "password": "demo"})


def test_walk_through(client: httpx.Client, clock: SettableClock, events: EventCollector) -> None:
    assert client.get("/", headers=HTML).headers["location"].startswith("/login")
    assert client_script_url() in client.get("/login").text
    assert client.post("/login", data={"username": "ann", "password": "x"}).status_code == 401
    signed_in = sign_in(client)
    assert signed_in.status_code == 303
    assert "Hello, ann" in client.get("/").text
    assert client.get("/api/me").json()["user"] == "ann"
    # --8<-- [start:passive]
    for _ in range(2):  # the passive poll never extends
        clock.advance(400)
        assert client.get("/api/notifications").status_code == 200
    clock.advance(100)  # 900 s since the last real activity
    expired = client.get("/api/me")
    assert expired.status_code == 401
    assert expired.json() == {"error": "session_expired", "reason": "idle"}
    # --8<-- [end:passive]
    # Flask-Login's cookie is still there; the extension logs that user out too.
    assert "session" in client.cookies
    page = client.get("/", headers=HTML)
    assert page.status_code == 302
    assert page.headers["location"].startswith("/login")
    assert client.get("/api/me").json() == {"error": "not_signed_in"}
    assert events.types() == ["session_started", "session_expired_inactivity"]


def test_sign_out(client: httpx.Client, events: EventCollector) -> None:
    sign_in(client)
    response = client.post("/logout")
    assert response.status_code == 303
    assert response.headers["clear-site-data"] == '"cookies"'
    assert client.get("/api/me").status_code == 401
    assert events.types() == ["session_started", "session_ended"]


@pytest.mark.parametrize(
    ("minutes_since_sign_in", "status", "body"),
    [
        pytest.param(4, 200, {"export": "ready"}, id="fresh"),
        pytest.param(
            6,
            401,
            {"error": "step_up_required", "rule": "view:/api/export", "max_age": 300},
            id="stale",
        ),
    ],
)
def test_fresh_auth_required(
    client: httpx.Client,
    clock: SettableClock,
    minutes_since_sign_in: int,
    status: int,
    body: dict[str, object],
    events: EventCollector,
) -> None:
    sign_in(client)
    for _ in range(minutes_since_sign_in):  # active all along: only the sign-in ages
        clock.advance(60)
        assert client.get("/api/me").status_code == 200
    response = client.post("/api/export")
    assert response.status_code == status
    assert response.json() == body
    assert len(events.of_type("step_up_required")) == (status == 401)


def test_a_second_sign_in_replaces_the_session(client: httpx.Client) -> None:
    sign_in(client, "ann")
    first = client.cookies["idleguard"]
    sign_in(client, "bob")
    assert client.cookies["idleguard"] != first
    assert client.get("/api/me").json()["user"] == "bob"


def test_a_login_beside_another_users_session_is_signed_out(client: httpx.Client) -> None:
    sign_in(client, "alice")
    with (
        httpx.Client(base_url=client.base_url) as mallory,
        httpx.Client(base_url=client.base_url) as mixed,
    ):
        sign_in(mallory, "mallory")
        pair = f"session={client.cookies['session']}; idleguard={mallory.cookies['idleguard']}"
        page = mixed.get("/", headers={**HTML, "cookie": pair})
        assert page.status_code == 302
        assert page.headers["location"].startswith("/login")
        assert "alice" not in page.text
    assert "Hello, alice" in client.get("/").text  # alice's own browser is still signed in


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        pytest.param("/", HTML, 302, id="page"),
        pytest.param("/api/me", {}, 401, id="api"),
    ],
)
def test_an_api_key_without_the_session_cookie_is_served_signed_out(
    client: httpx.Client, path: str, headers: dict[str, str], status: int
) -> None:
    sign_in(client)
    # The Flask login alone, with an API key: idleguard has no session to vouch for.
    client.cookies.delete("idleguard")
    response = client.get(path, headers={**headers, "x-api-key": "a-key"})
    assert response.status_code == status
    assert "ann" not in response.text
    if status == 401:
        assert response.json() == {"error": "not_signed_in"}


def test_an_api_key_beside_an_expired_session_revives_nothing(
    client: httpx.Client, clock: SettableClock
) -> None:
    sign_in(client)
    clock.advance(1000)  # past the example's idle limit
    for path, headers in (("/", HTML), ("/api/me", {})):
        response = client.get(path, headers={**headers, "x-api-key": "anything"})
        assert response.status_code in (303, 401)
        assert "ann" not in response.text
