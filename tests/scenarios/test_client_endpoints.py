"""The client's endpoints, the same scenarios over the ASGI and the WSGI adapter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from idleguard import IdleGuardWSGI, Policy, client_script_url
from idleguard.endpoints import cross_site_reason
from idleguard.facts import RequestFacts
from idleguard.testing import EventCollector, SettableClock
from tests.apps import SECRET
from tests.harness import Harness, Response

from .conftest import MakeClient

HOST = "app.example"
SAME_ORIGIN = {"x-idleguard": "1", "origin": f"http://{HOST}", "sec-fetch-site": "same-origin"}
IDLE = 600.0
ABSOLUTE = 1000.0


POLICY = Policy(idle_timeout=IDLE, absolute_timeout=ABSOLUTE, warn_before=60)


class Browser:
    """A harness that sends what a browser on ``HOST`` sends to the client's endpoints."""

    def __init__(self, harness: Harness, clock: SettableClock, events: EventCollector) -> None:
        self.harness = harness
        self.clock = clock
        self.events = events

    def request(self, method: str, target: str, headers: dict[str, str] | None = None) -> Response:
        sent = {"host": HOST, "accept": "application/json", **(headers or {})}
        return self.harness.request(method, target, headers=sent)

    @property
    def signed_in(self) -> bool:
        return bool(self.harness.cookies)

    def sign_in(self) -> None:
        assert self.harness.post("/login").status == 200
        assert self.signed_in

    def status(self) -> dict[str, Any]:
        answer = self.request("GET", "/_idleguard/status?path=/")
        return {"http": answer.status, **answer.json()}


@pytest.fixture
def browser(make_client: MakeClient, clock: SettableClock, events: EventCollector) -> Browser:
    return Browser(make_client(policy=POLICY), clock, events)


@pytest.fixture
def make_browser(
    make_client: MakeClient, clock: SettableClock, events: EventCollector
) -> Callable[..., Browser]:
    def make(**options: Any) -> Browser:
        return Browser(make_client(policy=POLICY, **options), clock, events)

    return make


def test_status_is_passive(browser: Browser) -> None:
    browser.sign_in()
    browser.clock.advance(100)
    first = browser.status()
    browser.clock.advance(100)
    second = browser.status()
    assert first["idle_remaining"] == IDLE - 100
    assert second["idle_remaining"] == IDLE - 200
    assert second["warn_before"] == 60
    assert second["idle_timeout"] == IDLE
    assert second["absolute_timeout"] == ABSOLUTE
    assert second["absolute_remaining"] == ABSOLUTE - 200
    assert browser.events.of_type("session_extended") == []


def test_status_without_a_session_says_so(browser: Browser) -> None:
    assert browser.status() == {
        "http": 200,
        "active": False,
        "warn_before": 60,
        "idle_timeout": IDLE,
        "absolute_timeout": ABSOLUTE,
        "login_url": "/login",
    }


def test_status_reports_an_expiry_it_discovers(browser: Browser) -> None:
    browser.sign_in()
    browser.clock.advance(IDLE)
    status = browser.status()
    assert status == {"http": 401, "error": "session_expired", "reason": "idle"}
    assert not browser.signed_in
    assert browser.events.types() == ["session_started", "session_expired_inactivity"]


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("/_idleguard/status?path=//evil.example/", id="protocol-relative"),
        pytest.param("/_idleguard/status?path=https://evil.example/", id="absolute-url"),
        pytest.param("/_idleguard/status?path=/_idleguard/status", id="the-endpoint-itself"),
        pytest.param("/_idleguard/status?path=" + "a" * 3000, id="too-long"),
    ],
)
def test_status_refuses_a_path_that_is_not_a_local_page(browser: Browser, target: str) -> None:
    browser.sign_in()
    answer = browser.request("GET", target)
    assert answer.status == 400
    assert answer.json() == {"error": "bad_path"}


def test_keepalive_extends_and_reports_it(browser: Browser) -> None:
    browser.sign_in()
    browser.clock.advance(300)
    answer = browser.request("POST", "/_idleguard/keepalive?path=/", SAME_ORIGIN)
    assert answer.status == 200
    assert answer.json()["idle_remaining"] == IDLE
    assert answer.header("cache-control") == "no-store"
    extended = browser.events.of_type("session_extended")
    assert len(extended) == 1
    assert extended[0].metadata["touched"] is True
    assert extended[0].path == "/"


