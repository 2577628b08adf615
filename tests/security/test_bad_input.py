"""Bad input gets a defined answer: no 500, no crash, no session kept alive, no store query for junk.

OWASP ASVS 4.0.3 V3.2.1/V3.2.2 (ids from a CSPRNG, at least 128 bits), V3.4.1-V3.4.5 (cookie
attributes); WSTG-SESS-07 (session timeout).
"""

from __future__ import annotations

import asyncio
import random
import re
import string
from typing import Any

import pytest

from idleguard import IdleGuard, IdleGuardWSGI, Policy
from idleguard.core import EndReason, SessionRecord
from idleguard.facts import api_keys
from idleguard.identity import SignedCookie
from idleguard.policy import Limits
from idleguard.stores import MemoryStore
from idleguard.stores.base import Check
from idleguard.testing import SettableClock
from tests.apps import SECRET, flask_app, starlette_app
from tests.harness import AsgiHarness, Harness, WsgiHarness

COOKIE = "__Host-idleguard"
FUZZ_REQUESTS = 50_000  # per adapter: 100,000 in all


class CountingStore(MemoryStore):
    """A real memory store that counts the queries it answers."""

    def __init__(self, clock: SettableClock) -> None:
        super().__init__(clock=clock)
        self.calls: list[str] = []

    def check(self, key: str, limits: Limits, activity: bool, now: float) -> Check:
        self.calls.append("check")
        return super().check(key, limits, activity, now)

    def create(self, key: str, record: SessionRecord, limits: Limits) -> None:
        self.calls.append("create")
        super().create(key, record, limits)

    def end(self, key: str, reason: EndReason, now: float) -> SessionRecord | None:
        self.calls.append("end")
        return super().end(key, reason, now)


@pytest.fixture(params=["asgi", "wsgi"])
def setup(request: pytest.FixtureRequest) -> tuple[Harness, CountingStore, SettableClock]:
    clock = SettableClock()
    store = CountingStore(clock)
    if request.param == "asgi":
        return AsgiHarness(starlette_app(clock, store=store)), store, clock
    return WsgiHarness(flask_app(clock, store=store)), store, clock


JUNK_IDS = [
    pytest.param("a/b", id="slash"),
    pytest.param("a\\b", id="backslash"),
    pytest.param("..", id="dot-dot"),
    pytest.param("../../x.sig", id="traversal"),
    pytest.param("abc\x01def", id="control"),
    pytest.param("J" * 10_240, id="10KB"),
    pytest.param("\u00ff\u00fe", id="non-utf8-bytes"),
    pytest.param(SignedCookie("x" * 40).issue()[0], id="signed-elsewhere"),
]


@pytest.mark.parametrize("cookie", JUNK_IDS)
def test_junk_ids_are_no_session_without_a_store_query(
    setup: tuple[Harness, CountingStore, SettableClock], cookie: str
) -> None:
    client, store, _ = setup
    client.cookies[COOKIE] = cookie
    response = client.get("/me")
    assert response.status == 200
    assert response.json()["user"] is None
    assert store.calls == [], "junk never reaches the store"
    assert len(store) == 0, "and creates no record"


def test_a_well_formed_id_never_issued_creates_nothing(
    setup: tuple[Harness, CountingStore, SettableClock],
) -> None:
    client, store, _ = setup
    client.cookies[COOKIE] = SignedCookie(SECRET).issue()[0]  # signed, never stored
    assert client.get("/me").json()["user"] is None
    assert store.calls == ["check"]
    assert len(store) == 0


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/me%0d%0aSet-Cookie:%20x=1", id="crlf"),
        pytest.param("//evil.example/me", id="protocol-relative"),
        pytest.param("/\\evil.example", id="backslash-host"),
    ],
)
def test_the_redirect_is_never_open_or_injected(
    setup: tuple[Harness, CountingStore, SettableClock], path: str
) -> None:
    client, _, clock = setup
    client.post("/login")
    clock.advance(10_000)
    response = client.get(path, headers={"accept": "text/html"})
    assert response.status == 303
    location = response.header("location") or ""
    assert location.startswith("/login?reason=idle")
    assert "\r" not in location
    assert "\n" not in location
    assert "//evil" not in location
    assert "\\" not in location
    assert len(response.all("set-cookie")) == 1, "no header was injected"


