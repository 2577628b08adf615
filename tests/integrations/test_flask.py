"""The Flask extension: configuration from app.config, app factories, apps without Flask-Login,
and a Flask-Login login bound to its idleguard session."""

from __future__ import annotations

import dataclasses
from typing import Any

import flask_login
import pytest
from flask import Flask, render_template_string, request
from flask.testing import FlaskClient

import idleguard
from idleguard import IdleGuardWSGI, Policy
from idleguard.endpoints import client_script_url
from idleguard.facts import ProxyTrust
from idleguard.integrations import BINDING_SESSION_KEY
from idleguard.integrations.flask import IdleGuard
from idleguard.settings import Settings
from idleguard.stores import MemoryStore
from idleguard.testing import EventCollector, SettableClock
from tests.switchable import SwitchableStore

SECRET = "test-secret-key-0123456789abcdefghijklmnop"


def make_app(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update({"SECRET_KEY": SECRET, "IDLEGUARD_HTTPS_ONLY": False, **config})

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


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param(
            {"IDLEGUARD_IDLE_TIMOUT": 600},
            "app.config['IDLEGUARD_IDLE_TIMOUT']: unknown idleguard setting; "
            "did you mean IDLEGUARD_IDLE_TIMEOUT?",
            id="typo",
        ),
        pytest.param(
            {"IDLEGUARD_IDLE": 600},
            "app.config['IDLEGUARD_IDLE']: unknown idleguard setting (like none of them: "
            "the settings are listed in idleguard's Configuration docs)",
            id="like-no-setting",
        ),
        pytest.param(
            {"IDLEGUARD_IDLE_TIMEOUT": "soon"},
            "app.config['IDLEGUARD_IDLE_TIMEOUT']: 'soon' is not a duration: write seconds "
            "(900), or a length such as 15m, 8h, 90s, 1h30m",
            id="not-a-duration",
        ),
        pytest.param(
            {"IDLEGUARD_IDLE_TIMEOUT": "10h"},
            "app.config['IDLEGUARD_IDLE_TIMEOUT']: idle_timeout (36000 s) is longer than "
            "absolute_timeout (28800 s): the idle limit could never be reached; shorten it or "
            "lengthen absolute_timeout",
            id="policy-refused",
        ),
        pytest.param(
            {"IDLEGUARD_POLICY": "pci-dsss"},
            "app.config['IDLEGUARD_POLICY']: unknown policy preset 'pci-dsss'; did you mean",
            id="preset-typo",
        ),
        pytest.param(
            {"IDLEGUARD_LOGIN_URL": "//evil.example"},
            "app.config['IDLEGUARD_LOGIN_URL']: login_url '//evil.example' is refused",
            id="url-refused",
        ),
        pytest.param(
            {"SECRET_KEY": "dev"},
            "app.config['SECRET_KEY'] (it signs idleguard's cookie: no IDLEGUARD_SECRET_KEY): "
            "every secret_key must be at least 32 characters",
            id="short-flask-secret",
        ),
        pytest.param(
            {"IDLEGUARD_SECRET_KEY": "dev"},
            "app.config['IDLEGUARD_SECRET_KEY']: every secret_key must be at least 32 characters",
            id="short-idleguard-secret",
        ),
    ],
)
def test_a_mistake_names_the_key_as_written(config: dict[str, object], message: str) -> None:
    with pytest.raises(idleguard.ConfigError) as refused:
        IdleGuard(make_app(**config))
    assert str(refused.value).startswith(message)


def test_a_mistake_in_the_arguments_names_the_argument() -> None:
    with pytest.raises(
        idleguard.ConfigError,
        match=r"^IdleGuard\(idle_timout=\.\.\.\): unknown idleguard setting; did you mean "
        r"idle_timeout\?$",
    ):
        IdleGuard(make_app(), idle_timout=600)
    with pytest.raises(
        idleguard.ConfigError, match=r"^init_app\(secret_key=\.\.\.\): every secret_key"
    ):
        IdleGuard().init_app(make_app(), secret_key="short")


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param({"IDLEGUARD_IDLE_TIMEOUT": "15m"}, Policy(idle_timeout=900), id="minutes"),
        pytest.param(
            {"IDLEGUARD_POLICY": "pci-dss", "IDLEGUARD_ABSOLUTE_TIMEOUT": "1h30m"},
            Policy(idle_timeout=900, absolute_timeout=5400),
            id="over-a-preset",
        ),
        pytest.param(
            {"IDLEGUARD_IDLE_TIMEOUT": 60},
            Policy(idle_timeout=60, warn_before=30),
            id="short-limit-alone",
        ),
    ],
)
def test_durations_from_app_config(config: dict[str, object], expected: Policy) -> None:
    app = make_app(**config)
    IdleGuard(app)
    assert guard_of(app).settings.policy == expected