def test_keepalive_never_goes_past_the_absolute_limit(browser: Browser) -> None:
    browser.sign_in()
    for _ in range(3):
        browser.clock.advance(300)
        assert browser.request("POST", "/_idleguard/keepalive", SAME_ORIGIN).status == 200
    # 900 s in: the idle limit would allow 600 more, the absolute limit 100.
    body = browser.status()
    assert body["idle_remaining"] == ABSOLUTE - 900
    assert body["absolute_remaining"] == ABSOLUTE - 900
    browser.clock.advance(100)
    answer = browser.request("POST", "/_idleguard/keepalive", SAME_ORIGIN)
    assert answer.status == 401
    assert answer.json() == {"error": "session_expired", "reason": "absolute"}


def test_keepalive_never_revives_an_expired_session(browser: Browser) -> None:
    browser.sign_in()
    cookies = dict(browser.harness.cookies)
    browser.clock.advance(IDLE + 1)
    answer = browser.request("POST", "/_idleguard/keepalive", SAME_ORIGIN)
    assert answer.status == 401
    browser.harness.cookies.update(cookies)  # the old cookie, replayed
    again = browser.request("POST", "/_idleguard/keepalive", SAME_ORIGIN)
    assert again.status == 401
    assert again.json()["reason"] == "idle"
    assert browser.events.of_type("session_extended") == []
    assert len(browser.events.of_type("session_expired_inactivity")) == 1


def test_keepalive_without_a_session_is_refused(browser: Browser) -> None:
    answer = browser.request("POST", "/_idleguard/keepalive", SAME_ORIGIN)
    assert answer.status == 401
    assert answer.json() == {"error": "no_session"}


CROSS_SITE = [
    pytest.param({}, id="no-custom-header"),
    pytest.param({"x-idleguard": "0"}, id="custom-header-wrong"),
    pytest.param({"x-idleguard": "1", "sec-fetch-site": "cross-site"}, id="sec-fetch-cross-site"),
    pytest.param({"x-idleguard": "1", "origin": "https://evil.example"}, id="foreign-origin"),
    pytest.param({"x-idleguard": "1", "origin": "null"}, id="null-origin"),
    pytest.param({"x-idleguard": "1", "origin": f"http://{HOST}:8080"}, id="other-port"),
    pytest.param({"x-idleguard": "1", "origin": f"http://{HOST}.evil"}, id="suffix-host"),
    pytest.param({"x-idleguard": "1", "origin": "ftp://" + HOST}, id="other-scheme"),
]


@pytest.mark.parametrize("headers", CROSS_SITE)
@pytest.mark.parametrize("endpoint", ["keepalive", "logout"])
def test_cross_site_requests_are_refused(
    browser: Browser, endpoint: str, headers: dict[str, str]
) -> None:
    browser.sign_in()
    browser.clock.advance(300)
    answer = browser.request("POST", f"/_idleguard/{endpoint}", headers)
    assert answer.status == 403
    assert answer.json()["error"] == "cross_site"
    # Neither extended nor ended.
    assert browser.status()["idle_remaining"] == IDLE - 300
    assert browser.events.types() == ["session_started"]


@pytest.mark.parametrize(
    ("headers", "options"),
    [
        pytest.param({"x-idleguard": "1"}, {}, id="no-origin-header"),
        pytest.param(SAME_ORIGIN, {}, id="same-origin"),
        pytest.param(
            {"x-idleguard": "1", "origin": f"https://{HOST}", "host": f"{HOST}:443"},
            {},
            id="default-port",
        ),
        pytest.param(
            {"x-idleguard": "1", "origin": "https://front.example", "sec-fetch-site": "same-site"},
            {"trusted_origins": ["https://front.example"]},
            id="trusted-origin",
        ),
        pytest.param(
            {"x-idleguard": "1", "origin": "https://front.example", "sec-fetch-site": "same-site"},
            {"trusted_origins": ["https://front.example:443"]},
            id="trusted-origin-with-its-default-port",
        ),
    ],
)
def test_same_site_requests_are_served(
    make_browser: Callable[..., Browser], headers: dict[str, str], options: dict[str, Any]
) -> None:
    browser = make_browser(**options)
    browser.sign_in()
    browser.clock.advance(300)
    assert browser.request("POST", "/_idleguard/keepalive", headers).status == 200
    assert browser.status()["idle_remaining"] == IDLE


