"""The FastAPI dependencies and the OpenAPI declaration."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request

import idleguard
from idleguard import Policy, SessionInfo
from idleguard.integrations.fastapi import (
    EXCEPTION_HANDLERS,
    current_session,
    install,
    openapi_responses,
    require_fresh_auth,
)
from idleguard.testing import SettableClock

SECRET = "test-secret-key-0123456789abcdefghijklmnop"
STEP_UP = {"error": "step_up_required", "rule": "view:/transfer", "max_age": 300}


def build(
    clock: SettableClock, *, flat_errors: bool = True, step_up_url: str | None = None
) -> FastAPI:
    app = FastAPI(exception_handlers=EXCEPTION_HANDLERS if flat_errors else None)

    @app.post("/login")
    async def login(request: Request) -> dict[str, str]:
        idleguard.begin(request, subject="ann")
        return {"ok": "yes"}

    @app.post("/reauthenticate")
    async def reauthenticate(
        request: Request, session: Annotated[SessionInfo, Depends(current_session)]
    ) -> dict[str, str]:
        idleguard.reauthenticated(request)
        return {"ok": "yes"}

    @app.get("/me", responses=openapi_responses())
    async def me(session: Annotated[SessionInfo, Depends(current_session)]) -> dict[str, Any]:
        return {"user": session.subject}

    @app.post("/transfer", responses=openapi_responses())
    async def transfer(
        session: Annotated[SessionInfo, Depends(require_fresh_auth(minutes=5))],
    ) -> dict[str, Any]:
        return {"user": session.subject}

    @app.get("/settings", responses=openapi_responses())
    async def settings_page(
        session: Annotated[SessionInfo, Depends(require_fresh_auth(minutes=5))],
    ) -> dict[str, Any]:
        return {"user": session.subject}

    # mypy cannot infer Starlette's middleware factory from a class taking **options.
    app.add_middleware(
        idleguard.IdleGuard,  # type: ignore[arg-type]
        secret_key=SECRET,
        clock=clock,
        https_only=False,
        policy=Policy(idle_timeout=900),
        step_up_url=step_up_url,
    )
    return app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_current_session(clock: SettableClock) -> None:
    async with client_for(build(clock)) as client:
        assert (await client.get("/me")).json() == {"error": "not_signed_in"}
        await client.post("/login")
        assert (await client.get("/me")).json() == {"user": "ann"}


@pytest.mark.parametrize(
    ("seconds", "reauthenticate", "status", "body"),
    [
        pytest.param(299, False, 200, {"user": "ann"}, id="fresh"),
        pytest.param(300, False, 401, STEP_UP, id="at-the-limit"),
        pytest.param(600, False, 401, STEP_UP, id="stale"),
        pytest.param(600, True, 200, {"user": "ann"}, id="reauthenticated"),
    ],
)
async def test_require_fresh_auth(
    clock: SettableClock, seconds: int, reauthenticate: bool, status: int, body: dict[str, object]
) -> None:
    async with client_for(build(clock)) as client:
        await client.post("/login")
        clock.advance(seconds)
        if reauthenticate:
            assert (await client.post("/reauthenticate")).status_code == 200
        response = await client.post("/transfer")
        assert response.status_code == status
        assert response.json() == body


async def test_without_the_handler_the_body_is_fastapi_shaped(clock: SettableClock) -> None:
    async with client_for(build(clock, flat_errors=False)) as client:
        response = await client.post("/transfer")
        assert response.status_code == 401
        assert response.json() == {"detail": {"error": "not_signed_in"}}
        assert response.headers["cache-control"] == "no-store"


async def test_install(clock: SettableClock) -> None:
    app = FastAPI()

    @app.get("/me")
    async def me(session: Annotated[SessionInfo, Depends(current_session)]) -> dict[str, Any]:
        return {"user": session.subject}

    install(app, secret_key=SECRET, clock=clock, https_only=False)
    async with client_for(app) as client:
        assert (await client.get("/me")).json() == {"error": "not_signed_in"}


def test_openapi_declares_the_answers(clock: SettableClock) -> None:
    schema = build(clock).openapi()
    for path, method in (("/me", "get"), ("/transfer", "post")):
        responses = schema["paths"][path][method]["responses"]
        assert set(responses) >= {"401", "503"}
    body = schema["components"]["schemas"]["SessionErrorBody"]
    assert body["properties"]["error"]["enum"] == [
        "session_expired",
        "not_signed_in",
        "step_up_required",
    ]


async def test_a_browser_is_sent_to_reauthenticate(clock: SettableClock) -> None:
    async with client_for(build(clock, step_up_url="/reauth")) as client:
        await client.post("/login")
        clock.advance(600)
        page = await client.get("/settings", headers={"accept": "text/html"})
        assert page.status_code == 303
        assert page.headers["location"] == "/reauth?next=/settings"
        assert page.headers["cache-control"] == "no-store"
        api = await client.get("/settings", headers={"accept": "application/json"})
        assert api.status_code == 401
