"""The Django example, served for real on 127.0.0.1 over WSGI (werkzeug) and ASGI (uvicorn)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from idleguard import Policy
from idleguard.testing import EventCollector, SettableClock
from tests.examples.servers import serve_asgi, serve_wsgi

HTML = {"accept": "text/html"}
PASSWORD = "demo"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from django.core.management import call_command

    from examples.django_project.wsgi import create_app

    path = tmp_path_factory.mktemp("django") / "db.sqlite3"
    os.environ["IDLEGUARD_DJANGO_DB"] = str(path)
    create_app()
    from django.conf import settings
    from django.db import connections

    # Settings load once per process: point the database at this module's file,
    # and let the cookies travel over the test's plain HTTP.
    settings.DATABASES["default"]["NAME"] = str(path)
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    connections.close_all()
    call_command("migrate", verbosity=0, interactive=False)
    yield path
    connections.close_all()
    del os.environ["IDLEGUARD_DJANGO_DB"]


@pytest.fixture(params=["wsgi", "asgi"])
def client(
    request: pytest.FixtureRequest, database: Path, clock: SettableClock, events: EventCollector
) -> Iterator[httpx.Client]:
    from examples.django_project.wsgi import create_app, create_asgi_app

    options = {
        "clock": clock,
        "on_event": events,
        "policy": Policy(idle_timeout=900, absolute_timeout=3600, warn_before=60),
        "https_only": False,
    }
    if request.param == "wsgi":
        server = serve_wsgi(create_app(**options))
    else:
        server = serve_asgi(create_asgi_app(**options))
    with server as base_url, httpx.Client(base_url=base_url) as client:
        yield client


def form_token(client: httpx.Client, path: str) -> str:
    match = CSRF.search(client.get(path, headers=HTML).text)
    assert match is not None
    return match.group(1)


def sign_in(client: httpx.Client, user: str = "ann", password: str = PASSWORD) -> httpx.Response:
    token = form_token(client, "/login")
    return client.post(
        "/login", data={"username": user, "password": password, "csrfmiddlewaretoken": token}
    )


def test_walk_through(client: httpx.Client, clock: SettableClock, events: EventCollector) -> None:
    assert client.get("/", headers=HTML).headers["location"].startswith("/login")
    assert sign_in(client, password="wrong").status_code == 401
    signed_in = sign_in(client)
    assert signed_in.status_code == 303
    home = client.get("/")
    assert "Hello, ann" in home.text
    assert "/_idleguard/idleguard.js" in home.text
    assert client.get("/api/me").json()["user"] == "ann"
    for _ in range(2):  # the passive poll never extends
        clock.advance(400)
        assert client.get("/api/notifications").status_code == 200
    clock.advance(100)
    expired = client.get("/api/me")
    assert expired.status_code == 401
    assert expired.json() == {"error": "session_expired", "reason": "idle"}
    # Django's session cookie is still there; the middleware logs that user out too.
    assert "sessionid" in client.cookies
    page = client.get("/", headers=HTML)
    assert page.status_code == 302
    assert page.headers["location"].startswith("/login")
    assert events.types() == ["session_started", "session_expired_inactivity"]


def test_sign_out(client: httpx.Client, events: EventCollector) -> None:
    sign_in(client)
    token = form_token(client, "/")
    response = client.post("/logout", data={"csrfmiddlewaretoken": token})
    assert response.status_code == 303
    assert response.headers["clear-site-data"] == '"cookies"'
    assert client.get("/api/me").status_code == 401
    assert client.get("/", headers=HTML).status_code == 302
    assert events.types() == ["session_started", "session_ended"]


def test_browser_sent_to_sign_in_with_the_reason(
    client: httpx.Client, clock: SettableClock
) -> None:
    sign_in(client)
    clock.advance(901)
    response = client.get("/", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?reason=idle&next=/"
    assert "Signed out: idle" in client.get(response.headers["location"]).text
