"""The client's endpoints, the same scenarios over the ASGI and the WSGI adapter."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import idleguard
from idleguard import IdleGuard, IdleGuardWSGI, Policy, client_script_url
from idleguard.endpoints import cross_site_reason
from idleguard.facts import RequestFacts
from idleguard.testing import EventCollector, SettableClock

SECRET = "x" * 40
HOST = "app.example"
SAME_ORIGIN = {"x-idleguard": "1", "origin": f"http://{HOST}", "sec-fetch-site": "same-origin"}
IDLE = 600.0
ABSOLUTE = 1000.0


class Answer:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name]
        return values[-1] if values else None

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


# -- two tiny apps: POST /login begins a session, anything else answers "app" ----------
async def asgi_app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    if scope["path"] == "/login":
        idleguard.begin(scope, subject="ann")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"app"})


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/login":
        idleguard.begin(environ, subject="ann")
    start_response("200 OK", [])
    return [b"app"]


class Client:
    """One browser against one adapter: keeps the cookie, speaks raw ASGI or WSGI."""

    def __init__(self, kind: str, **options: Any) -> None:
        self.clock = SettableClock()
        self.events = EventCollector()
        settings: dict[str, Any] = {
            "secret_key": SECRET,
            "clock": self.clock,
            "on_event": self.events,
            "https_only": False,
            "policy": Policy(idle_timeout=IDLE, absolute_timeout=ABSOLUTE, warn_before=60),
            **options,
        }
        self.kind = kind
        self.app: Any = (
            IdleGuard(asgi_app, **settings)
            if kind == "asgi"
            else IdleGuardWSGI(wsgi_app, **settings)
        )
        self.cookie: str | None = None

    def request(self, method: str, target: str, headers: dict[str, str] | None = None) -> Answer:
        path, _, query = target.partition("?")
        sent = {"host": HOST, "accept": "application/json", **(headers or {})}
        if self.cookie is not None:
            sent["cookie"] = self.cookie
        answer = (self._asgi if self.kind == "asgi" else self._wsgi)(method, path, query, sent)
        cookie = answer.header("set-cookie")
        if cookie is not None:
            value = cookie.split(";", 1)[0]
            self.cookie = None if value.endswith("=") else value
        return answer

    def _asgi(self, method: str, path: str, query: str, headers: dict[str, str]) -> Answer:
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "query_string": query.encode(),
            "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 5000),
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        asyncio.run(self.app(scope, receive, send))
        start = sent[0]
        raw = [(k.decode(), v.decode()) for k, v in start["headers"]]
        return Answer(start["status"], raw, b"".join(m.get("body", b"") for m in sent[1:]))

    def _wsgi(self, method: str, path: str, query: str, headers: dict[str, str]) -> Answer:
        import io

        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(),
        }
        for name, value in headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        started: list[Any] = []

        def start_response(
            status: str, response_headers: list[tuple[str, str]], _: Any = None
        ) -> Any:
            started.extend([int(status.split()[0]), response_headers])
            return lambda data: None

        body = b"".join(self.app(environ, start_response))
        return Answer(started[0], started[1], body)

    def sign_in(self) -> None:
        assert self.request("POST", "/login").status == 200
        assert self.cookie is not None

    def status(self) -> dict[str, Any]:
        answer = self.request("GET", "/_idleguard/status?path=/")
        return {"http": answer.status, **answer.json()}


@pytest.fixture(params=["asgi", "wsgi"])
def client(request: pytest.FixtureRequest) -> Client:
    return Client(request.param)


def test_status_is_passive(client: Client) -> None:
    client.sign_in()
    client.clock.advance(100)
    first = client.status()
    client.clock.advance(100)
    second = client.status()
    assert first["idle_remaining"] == IDLE - 100
    assert second["idle_remaining"] == IDLE - 200
    assert second["warn_before"] == 60
    assert second["idle_timeout"] == IDLE
    assert second["absolute_timeout"] == ABSOLUTE
    assert second["absolute_remaining"] == ABSOLUTE - 200
    assert client.events.of_type("session_extended") == []


def test_status_without_a_session_says_so(client: Client) -> None:
    assert client.status() == {
        "http": 200,
        "active": False,
        "warn_before": 60,
        "idle_timeout": IDLE,
        "absolute_timeout": ABSOLUTE,
        "login_url": "/login",
    }


def test_status_reports_an_expiry_it_discovers(client: Client) -> None:
    client.sign_in()
    client.clock.advance(IDLE)
    status = client.status()
    assert status == {"http": 401, "error": "session_expired", "reason": "idle"}
    assert client.cookie is None
    assert client.events.types() == ["session_started", "session_expired_inactivity"]


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("/_idleguard/status?path=//evil.example/", id="protocol-relative"),
        pytest.param("/_idleguard/status?path=https://evil.example/", id="absolute-url"),
        pytest.param("/_idleguard/status?path=/_idleguard/status", id="the-endpoint-itself"),
        pytest.param("/_idleguard/status?path=" + "a" * 3000, id="too-long"),
    ],
)
def test_status_refuses_a_path_that_is_not_a_local_page(client: Client, target: str) -> None:
    client.sign_in()
    answer = client.request("GET", target)
    assert answer.status == 400
    assert answer.json() == {"error": "bad_path"}


def test_keepalive_extends_and_reports_it(client: Client) -> None:
    client.sign_in()
    client.clock.advance(300)
    answer = client.request("POST", "/_idleguard/keepalive?path=/", SAME_ORIGIN)
    assert answer.status == 200
    assert answer.json()["idle_remaining"] == IDLE
    assert answer.header("cache-control") == "no-store"
    extended = client.events.of_type("session_extended")
    assert len(extended) == 1
    assert extended[0].metadata["touched"] is True
    assert extended[0].path == "/"


def test_keepalive_never_goes_past_the_absolute_limit(client: Client) -> None:
    client.sign_in()
    for _ in range(3):
        client.clock.advance(300)
        assert client.request("POST", "/_idleguard/keepalive", SAME_ORIGIN).status == 200
    # 900 s in: the idle limit would allow 600 more, the absolute limit 100.
    body = client.status()
    assert body["idle_remaining"] == ABSOLUTE - 900
    assert body["absolute_remaining"] == ABSOLUTE - 900
    client.clock.advance(100)
    answer = client.request("POST", "/_idleguard/keepalive", SAME_ORIGIN)
    assert answer.status == 401
    assert answer.json() == {"error": "session_expired", "reason": "absolute"}


def test_keepalive_never_revives_an_expired_session(client: Client) -> None:
    client.sign_in()
    cookie = client.cookie
    client.clock.advance(IDLE + 1)
    answer = client.request("POST", "/_idleguard/keepalive", SAME_ORIGIN)
    assert answer.status == 401
    client.cookie = cookie  # the old cookie, replayed
    again = client.request("POST", "/_idleguard/keepalive", SAME_ORIGIN)
    assert again.status == 401
    assert again.json()["reason"] == "idle"
    assert client.events.of_type("session_extended") == []
    assert len(client.events.of_type("session_expired_inactivity")) == 1


def test_keepalive_without_a_session_is_refused(client: Client) -> None:
    answer = client.request("POST", "/_idleguard/keepalive", SAME_ORIGIN)
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
    client: Client, endpoint: str, headers: dict[str, str]
) -> None:
    client.sign_in()
    client.clock.advance(300)
    answer = client.request("POST", f"/_idleguard/{endpoint}", headers)
    assert answer.status == 403
    assert answer.json()["error"] == "cross_site"
    # Neither extended nor ended.
    assert client.status()["idle_remaining"] == IDLE - 300
    assert client.events.types() == ["session_started"]


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
    ],
)
@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_same_site_requests_are_served(
    kind: str, headers: dict[str, str], options: dict[str, Any]
) -> None:
    client = Client(kind, **options)
    client.sign_in()
    client.clock.advance(300)
    assert client.request("POST", "/_idleguard/keepalive", headers).status == 200
    assert client.status()["idle_remaining"] == IDLE


def test_logout_ends_the_session(client: Client) -> None:
    client.sign_in()
    cookie = client.cookie
    answer = client.request("POST", "/_idleguard/logout?path=/", SAME_ORIGIN)
    assert answer.status == 200
    assert answer.json() == {"active": False, "login_url": "/login"}
    assert answer.header("clear-site-data") == '"cookies"'
    assert client.cookie is None
    assert client.events.types() == ["session_started", "session_ended"]
    client.cookie = cookie
    assert client.status() == {"http": 401, "error": "session_expired", "reason": "signed_out"}


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
    client: Client, method: str, target: str, status: int
) -> None:
    answer = client.request(method, target, SAME_ORIGIN)
    assert answer.status == status
    assert "error" in answer.json()


def test_the_script_is_served_with_caching_and_a_content_hash(client: Client) -> None:
    hashed = client.request("GET", client_script_url())
    plain = client.request("GET", "/_idleguard/idleguard.js")
    stale = client.request("GET", "/_idleguard/idleguard.000000000000.js")
    assert hashed.status == plain.status == stale.status == 200
    assert hashed.body == plain.body == stale.body
    assert hashed.header("cache-control") == "public, max-age=31536000, immutable"
    assert plain.header("cache-control") == "public, max-age=300"
    assert stale.header("cache-control") == "public, max-age=300"
    assert hashed.header("content-type") == "text/javascript; charset=utf-8"
    assert hashed.header("x-content-type-options") == "nosniff"
    assert b"X-Idleguard-Passive" in hashed.body


def test_the_module_form_exports_the_client(client: Client) -> None:
    module = client.request("GET", client_script_url(module=True))
    assert module.status == 200
    assert module.body.endswith(b"export default idleguard;\n")
    assert module.header("cache-control") == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_the_prefix_is_configurable(kind: str) -> None:
    client = Client(kind, endpoint_prefix="/session")
    client.sign_in()
    assert client.request("GET", "/session/status").json()["active"] is True
    # The default prefix is now the app's own path.
    assert client.request("GET", "/_idleguard/status").body == b"app"


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
        IdleGuardWSGI(wsgi_app, secret_key=SECRET, endpoint_prefix=prefix)


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
