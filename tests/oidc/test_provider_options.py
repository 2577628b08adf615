"""`OpenIDProvider` in process: where its entries live on each store, what it asks and refuses.

No provider runs here: the discovery document and keys are given (`metadata=`,
`jwks=`), the tokens signed with a key of the test's, the app driven over ASGI.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import idleguard
from idleguard import ConfigError, IdleGuard, Policy
from idleguard.api import context_of
from idleguard.integrations.oidc import AuthenticationRefused, OpenIDProvider
from idleguard.stores.cookie import CookieStore
from idleguard.testing import EventCollector, SettableClock
from tests.oidc.test_logout_tokens import ISSUER, KEY, METADATA, token
from tests.switchable import SwitchableStore

SECRET = "x" * 32
ABSOLUTE = 3600.0


def provider(**options: Any) -> OpenIDProvider:
    return OpenIDProvider(
        ISSUER,
        "app",
        app_url="https://app.example",
        metadata=METADATA,
        jwks={"keys": [KEY.as_dict(private=False)]},
        **options,
    )


def id_token(auth_time: float, sid: str = "sid-1") -> dict[str, Any]:
    # What Authlib's authorize_access_token returns: the raw token and its checked claims.
    return {
        "id_token": "header.payload.signature",
        "userinfo": {"sub": "alice", "sid": sid, "auth_time": int(auth_time), "iss": ISSUER},
    }


def app_with(oidc: OpenIDProvider, **options: Any) -> tuple[IdleGuard, list[float]]:
    clock = [time.time()]

    async def sign_in(request: Request) -> JSONResponse:
        auth_time = float(request.query_params.get("auth_time", clock[0]))
        try:
            await oidc.asigned_in(request, id_token(auth_time))
        except AuthenticationRefused as error:
            return JSONResponse({"refused": str(error)}, 403)
        return JSONResponse({"ok": True, "params": oidc.sign_in_params(request)})

    async def home(request: Request) -> JSONResponse:
        return JSONResponse(context_of(request).explain())

    async def local_sign_in(request: Request) -> JSONResponse:
        idleguard.begin(request, "bob")  # signed in without the provider
        return JSONResponse({"ok": True})

    async def step_up(request: Request) -> JSONResponse:
        return JSONResponse(await oidc.astep_up_params(request))

    inner = Starlette(
        routes=[
            Route("/sign-in", sign_in),
            Route("/local-sign-in", local_sign_in),
            Route("/step-up", step_up),
            Route("/", home),
        ]
    )
    guard = IdleGuard(
        inner,
        secret_key=SECRET,
        identity_provider=oidc,
        https_only=False,
        clock=lambda: clock[0],
        policy=Policy(idle_timeout=60, absolute_timeout=ABSOLUTE, warn_before=10),
        **options,
    )
    return guard, clock


def client(app: IdleGuard) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app")


@pytest.mark.parametrize(
    ("store", "options"),
    [
        pytest.param("cookie://", {}, id="cookie"),
        pytest.param("sqlite:///:memory:", {}, id="sql"),
    ],
)
def test_a_store_without_room_for_the_entries_needs_a_ledger(
    store: str, options: dict[str, Any]
) -> None:
    with pytest.raises(ConfigError, match="ledger="):
        IdleGuard(Starlette(), secret_key=SECRET, store=store, identity_provider=provider())


@pytest.mark.redis
def test_local_decisions_keep_the_ledger_beside_their_redis(redis_url: str) -> None:
    guard = IdleGuard(
        Starlette(),
        secret_key=SECRET,
        store=f"{redis_url}?local_decisions=1",
        identity_provider=provider(),
    )
    guard.guard.store.close()


def test_beside_a_cluster_the_ledger_is_named() -> None:
    # One Redis server holds the ledger; a Cluster's slots would scatter it.
    with pytest.raises(ConfigError, match="Cluster or Sentinel store pass ledger="):
        IdleGuard(
            Starlette(),
            secret_key=SECRET,
            store="redis+cluster://127.0.0.1:1/",
            identity_provider=provider(),
        )


def test_the_cookie_store_with_a_denylist_or_a_named_ledger_works() -> None:
    IdleGuard(
        Starlette(),
        secret_key=SECRET,
        store=CookieStore(SECRET, denylist="memory://"),
        identity_provider=provider(),
    )
    IdleGuard(
        Starlette(),
        secret_key=SECRET,
        store="cookie://",
        identity_provider=provider(ledger="memory://"),
    )


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"app_url": "https://app.example/?a=1"}, id="app-url-query"),
        pytest.param({"app_url": "app.example"}, id="app-url-no-scheme"),
        pytest.param({"end_session_on": ["idel"]}, id="unknown-reason"),
        pytest.param({"ledger": "postgresql://db"}, id="ledger-url"),
        pytest.param({"jwks": {"keys": []}}, id="empty-jwks"),
        pytest.param({"jwks": {"keys": [{"kty": "nonsense"}]}}, id="bad-jwks"),
    ],
)
def test_options_that_make_no_sense_fail_at_start_up(options: dict[str, Any]) -> None:
    url = options.pop("app_url", "https://app.example")

    def start() -> None:
        oidc = OpenIDProvider(ISSUER, "app", app_url=url, metadata=METADATA, **options)
        IdleGuard(Starlette(), secret_key=SECRET, identity_provider=oidc)

    with pytest.raises(ConfigError):
        start()


async def test_sign_in_asks_for_the_absolute_limit_and_refuses_an_older_authentication() -> None:
    app, clock = app_with(provider())
    async with client(app) as http:
        fresh = await http.get("/sign-in")
        assert fresh.json()["params"] == {"max_age": int(ABSOLUTE)}
        stale = await http.get("/sign-in", params={"auth_time": str(clock[0] - ABSOLUTE - 120)})
        assert stale.status_code == 403
        assert "auth_time" in stale.json()["refused"]


@pytest.mark.parametrize(
    ("limit", "reported"),
    [pytest.param(1800.0, True, id="shorter"), pytest.param(7200.0, False, id="longer")],
)
async def test_explain_reports_a_shorter_provider_session(limit: float, reported: bool) -> None:
    app, _ = app_with(provider(session_limit=limit))
    async with client(app) as http:
        await http.get("/sign-in")
        explained = (await http.get("/")).json()
    assert ("idp_session_limit" in explained) is reported
    if reported:
        assert explained["idp_session_limit"] == limit
        assert any("identity provider" in note for note in explained["notes"])


@pytest.mark.parametrize(
    ("end_session_on", "through_provider"),
    [pytest.param(("idle", "absolute"), True, id="default"), pytest.param((), False, id="kept")],
)
async def test_expiry_goes_through_the_provider_as_configured(
    end_session_on: tuple[str, ...], through_provider: bool
) -> None:
    app, clock = app_with(provider(end_session_on=end_session_on))
    async with client(app) as http:
        await http.get("/sign-in")
        copied = httpx.Cookies(http.cookies)
        clock[0] += 61
        page = await http.get("/", headers={"accept": "text/html"})
        # A copy of the cookie, after the session ended: refused, and told the same way.
        http.cookies = copied
        api = await http.get("/", headers={"accept": "application/json"})
    assert page.status_code == 303
    location = httpx.URL(page.headers["location"])
    if through_provider:
        assert str(location).startswith(ISSUER + "/end?")
        assert location.params["id_token_hint"] == "header.payload.signature"
        assert location.params["state"].startswith("idle.")
        assert api.json()["logout_url"].startswith(ISSUER + "/end?")
    else:
        assert location.path == "/login"
        assert "logout_url" not in api.json()
    # The id token never reaches the browser in a cookie.
    assert "header.payload" not in page.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    "store",
    [
        pytest.param(lambda: "memory://", id="memory"),
        pytest.param(lambda: CookieStore(SECRET, denylist="memory://"), id="cookie-denylist"),
        pytest.param(lambda: "sqlite+aiosqlite:///:memory:", id="sqlite", marks=pytest.mark.sqlite),
    ],
)
async def test_backchannel_logout_by_sid_and_by_sub(store: Any) -> None:
    events = EventCollector()
    app, _ = app_with(provider(ledger="memory://"), store=store(), on_event=events)
    try:
        await _backchannel_scenario(app)
    finally:
        await app.store.aclose()  # the SQL store's connection, before the next test
    ended = [event.reason for event in events.of_type("session_ended")]
    if isinstance(app.store, CookieStore):
        # The record lives in the browser: the sessions are refused (tombstones in the
        # denylist), but there is no record on the server to report them by.
        assert ended == []
    else:
        assert ended == ["idp_logout", "idp_logout"]


async def test_a_logout_the_store_could_not_carry_out_is_taken_when_sent_again() -> None:
    store = SwitchableStore(SettableClock(time.time()))
    events = EventCollector()
    app, _ = app_with(provider(ledger="memory://"), store=store, on_event=events)
    async with client(app) as http:
        await http.get("/sign-in")
        value = token(sid="sid-1")
        store.down = True
        failed = await http.post("/_idleguard/backchannel-logout", data={"logout_token": value})
        assert failed.status_code == 503
        store.down = False
        assert (await http.get("/")).status_code == 200
        again = await http.post("/_idleguard/backchannel-logout", data={"logout_token": value})
        assert again.status_code == 200
        after = await http.get("/", headers={"accept": "application/json"})
    assert after.json()["reason"] == "idp_logout"
    assert [event.reason for event in events.of_type("session_ended")] == ["idp_logout"]


async def test_a_session_the_provider_never_signed_in_ends_the_usual_way() -> None:
    app, clock = app_with(provider())
    async with client(app) as http:
        await http.get("/local-sign-in")
        asked = await http.get("/step-up")
        assert asked.json() == {"max_age": 0, "prompt": "login"}
        clock[0] += 61
        page = await http.get("/", headers={"accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login?reason=idle")


async def _backchannel_scenario(app: IdleGuard) -> None:
    """Sign in, log out by `sid`; sign in again, log out by `sub`: refused each time."""
    async with client(app) as http:
        await http.get("/sign-in")
        assert (await http.get("/")).status_code == 200
        logout = await http.post(
            "/_idleguard/backchannel-logout", data={"logout_token": token(sid="sid-1")}
        )
        assert logout.status_code == 200
        after = await http.get("/", headers={"accept": "application/json"})
        assert after.status_code == 401
        assert after.json()["reason"] == "idp_logout"
        # By sub: every session signed in as that user.
        await http.get("/sign-in")
        by_sub = await http.post(
            "/_idleguard/backchannel-logout", data={"logout_token": token(sid=None, sub="alice")}
        )
        assert by_sub.status_code == 200
        assert (await http.get("/", headers={"accept": "application/json"})).status_code == 401