def test_logout_ends_the_session(browser: Browser) -> None:
    browser.sign_in()
    cookies = dict(browser.harness.cookies)
    answer = browser.request("POST", "/_idleguard/logout?path=/", SAME_ORIGIN)
    assert answer.status == 200
    assert answer.json() == {"active": False, "login_url": "/login"}
    assert answer.header("clear-site-data") == '"cookies"'
    assert not browser.signed_in
    assert browser.events.types() == ["session_started", "session_ended"]
    browser.harness.cookies.update(cookies)
    assert browser.status() == {"http": 401, "error": "session_expired", "reason": "signed_out"}


@pytest.mark.parametrize(
    ("method", "target", "status"),
    [
        pytest.param("POST", "/_idleguard/status", 405, id="status-post"),
        pytest.param("GET", "/_idleguard/keepalive", 405, id="keepalive-get"),
        pytest.param("GET", "/_idleguard/logout", 405, id="logout-get"),
        pytest.param("GET", "/_idleguard/nothing", 404, id="unknown"),
        pytest.param("POST", "/_idleguard/idleguard.js", 405, id="script-post"),
    ],
)
def test_wrong_method_or_name_gets_a_defined_answer(
    browser: Browser, method: str, target: str, status: int
) -> None:
    answer = browser.request(method, target, SAME_ORIGIN)
    assert answer.status == status
    assert "error" in answer.json()


def test_the_script_is_served_with_caching_and_a_content_hash(browser: Browser) -> None:
    hashed = browser.request("GET", client_script_url())
    plain = browser.request("GET", "/_idleguard/idleguard.js")
    stale = browser.request("GET", "/_idleguard/idleguard.000000000000.js")
    assert hashed.status == plain.status == stale.status == 200
    assert hashed.body == plain.body == stale.body
    assert hashed.header("cache-control") == "public, max-age=31536000, immutable"
    assert plain.header("cache-control") == "public, max-age=300"
    assert stale.header("cache-control") == "public, max-age=300"
    assert hashed.header("content-type") == "text/javascript; charset=utf-8"
    assert hashed.header("x-content-type-options") == "nosniff"
    assert b"X-Idleguard-Passive" in hashed.body


def test_the_module_form_exports_the_client(browser: Browser) -> None:
    module = browser.request("GET", client_script_url(module=True))
    assert module.status == 200
    assert module.body.endswith(b"export default idleguard;\n")
    assert module.header("cache-control") == "public, max-age=31536000, immutable"


def test_the_prefix_is_configurable(make_browser: Callable[..., Browser]) -> None:
    browser = make_browser(endpoint_prefix="/session")
    browser.sign_in()
    assert browser.request("GET", "/session/status").json()["active"] is True
    # The default prefix is now the app's own path, and the app has nothing there.
    assert browser.request("GET", "/_idleguard/status").status == 404


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param("_idleguard/", id="relative"),
        pytest.param("//evil/", id="protocol-relative"),
        pytest.param("/a\\b/", id="backslash"),
    ],
)
def test_a_bad_prefix_fails_at_start_up(prefix: str) -> None:
    with pytest.raises(ValueError, match="endpoint_prefix"):
        IdleGuardWSGI(lambda environ, start: [], secret_key=SECRET, endpoint_prefix=prefix)


@given(
    host=st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){1,2}(:[0-9]{1,5})?", fullmatch=True),
    scheme=st.sampled_from(["http", "https"]),
)
def test_an_origin_on_any_other_host_is_refused(host: str, scheme: str) -> None:
    assume(host != HOST)
    headers = {"x-idleguard": "1", "origin": f"{scheme}://{host}", "host": HOST}
    facts = RequestFacts("POST", "/_idleguard/keepalive", headers)
    assert cross_site_reason(facts, frozenset()) is not None
    same = {**headers, "host": host}
    assert cross_site_reason(RequestFacts("POST", "/", same), frozenset()) is None
