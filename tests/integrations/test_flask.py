"""The Flask extension: configuration from app.config, app factories, apps without Flask-Login."""

from __future__ import annotations

import pytest
from flask import Flask, render_template_string, request

import idleguard
from idleguard import IdleGuardWSGI, Policy
from idleguard.facts import ProxyTrust
from idleguard.integrations.flask import IdleGuard
from idleguard.testing import EventCollector, SettableClock

SECRET = "test-secret-key-0123456789abcdefghijklmnop"


def make_app(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET, IDLEGUARD_HTTPS_ONLY=False, **config)

    @app.post("/login")
    def login() -> str:
        idleguard.begin(request, subject="ann")
        return "signed in"

    @app.get("/me")
    def me() -> dict[str, object]:
        session = idleguard.current(request)
        return {"user": session.subject if session else None}

    @app.get("/page")
    def page() -> str:
        return render_template_string("{{ idleguard_script() }} {{ idleguard_script_path }}")

    return app


def guard_of(app: Flask) -> IdleGuardWSGI:
    guard = app.extensions["idleguard"]
    assert isinstance(guard, IdleGuardWSGI)
    return guard


def test_configured_from_app_config_and_arguments() -> None:
    app = make_app(IDLEGUARD_IDLE_TIMEOUT=600, IDLEGUARD_LOGIN_URL="/sign-in")
    IdleGuard(app, login_url="/elsewhere")
    settings = guard_of(app).settings
    assert settings.policy == Policy(idle_timeout=600)
    assert settings.login_url == "/elsewhere"
    assert app.wsgi_app is guard_of(app)


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        pytest.param("10.0.0.2", "203.0.113.4", id="through-the-proxy"),
        pytest.param("192.0.2.50", "192.0.2.50", id="direct-client-not-believed"),
    ],
)
def test_trusted_proxies_from_app_config(peer: str, expected: str) -> None:
    events = EventCollector()
    app = make_app(
        IDLEGUARD_TRUSTED_PROXIES=["10.0.0.0/8", "::1"],
        IDLEGUARD_TRUSTED_PROXY_DEPTH=1,
        IDLEGUARD_ON_EVENT=events,
    )
    IdleGuard(app)
    trust = guard_of(app).settings.proxy_trust
    assert trust == ProxyTrust.parse(["10.0.0.0/8", "::1"], 1)
    app.test_client().post(
        "/login",
        headers={"x-forwarded-for": "6.6.6.6, 203.0.113.4"},
        environ_base={"REMOTE_ADDR": peer},
    )
    (event,) = events.events
    assert event.client_ip == expected


def test_a_bad_trusted_proxy_in_app_config_fails_at_start_up() -> None:
    with pytest.raises(ValueError, match=r"trusted_proxies: '10\.0\.0\.300' is not"):
        IdleGuard(make_app(IDLEGUARD_TRUSTED_PROXIES=["10.0.0.300"]))


def test_an_unknown_key_fails_at_start_up() -> None:
    with pytest.raises(ValueError, match=r"app\.config: unknown idleguard setting 'idle'"):
        IdleGuard(make_app(IDLEGUARD_IDLE=600))


def test_a_short_flask_secret_is_refused() -> None:
    app = make_app()
    app.config["SECRET_KEY"] = "short"
    with pytest.raises(ValueError, match="at least 32 characters"):
        IdleGuard(app)


def test_app_factory_and_idle_expiry_without_flask_login() -> None:
    # Flask-Login is installed here but this app does not use it: nothing breaks.
    clock = SettableClock()
    extension = IdleGuard(clock=clock)
    app = make_app(IDLEGUARD_IDLE_TIMEOUT=600)
    extension.init_app(app)
    client = app.test_client()
    client.post("/login")
    assert client.get("/me").json == {"user": "ann"}
    clock.advance(600)
    expired = client.get("/me")
    assert expired.status_code == 401
    assert expired.json == {"error": "session_expired", "reason": "idle"}
    assert client.get("/me").json == {"user": None}


def test_template_globals() -> None:
    app = make_app()
    IdleGuard(app)
    page = app.test_client().get("/page").text
    assert page == (
        '<script src="/_idleguard/idleguard.js" defer></script> /_idleguard/idleguard.js'
    )


@pytest.mark.parametrize(
    ("accept", "status", "location"),
    [
        pytest.param("text/html", 303, "/reauth?next=/settings", id="browser"),
        pytest.param("application/json", 401, None, id="api"),
    ],
)
def test_fresh_auth_required_sends_a_browser_to_reauthenticate(
    accept: str, status: int, location: str | None
) -> None:
    from idleguard.integrations.flask import fresh_auth_required

    clock = SettableClock()
    app = make_app()

    @app.get("/settings")
    @fresh_auth_required(minutes=5)
    def settings_page() -> str:
        return "settings"

    IdleGuard(app, clock=clock, step_up_url="/reauth")
    client = app.test_client()
    client.post("/login")
    assert client.get("/settings", headers={"accept": accept}).status_code == 200
    clock.advance(301)
    response = client.get("/settings", headers={"accept": accept})
    assert response.status_code == status
    assert response.headers.get("location") == location
    assert response.headers["cache-control"] == "no-store"
