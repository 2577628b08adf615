"""Guarding the app's own credential: a bearer token or the app's session cookie, by digest."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from flask import Flask, request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import idleguard
from idleguard import AppCookie, BearerToken, IdleGuard, IdleGuardWSGI, Policy
from idleguard.identity import digest
from idleguard.stores import MemoryStore
from idleguard.testing import EventCollector, SettableClock
from tests.harness import AsgiHarness, Harness, WsgiHarness

POLICY = Policy(idle_timeout=900, absolute_timeout=3600, warn_before=60)


def build(
    kind: str, identity: Any, clock: SettableClock, store: MemoryStore, events: EventCollector
) -> Harness:
    """An app that issues its own token (``POST /token``) and registers it with idleguard."""
    options = {
        "identity": identity,
        "clock": clock,
        "store": store,
        "policy": POLICY,
        "on_event": events,
    }
    if kind == "asgi":

        async def token(req: Request) -> JSONResponse:
            value = secrets.token_urlsafe(24)
            idleguard.begin(req, subject="svc", credential=value)
            response = JSONResponse({"token": value})
            response.set_cookie("session", value)
            return response

        async def me(req: Request) -> JSONResponse:
            info = idleguard.current(req)
            return JSONResponse({"user": info.subject if info else None})

        app = Starlette(routes=[Route("/token", token, methods=["POST"]), Route("/me", me)])
        return AsgiHarness(IdleGuard(app, **options))
    flask = Flask(__name__)

    @flask.post("/token")
    def flask_token() -> Any:
        value = secrets.token_urlsafe(24)
        idleguard.begin(request, subject="svc", credential=value)
        return {"token": value}, 200, {"set-cookie": f"session={value}; Path=/"}

    @flask.get("/me")
    def flask_me() -> dict[str, Any]:
        info = idleguard.current(request)
        return {"user": info.subject if info else None}

    return WsgiHarness(IdleGuardWSGI(flask.wsgi_app, **options))


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_an_expired_bearer_token_stays_refused(kind: str) -> None:
    clock, events = SettableClock(), EventCollector()
    store = MemoryStore(clock=clock)
    client = build(kind, BearerToken(), clock, store, events)
    token = client.post("/token", cookies=False).json()["token"]
    bearer = {"authorization": f"Bearer {token}"}
    assert client.get("/me", headers=bearer).json()["user"] == "svc"
    assert digest(token) in store._cache, "stored under its digest"
    assert not any(token in key for key in store._cache), "never as itself"
    clock.advance(901)
    first = client.get("/me", headers=bearer)
    assert first.status == 401
    clock.advance(10 * 3600)
    again = client.get("/me", headers=bearer)
    assert again.status == 401, "refused until the app issues a new token"
    assert events.types() == ["session_started", "session_expired_inactivity"]


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_an_unregistered_token_is_refused_unless_the_app_vouches(kind: str) -> None:
    clock, events = SettableClock(), EventCollector()
    store = MemoryStore(clock=clock)
    client = build(kind, BearerToken(), clock, store, events)
    refused = client.get("/me", headers={"authorization": "Bearer abc"})
    assert refused.status == 401
    assert refused.json() == {"error": "session_expired", "reason": "unknown"}
    assert len(store) == 0, "nothing is written for a credential idleguard never saw"
    asked: list[str] = []

    def vouch(credential: str) -> str | None:
        asked.append(credential)
        return "svc" if credential == "abc" else None

    adopting = build(kind, BearerToken(adopt=vouch), clock, store, events)
    assert adopting.get("/me", headers={"authorization": "Bearer abc"}).json()["user"] == "svc"
    assert adopting.get("/me", headers={"authorization": "Bearer other"}).status == 401
    assert len(store) == 1, "only the credential the app vouched for is stored"
    assert asked == ["abc", "other"]
    clock.advance(901)
    assert adopting.get("/me", headers={"authorization": "Bearer abc"}).status == 401
    assert events.types() == ["session_started", "session_expired_inactivity"]


def test_adopting_any_credential_is_refused_at_start_up() -> None:
    with pytest.raises(TypeError, match="adopt=True would guard any credential"):
        BearerToken(adopt=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="adopt=True"):
        AppCookie("sid", adopt=True)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_the_app_cookie_is_guarded_and_cleared(kind: str) -> None:
    clock, events = SettableClock(), EventCollector()
    store = MemoryStore(clock=clock)
    client = build(kind, AppCookie("session"), clock, store, events)
    client.post("/token")
    assert "session" in client.cookies
    assert client.get("/me").json()["user"] == "svc"
    clock.advance(901)
    response = client.get("/me")
    assert response.status == 401
    assert "session" not in client.cookies, "the app's cookie is cleared on expiry"


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        pytest.param("Basic abc", 200, id="another-scheme-is-no-session"),
        pytest.param("Bearer", 400, id="no-token"),
        pytest.param("Bearer ", 400, id="empty-token"),
        pytest.param("bearer\tx", 400, id="tab"),
        pytest.param("Bearer  x", 400, id="two-spaces"),
        pytest.param("Bearer x, Bearer y", 400, id="two-headers-joined"),
        pytest.param("Bearer \x01", 400, id="control-character"),
        pytest.param("Bearer " + "x" * 5000, 401, id="too-long-to-know"),
    ],
)
def test_malformed_authorization_is_refused_or_no_session(authorization: str, status: int) -> None:
    clock, events = SettableClock(), EventCollector()
    store = MemoryStore(clock=clock)
    client = build("wsgi", BearerToken(adopt=lambda credential: "svc"), clock, store, events)
    response = client.get("/me", headers={"authorization": authorization})
    assert response.status == status
    if status == 200:
        assert response.json()["user"] is None
    assert len(store) == 0


def test_begin_without_the_credential_is_a_clear_error() -> None:
    clock, events = SettableClock(), EventCollector()
    flask = Flask(__name__)

    @flask.post("/token")
    def token() -> str:
        idleguard.begin(request, subject="svc")
        return "never"

    client = WsgiHarness(
        IdleGuardWSGI(flask.wsgi_app, identity=BearerToken(), clock=clock, on_event=events)
    )
    flask.testing = True
    with pytest.raises(ValueError, match="needs the credential"):
        client.post("/token")


def test_begin_outside_the_middleware_is_a_clear_error() -> None:
    with pytest.raises(LookupError, match="did not pass through idleguard"):
        idleguard.begin({"type": "http"}, subject="x")


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
@pytest.mark.parametrize(
    "forget",
    [
        pytest.param("tombstone-left", id="past-the-tombstone-ttl"),
        pytest.param("purged", id="after-purge-expired"),
        pytest.param("never-seen-again", id="idle-for-60-hours"),
    ],
)
def test_an_ended_app_credential_stays_refused_after_its_record_is_gone(
    kind: str, forget: str
) -> None:
    clock, events = SettableClock(), EventCollector()
    store = MemoryStore(clock=clock, tombstone_ttl=3600)
    client = build(kind, AppCookie("session"), clock, store, events)
    token = client.post("/token").json()["token"]
    cookie = {"cookie": f"session={token}"}
    if forget == "never-seen-again":
        clock.advance(60 * 3600)  # no request in between: nothing ever wrote a tombstone
    else:
        clock.advance(901)
        assert client.get("/me", headers=cookie, cookies=False).status == 401
        if forget == "purged":
            store.purge_expired(clock())
        clock.advance(2 * 3600)  # the tombstone has left the store
    assert len(store) == 0, "the store holds nothing for it any more"
    again = client.get("/me", headers=cookie, cookies=False)
    assert again.status == 401, "an unknown app credential is refused, not served unguarded"
