"""The back-channel logout receiver refuses every bad token with 400 and changes nothing.

Tokens are signed here with keys the provider publishes (as the `jwks=` option
gives them) or with a key it does not; the app is the Starlette example over
ASGI, driven in process.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from idleguard import IdleGuard
from idleguard.integrations.oidc import OpenIDProvider
from idleguard.integrations.oidc.tokens import BACKCHANNEL_EVENT
from idleguard.testing import EventCollector

ISSUER = "https://idp.example"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
STRANGER = RSAKey.generate_key(2048, parameters={"kid": "k1"})
METADATA = {"issuer": ISSUER, "jwks_uri": ISSUER + "/jwks", "end_session_endpoint": ISSUER + "/end"}


def token(key: RSAKey = KEY, **claims: Any) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "app",
        "iat": now,
        "jti": uuid.uuid4().hex,
        "sid": "sid-1",
        "events": {BACKCHANNEL_EVENT: {}},
    }
    body.update(claims)
    body = {name: value for name, value in body.items() if value is not None}
    return jwt.encode({"alg": "RS256", "kid": "k1", "typ": "logout+jwt"}, body, key)


async def ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def app() -> tuple[IdleGuard, EventCollector]:
    events = EventCollector()
    provider = OpenIDProvider(
        ISSUER,
        "app",
        app_url="https://app.example",
        metadata=METADATA,
        jwks={"keys": [KEY.as_dict(private=False)]},
    )
    guard = IdleGuard(
        ok, secret_key="x" * 32, identity_provider=provider, on_event=events, https_only=False
    )
    return guard, events


async def post(app: IdleGuard, body: Any, content_type: str | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        if content_type is None:
            return await client.post("/_idleguard/backchannel-logout", data=body)
        return await client.post(
            "/_idleguard/backchannel-logout", content=body, headers={"content-type": content_type}
        )


@pytest.mark.parametrize(
    "logout_token",
    [
        pytest.param(lambda: token(STRANGER), id="forged-signature"),
        pytest.param(lambda: token(aud="other"), id="wrong-aud"),
        pytest.param(lambda: token(iss="https://evil.example"), id="wrong-iss"),
        pytest.param(lambda: token(iat=int(time.time()) - 3600), id="too-old"),
        pytest.param(lambda: token(iat=int(time.time()) + 3600), id="future"),
        pytest.param(lambda: token(nonce="n"), id="nonce"),
        pytest.param(lambda: token(events={"other": {}}), id="no-event"),
        pytest.param(lambda: token(sid=None), id="no-sid-no-sub"),
        pytest.param(lambda: token(jti=None), id="no-jti"),
        pytest.param(lambda: "not.a.jwt", id="garbage"),
        pytest.param(
            lambda: jwt.encode({"alg": "HS256"}, {"iss": ISSUER}, OctKey.import_key("s" * 32)),
            id="symmetric",
        ),
    ],
)
async def test_a_bad_logout_token_is_refused(
    app: tuple[IdleGuard, EventCollector], logout_token: Any
) -> None:
    guard, events = app
    response = await post(guard, {"logout_token": logout_token()})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.headers["cache-control"] == "no-store"
    assert events.events == []


async def test_a_replayed_logout_token_is_refused(app: tuple[IdleGuard, EventCollector]) -> None:
    guard, _ = app
    value = token()
    first = await post(guard, {"logout_token": value})
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    again = await post(guard, {"logout_token": value})
    assert again.status_code == 400
    assert "used before" in again.json()["error_description"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b"", "application/x-www-form-urlencoded", id="empty"),
        pytest.param(b'{"logout_token": "x"}', "application/json", id="json"),
        pytest.param(
            b"logout_token=a&logout_token=b", "application/x-www-form-urlencoded", id="two"
        ),
        pytest.param(b"\xff\xfe", "application/x-www-form-urlencoded", id="not-ascii"),
        pytest.param(
            b"logout_token=" + b"x" * 20000, "application/x-www-form-urlencoded", id="large"
        ),
    ],
)
async def test_a_malformed_request_is_refused(
    app: tuple[IdleGuard, EventCollector], body: bytes, content_type: str
) -> None:
    guard, events = app
    response = await post(guard, body, content_type)
    assert response.status_code in (400, 413)
    assert events.events == []


async def test_only_post_is_served(app: tuple[IdleGuard, EventCollector]) -> None:
    guard, _ = app
    transport = httpx.ASGITransport(app=guard)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        response = await client.get("/_idleguard/backchannel-logout")
    assert response.status_code == 405


def test_the_signed_out_state_is_checked() -> None:
    provider = OpenIDProvider(ISSUER, "app", app_url="https://app.example", metadata=METADATA)
    assert provider.returned("state=idle") == ("idle", None)
    assert provider.returned("state=bogus") is None
    assert provider.returned("") is None
    # An encoded next that leaves the site is dropped.
    assert provider.returned("state=idle.Ly9ldmlsLmV4YW1wbGU") == ("idle", None)
    assert provider.returned("state=idle.L2JpbGxpbmc") == ("idle", "/billing")


async def test_without_an_identity_provider_there_is_no_receiver() -> None:
    guard = IdleGuard(ok, secret_key="x" * 32, https_only=False)
    response = await post(guard, {"logout_token": token()})
    assert response.status_code == 404
    transport = httpx.ASGITransport(app=guard)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        landing = await client.get("/_idleguard/signed-out?state=idle")
    assert landing.status_code == 404


async def test_the_signed_out_landing_goes_on_to_the_sign_in_page(
    app: tuple[IdleGuard, EventCollector],
) -> None:
    guard, _ = app
    transport = httpx.ASGITransport(app=guard)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        back = await client.get("/_idleguard/signed-out?state=absolute.L2JpbGxpbmc")
        forged = await client.get("/_idleguard/signed-out?state=%3Cscript%3E")
    assert back.status_code == 303
    assert back.headers["location"] == "/login?reason=absolute&next=/billing"
    assert back.headers["cache-control"] == "no-store"
    assert forged.headers["location"] == "/login?reason=invalid"
