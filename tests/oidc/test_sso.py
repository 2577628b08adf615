"""Single sign-on end to end: the example app over ASGI and WSGI against a real OpenID Provider."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from examples.oidc_app import create_app, create_flask_app
from idleguard import PathRule, Policy
from idleguard.testing import EventCollector
from tests.oidc.conftest import (
    CLIENT_SECRET,
    SECRET_KEY,
    Browser,
    LogoutRecorder,
    OffsetClock,
    OpenIDProviderServer,
    is_sign_in_form,
    serving,
    wait_for,
)
from tests.servers import RedisServer, ServerUnavailable, unavailable

IDLE = 60.0


class Site:
    def __init__(
        self, url: str, clock: OffsetClock, events: EventCollector, logouts: LogoutRecorder
    ) -> None:
        self.url = url
        self.clock = clock
        self.events = events
        #: The back-channel logout requests the provider sent, with the status each got.
        self.logouts = logouts


@contextlib.contextmanager
def site(
    provider: OpenIDProviderServer, slot: int, kind: str, store: str = "memory://", **options: Any
) -> Iterator[Site]:
    port = provider.app_ports[slot]
    url = f"http://127.0.0.1:{port}"
    clock = OffsetClock()
    events = EventCollector()
    factory: Any = create_flask_app if kind == "wsgi" else create_app
    app = factory(
        issuer=provider.url,
        client_id=f"app{slot}",
        client_secret=CLIENT_SECRET,
        app_url=url,
        secret_key=SECRET_KEY,
        clock=clock,
        store=store,
        on_event=events,
        https_only=False,
        policy=Policy(idle_timeout=IDLE, absolute_timeout=3600, warn_before=10),
        **options,
    )
    provider.set_offset(0)
    settings = app.wsgi_app.settings if kind == "wsgi" else app.settings
    logouts = LogoutRecorder()
    served_app = logouts.wsgi(app) if kind == "wsgi" else logouts.asgi(app)
    try:
        with serving(served_app, port, wsgi=kind == "wsgi") as served:
            yield Site(served, clock, events, logouts)
    finally:
        settings.identity_provider.close()
        settings.store.close()
        provider.set_offset(0)


@pytest.fixture
def browser() -> Iterator[Browser]:
    client = Browser()
    yield client
    client.close()


KINDS = [pytest.param("asgi", id="asgi"), pytest.param("wsgi", id="wsgi")]


@pytest.mark.parametrize("kind", KINDS)
def test_idle_sign_out_ends_the_provider_session(
    provider: OpenIDProviderServer, browser: Browser, kind: str
) -> None:
    with site(provider, 0, kind) as app:
        home = browser.sign_in(app.url + "/login/start")
        assert "Signed in as alice" in home.text
        # Signed in at the provider: a fresh authorization goes through without a form.
        again = browser.http.get(app.url + "/login/start")
        assert "/auth?" in again.headers["location"]
        app.clock.offset = IDLE + 1
        landed = browser.follow(app.url + "/")
        assert landed.url.path == "/login", landed.url
        assert landed.url.params["reason"] == "idle"
        assert landed.url.params.get("next") == "/"
        # The provider's session is gone: signing in asks for credentials again.
        page = browser.follow(app.url + "/login/start")
        assert is_sign_in_form(page)
        assert [event.type.value for event in app.events.events][-1] == (
            "session_expired_inactivity"
        )


@pytest.mark.parametrize("kind", KINDS)
def test_an_api_client_gets_the_logout_url(
    provider: OpenIDProviderServer, browser: Browser, kind: str
) -> None:
    with site(provider, 1, kind) as app:
        browser.sign_in(app.url + "/login/start")
        app.clock.offset = IDLE + 1
        response = browser.http.get(app.url + "/", headers={"accept": "application/json"})
        assert response.status_code == 401
        body = response.json()
        assert body["reason"] == "idle"
        logout = httpx.URL(body["logout_url"])
        assert str(logout).startswith(provider.url + "/session/end")
        assert logout.params["post_logout_redirect_uri"] == app.url + "/_idleguard/signed-out"
        assert logout.params["id_token_hint"].count(".") == 2
        assert "idleguard" not in response.headers.get("set-cookie", "").split("=")[1:2]


def _backchannel(provider: OpenIDProviderServer, browser: Browser, app: Site) -> None:
    browser.sign_in(app.url + "/login/start")
    assert "Signed in as alice" in browser.http.get(app.url + "/").text
    # The user signs out at the provider itself (no id_token_hint: the provider's own page).
    browser.follow(provider.url + "/session/end")
    try:
        wait_for(lambda: bool(app.events.of_type("session_ended")), "the back-channel logout")
    except AssertionError:
        raise AssertionError(provider.log()[-3000:]) from None
    ended = app.events.of_type("session_ended")
    assert [event.reason for event in ended] == ["idp_logout"]
    response = browser.http.get(app.url + "/", headers={"accept": "application/json"})
    assert response.status_code == 401
    assert response.json()["reason"] == "idp_logout"


@pytest.mark.parametrize("kind", KINDS)
def test_backchannel_logout_on_the_memory_store(
    provider: OpenIDProviderServer, browser: Browser, kind: str
) -> None:
    with site(provider, 2, kind) as app:
        _backchannel(provider, browser, app)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    try:
        server = RedisServer()
        server.start()
    except ServerUnavailable as error:
        unavailable("redis-server", error)
    yield server
    server.close()


@pytest.mark.redis
@pytest.mark.parametrize("kind", KINDS)
def test_backchannel_logout_on_redis(
    provider: OpenIDProviderServer, browser: Browser, redis_server: RedisServer, kind: str
) -> None:
    with site(provider, 3, kind, store=redis_server.url) as app:
        _backchannel(provider, browser, app)


#: Short rules: the provider's clock moves with the app's, and the app's OAuth client checks
#: the id token's iat against its own wall clock (a few minutes of leeway).
STEP_UP_RULES = [
    pytest.param(
        PathRule("/billing", authenticated_within=30), (20, 40), id="authenticated_within"
    ),
    pytest.param(PathRule("/billing", idle_timeout=30, on_exceed="step_up"), (40,), id="idle"),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("rule", "steps"), STEP_UP_RULES)
def test_step_up_needs_a_fresh_auth_time(
    provider: OpenIDProviderServer,
    browser: Browser,
    kind: str,
    rule: PathRule,
    steps: tuple[int, ...],
) -> None:
    with site(provider, 0, kind, rules=[rule]) as app:
        browser.sign_in(app.url + "/login/start")
        for step in steps:
            app.clock.offset = step
            provider.set_offset(step)
            if step != steps[-1]:  # activity on the way, not right before (idle rule)
                assert browser.http.get(app.url + "/").status_code == 200
        refused = browser.http.get(app.url + "/billing", headers={"accept": "text/html"})
        assert refused.status_code == 303
        assert refused.headers["location"].startswith("/step-up")
        # The step-up asks for max_age=0; a user agent that drops it gets a silent SSO
        # answer with the old auth_time, which must not count.
        asked = browser.http.get(app.url + "/step-up?next=/billing")
        authorize = httpx.URL(asked.headers["location"])
        assert authorize.params["max_age"] == "0"
        assert authorize.params["prompt"] == "login"
        assert authorize.params["acr_values"] == "urn:idleguard:mfa"
        params = {
            k: v
            for k, v in authorize.params.items()
            if k not in ("max_age", "prompt", "acr_values")
        }
        stale = browser.follow(str(authorize.copy_with(params=params)))
        assert stale.status_code == 403
        assert "auth_time" in stale.text
        assert "Signed in as mallory" not in browser.http.get(app.url + "/").text
        # Done properly: the provider asks for credentials, and the answer is accepted.
        page = browser.follow(app.url + "/step-up?next=/billing")
        assert is_sign_in_form(page)
        done = browser.submit_sign_in(page)
        assert done.status_code == 200
        assert 'id="billing"' in done.text
        assert app.events.of_type("reauthenticated")


@pytest.mark.parametrize("kind", KINDS)
def test_step_up_by_another_user_is_refused(
    provider: OpenIDProviderServer, browser: Browser, kind: str
) -> None:
    with site(provider, 1, kind) as app:
        browser.sign_in(app.url + "/login/start")
        page = browser.follow(app.url + "/step-up?next=/billing")
        answer = browser.submit_sign_in(page, login="mallory")
        # Another account at the provider ends alice's provider session (and, by back-channel
        # logout, her session here); either way the step-up is not granted to her session.
        assert 'id="billing"' not in answer.text
        assert not app.events.of_type("reauthenticated")
        assert "Signed in as mallory" not in browser.http.get(app.url + "/").text


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "on_redis",
    [pytest.param(False, id="memory"), pytest.param(True, id="redis", marks=pytest.mark.redis)],
)
def test_the_providers_logout_tokens_replayed_or_for_another_client_change_nothing(
    provider: OpenIDProviderServer,
    browser: Browser,
    request: pytest.FixtureRequest,
    kind: str,
    on_redis: bool,
) -> None:
    store = request.getfixturevalue("redis_server").url if on_redis else "memory://"
    with site(provider, 0, kind, store=store) as app:
        browser.sign_in(app.url + "/login/start")
        # The same user signs in to another client of the provider, whose back-channel URI
        # (misconfigured, or an attacker's choice) is this app's: its tokens' aud is "other".
        other = browser.http.get(
            provider.url + "/auth",
            params={
                "client_id": "other",
                "response_type": "code",
                "scope": "openid",
                "redirect_uri": app.url + "/other",
                "nonce": "n",
                "state": "s",
            },
        )
        assert other.is_redirect
        assert "/other?code=" in other.headers["location"]
        browser.follow(provider.url + "/session/end")
        wait_for(lambda: len(app.logouts.calls) == 2, "both back-channel logouts")
        statuses = sorted(status for _, status in app.logouts.calls)
        assert statuses == [200, 400]
        assert [event.reason for event in app.events.of_type("session_ended")] == ["idp_logout"]
        # The accepted token, sent again, is refused and ends nothing more.
        accepted = next(body for body, status in app.logouts.calls if status == 200)
        replayed = httpx.post(
            app.url + "/_idleguard/backchannel-logout",
            content=accepted,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert replayed.status_code == 400
        assert "used before" in replayed.json()["error_description"]
        assert len(app.events.of_type("session_ended")) == 1