def test_settings_built_once_are_used_as_they_are() -> None:
    settings = Settings(secret_key=SECRET, https_only=False)
    app = make_app()
    IdleGuard(app, settings=settings)
    assert guard_of(app).settings is settings


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
    src = client_script_url()
    assert page == f'<script src="{src}" defer></script> /_idleguard/idleguard.js'


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


# -- Flask-Login: a login is served only with the idleguard session it began -----------------


@dataclasses.dataclass
class Member:
    """A Flask-Login user: anyone, by name."""

    id: str
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return self.id


def make_login_app(clock: SettableClock, store: SwitchableStore, **options: Any) -> Flask:
    """An app with Flask-Login; ``/public`` is exempt, and ``whoami`` shows both views of a user."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET, IDLEGUARD_HTTPS_ONLY=False, IDLEGUARD_IDLE_TIMEOUT=600)
    flask_login.LoginManager(app).user_loader(Member)

    @app.post("/login/<name>")
    def login(name: str) -> str:
        flask_login.login_user(Member(name), remember=request.args.get("remember") == "1")
        return "signed in"

    @app.post("/logout")
    def logout() -> str:
        flask_login.logout_user()
        return "signed out"

    def whoami() -> dict[str, object]:
        session = idleguard.current(request)
        return {
            "user": flask_login.current_user.get_id(),
            "session": session.subject if session else None,
        }

    app.add_url_rule("/whoami", "whoami", whoami)
    app.add_url_rule("/public/whoami", "public_whoami", whoami)
    IdleGuard(app, clock=clock, store=store, exempt_paths=["/public"], **options)
    return app


SIGNED_OUT = {"user": None, "session": None}


@pytest.fixture
def store(clock: SettableClock) -> SwitchableStore:
    return SwitchableStore(clock)


@pytest.fixture
def login_app(clock: SettableClock, store: SwitchableStore, events: EventCollector) -> Flask:
    return make_login_app(clock, store, on_event=events)


def signed_in(app: Flask, name: str) -> FlaskClient:
    client = app.test_client()
    assert client.post(f"/login/{name}").status_code == 200
    return client


def cookie(client: FlaskClient, name: str) -> str:
    found = client.get_cookie(name)
    assert found is not None
    return found.value


def whoami(client: FlaskClient, path: str = "/whoami", **headers: str) -> Any:
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    return response.json


def test_a_bound_login_is_served_until_sign_out(
    login_app: Flask, clock: SettableClock, events: EventCollector
) -> None:
    alice = signed_in(login_app, "alice")
    for _ in range(3):
        clock.advance(500)  # under the idle limit each time, 25 minutes in all
        assert whoami(alice) == {"user": "alice", "session": "alice"}
    assert alice.post("/logout").status_code == 200
    assert alice.get_cookie("idleguard") is None
    assert whoami(alice) == SIGNED_OUT
    assert events.types() == ["session_started", "session_ended"]


def test_the_login_records_its_session_by_keyed_tag(login_app: Flask) -> None:
    alice = signed_in(login_app, "alice")
    credential = cookie(alice, "idleguard")
    settings = guard_of(login_app).settings
    key = settings.identity.key_for(credential)
    assert key is not None
    with alice.session_transaction() as flask_session:
        recorded = flask_session[BINDING_SESSION_KEY]
    assert recorded == settings.tag(key)
    assert recorded not in (credential, key)


@pytest.mark.parametrize(
    ("login_of", "session_of"),
    [
        pytest.param("alice", "mallory", id="another-users-session"),
        pytest.param("mallory", "alice", id="another-users-login"),
        pytest.param("alice", "alice-elsewhere", id="another-session-of-the-same-user"),
    ],
)
def test_a_login_presented_beside_another_session_is_signed_out(
    login_app: Flask, login_of: str, session_of: str
) -> None:
    browsers = {
        "alice": signed_in(login_app, "alice"),
        "mallory": signed_in(login_app, "mallory"),
        "alice-elsewhere": signed_in(login_app, "alice"),
    }
    mixed = login_app.test_client(use_cookies=False)
    pair = (
        f"session={cookie(browsers[login_of], 'session')}; "
        f"idleguard={cookie(browsers[session_of], 'idleguard')}"
    )
    assert whoami(mixed, cookie=pair) == SIGNED_OUT
    # The browser whose login was copied keeps it: only the copy was signed out.
    name = login_of.partition("-")[0]
    assert whoami(browsers[login_of]) == {"user": name, "session": name}


def test_a_login_that_recorded_no_session_is_signed_out(login_app: Flask) -> None:
    # As a login made before bindings were recorded would be.
    alice = signed_in(login_app, "alice")
    with alice.session_transaction() as flask_session:
        flask_session.pop(BINDING_SESSION_KEY, None)
    assert whoami(alice) == SIGNED_OUT


def test_a_login_restored_from_remember_me_is_signed_out(login_app: Flask) -> None:
    alice = login_app.test_client()
    alice.post("/login/alice?remember=1")
    assert alice.get_cookie("remember_token") is not None
    alice.delete_cookie("session")  # the browser was closed: only the long-lived cookies stay
    assert whoami(alice) == SIGNED_OUT
    assert alice.get_cookie("remember_token") is None


def test_a_login_whose_session_expired_is_signed_out(
    login_app: Flask, clock: SettableClock
) -> None:
    alice = signed_in(login_app, "alice")
    clock.advance(600)
    assert alice.get("/whoami").json == {"error": "session_expired", "reason": "idle"}
    assert whoami(alice) == SIGNED_OUT
    with alice.session_transaction() as flask_session:
        assert "_user_id" not in flask_session
        assert BINDING_SESSION_KEY not in flask_session


def test_an_exempt_request_without_the_session_is_served_signed_out(
    login_app: Flask, store: SwitchableStore
) -> None:
    alice = signed_in(login_app, "alice")
    alice.delete_cookie("idleguard")
    assert whoami(alice, "/public/whoami") == SIGNED_OUT
    assert store.ended == []  # idleguard did not look, so it ends nothing


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        pytest.param("/public/whoami", {}, id="exempt-path"),
        pytest.param("/whoami", {"x-api-key": "anything"}, id="api-key"),
    ],
)
def test_an_exempt_request_presenting_the_session_is_checked_and_served(
    login_app: Flask, store: SwitchableStore, path: str, headers: dict[str, str]
) -> None:
    alice = signed_in(login_app, "alice")
    assert whoami(alice, path, **headers)["user"] == "alice"
    assert store.ended == []


def test_a_login_is_not_served_unguarded(
    clock: SettableClock, store: SwitchableStore, events: EventCollector
) -> None:
    app = make_login_app(clock, store, on_event=events, fail_open=True)
    alice = signed_in(app, "alice")
    store.down = True
    assert whoami(alice) == SIGNED_OUT
    assert events.types() == ["session_started", "store_unavailable"]
    assert store.ended == []  # no write for a session the store could not vouch for
    assert alice.get_cookie("idleguard") is None  # but the browser forgets it
    store.down = False
    assert whoami(alice) == SIGNED_OUT


def test_a_login_whose_session_is_gone_writes_nothing(
    login_app: Flask, clock: SettableClock, store: SwitchableStore
) -> None:
    alice = signed_in(login_app, "alice")
    store.inner = MemoryStore(clock=clock)  # the store lost its records (a restart)
    assert whoami(alice) == SIGNED_OUT
    assert store.ended == []
    assert alice.get_cookie("idleguard") is None


def test_the_script_tag_follows_the_endpoint_prefix_and_the_mount() -> None:
    from flask import render_template_string

    app = Flask(__name__)
    app.config.update(SECRET_KEY="x" * 40, IDLEGUARD_ENDPOINT_PREFIX="/session/")
    IdleGuard(app, flask_login=False)
    app.get("/")(lambda: render_template_string("{{ idleguard_script() }}"))
    client = app.test_client()
    page = client.get("/", base_url="https://localhost").text
    src = client_script_url("/session/")
    assert f'src="{src}"' in page
    assert client.get(src, base_url="https://localhost").status_code == 200
    mounted = client.get("/", base_url="https://localhost/app").text
    assert f'src="/app{src}"' in mounted