@pytest.mark.parametrize(
    "login_url",
    [
        pytest.param("//evil.example/login", id="protocol-relative"),
        pytest.param("javascript:alert(1)", id="javascript"),
        pytest.param("/login\r\nX: y", id="crlf"),
        pytest.param("login", id="relative"),
        pytest.param("/\\evil.example", id="slash-backslash"),
        pytest.param("\\/evil.example", id="backslash-slash"),
        pytest.param("https://evil.example\\@good.example", id="backslash-before-at"),
        pytest.param("https://good.example@evil.example", id="userinfo"),
        pytest.param("/login\t", id="tab"),
        pytest.param("https:///evil.example", id="no-host"),
    ],
)
def test_a_dangerous_login_url_fails_at_start_up(login_url: str) -> None:
    with pytest.raises(ValueError, match="login_url"):
        IdleGuard(lambda *_: None, secret_key=SECRET, login_url=login_url)  # type: ignore[arg-type]


@pytest.mark.parametrize("middleware", [IdleGuard, IdleGuardWSGI], ids=["asgi", "wsgi"])
@pytest.mark.parametrize(
    ("setting", "value", "bad"),
    [
        pytest.param("login_url", "/\\evil.example", "/\\evil.example", id="login_url"),
        pytest.param("step_up_url", "/\\evil.example", "/\\evil.example", id="step_up_url"),
        pytest.param(
            "step_up_url",
            "/reauth\r\nSet-Cookie: x=1",
            "/reauth\r\nSet-Cookie: x=1",
            id="step_up_url-crlf",
        ),
        pytest.param(
            "step_up_url",
            "https://good.example@evil.example",
            "https://good.example@evil.example",
            id="step_up_url-userinfo",
        ),
        pytest.param("endpoint_prefix", "/_idle\nguard/", "/_idle\nguard/", id="endpoint_prefix"),
        pytest.param(
            "trusted_origins",
            ["https://front.example", "https://front.example/app"],
            "https://front.example/app",
            id="trusted_origins-path",
        ),
        pytest.param("trusted_origins", ["null"], "null", id="trusted_origins-null"),
    ],
)
def test_every_url_setting_is_held_to_the_same_rules(
    middleware: Any, setting: str, value: Any, bad: str
) -> None:
    # The message names the setting and the refused value first, whichever module checked it.
    with pytest.raises(ValueError, match=f"^{re.escape(f'{setting} {bad!r} is refused: ')}"):
        middleware(lambda *_: None, secret_key=SECRET, **{setting: value})


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="no-secret"),
        pytest.param({"secret_key": "short"}, id="short-secret"),
        pytest.param({"secret_key": SECRET, "passive_paths": "/poll"}, id="paths-as-string"),
        pytest.param({"secret_key": SECRET, "exempt_paths": ["health"]}, id="relative-path"),
        pytest.param({"secret_key": SECRET, "store": "nosuch://x"}, id="unknown-store"),
        pytest.param({"secret_key": SECRET, "policy": "15m-typo"}, id="policy-not-a-policy"),
        pytest.param({"secret_key": SECRET, "store_timeout": 0}, id="zero-timeout"),
    ],
)
def test_a_misconfiguration_fails_at_start_up(options: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        IdleGuardWSGI(lambda *_: [], **options)


def test_api_keys_are_checked_when_asked() -> None:
    known = api_keys(["k-right"])
    assert known({"x-api-key": "k-right"})
    assert known({"authorization": "ApiKey k-right"})
    assert not known({"x-api-key": "k-wrong"})
    assert not known({"authorization": "Bearer k-right"})
    assert not known({})
    with pytest.raises(ValueError, match="non-empty"):
        api_keys([""])


def test_nothing_in_the_package_deserializes_with_pickle() -> None:
    import pathlib

    import idleguard

    package = pathlib.Path(idleguard.__file__).parent
    sources = [path.read_text() for path in package.rglob("*.py")]
    for banned in ("import pickle", "pickle.loads", "marshal.loads", "yaml.load(", "shelve"):
        assert not any(banned in source for source in sources), banned


# -- the fuzz run -----------------------------------------------------------------------------
def _junk(rng: random.Random, valid: str) -> str:
    choice = rng.randrange(9)
    if choice == 0:
        return valid[: rng.randrange(len(valid))]  # truncated
    if choice == 1:
        position = rng.randrange(len(valid))
        return valid[:position] + rng.choice(string.printable) + valid[position + 1 :]  # tampered
    if choice == 2:
        return "x" * rng.choice((4096, 16_384, 70_000))  # oversized
    if choice == 3:
        return "".join(chr(rng.randrange(0x80, 0x100)) for _ in range(rng.randrange(1, 60)))
    if choice == 4:
        return f"{valid}; {COOKIE}={valid[::-1]}"  # duplicated with another value
    if choice == 5:
        return "".join(rng.choice(string.printable) for _ in range(rng.randrange(0, 80)))
    if choice == 6:
        return SignedCookie("rotated-out-" + "k" * 30).issue()[0]
    if choice == 7:
        return valid + "=" * rng.randrange(1, 5)
    return valid


def _fuzz_request(rng: random.Random, valid: str) -> tuple[str, str, dict[str, str]]:
    method = rng.choice(["GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "GET"])
    path = rng.choice(
        ["/me", "/poll", "/api/data", "//me", "/me/%2e%2e/poll", "/%ff", "/me?x=%00", "/\\x"]
    )
    headers: dict[str, str] = {"cookie": f"{COOKIE}={_junk(rng, valid)}"}
    if rng.random() < 0.3:
        headers["authorization"] = rng.choice(
            ["Bearer", "Bearer ", "ApiKey", "Basic ???", "Bearer " + "a" * 9000, "\x00", ""]
        )
    if rng.random() < 0.3:
        headers["accept"] = rng.choice(["text/html", "*/*", "application/json", "\u00ff"])
    if rng.random() < 0.2:
        headers["x-idleguard-passive"] = rng.choice(["1", "0", "yes", ""])
    if rng.random() < 0.1:
        headers["content-length"] = rng.choice(["-1", "99999999999999999999", "abc"])
    return method, path, headers


def test_fuzz_wsgi() -> None:
    clock = SettableClock()
    store = MemoryStore(clock=clock)
    client = WsgiHarness(flask_app(clock, store=store))
    client.post("/login")
    valid = client.cookies[COOKIE]
    rng = random.Random(20261123)
    for _ in range(FUZZ_REQUESTS):
        method, path, headers = _fuzz_request(rng, valid)
        response = client.request(method, path, headers=headers, cookies=False)
        assert response.status < 500, (method, path, headers)
    assert len(store) == 1, "no junk request created a record"


def test_fuzz_asgi() -> None:
    clock = SettableClock()
    store = MemoryStore(clock=clock)
    client = AsgiHarness(starlette_app(clock, store=store))
    client.post("/login")
    valid = client.cookies[COOKIE]
    rng = random.Random(20261124)

    async def run() -> None:
        for _ in range(FUZZ_REQUESTS):
            method, path, headers = _fuzz_request(rng, valid)
            if "content-length" in headers:
                del headers["content-length"]  # the harness streams a real body for ASGI
            response = await client.send_async(method, path, headers, [])
            assert response.status < 500, (method, path, headers)

    asyncio.run(run())
    assert len(store) == 1


def test_policy_with_nothing_to_guard_still_refuses_junk() -> None:
    clock = SettableClock()
    client = WsgiHarness(flask_app(clock, policy=Policy(idle_timeout=None, absolute_timeout=None)))
    client.cookies[COOKIE] = "junk"
    assert client.get("/me").json()["user"] is None
