"""The API service (FastAPI): sign-in, the signed-in user, sign-out, and the tenant's policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

import idleguard
from idleguard import IdleGuard, Policy, PolicyError
from idleguard.stores import from_url

from .shared import TENANT, authenticate, settings, tenant_policies

__all__ = ["create_app"]


def create_app(**overrides: Any) -> FastAPI:
    """Build the API; keyword ``overrides`` replace the shared settings (tests)."""
    tenants = overrides.pop("tenants", None) or tenant_policies(**overrides)
    shared = settings(tenants, **overrides)
    # The store is built here, not from its URL by the middleware, so that shutting the
    # service down closes its connections to Redis.
    store = shared["store"] = from_url(shared["store"])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await store.aclose()

    app = FastAPI(
        title="Acme API", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )

    @app.post("/login", response_model=None)
    async def login(request: Request, email: str = Form(""), password: str = Form("")) -> Response:
        user = authenticate(email, password)
        if user is None:
            return JSONResponse({"error": "wrong_email_or_password"}, status_code=401)
        idleguard.begin(request, subject=user, tenant=TENANT)
        return RedirectResponse("/api/me", status_code=303)

    @app.get("/api/me")
    async def me(request: Request) -> JSONResponse:
        session = idleguard.current(request)
        if session is None:
            return JSONResponse({"error": "not_signed_in"}, status_code=401)
        return JSONResponse({"user": session.subject, "service": "api"})

    @app.get("/api/notifications")
    async def notifications(request: Request) -> JSONResponse:
        # Passive (passive_paths): a poll never keeps the session alive.
        if idleguard.current(request) is None:
            return JSONResponse({"error": "not_signed_in"}, status_code=401)
        return JSONResponse({"notifications": []})

    @app.post("/logout")
    async def logout(request: Request) -> RedirectResponse:
        idleguard.end(request)
        return RedirectResponse("/login", status_code=303)

    @app.post("/api/tenant-policy", response_model=None)
    async def change_policy(
        request: Request, idle_timeout: float = Form(...), absolute_timeout: float = Form(...)
    ) -> Response:
        session = idleguard.current(request)
        if session is None:
            return JSONResponse({"error": "not_signed_in"}, status_code=401)
        try:
            policy = Policy(idle_timeout=idle_timeout, absolute_timeout=absolute_timeout)
        except PolicyError as error:
            return JSONResponse({"error": "bad_policy", "detail": str(error)}, status_code=400)
        # --8<-- [start:change]
        # Saved where both services read it first; this service applies it at once, the
        # other once its cached answer is policy_cache_ttl seconds old.
        tenants.set(TENANT, policy)
        await idleguard.policies(request).aupdate(
            policy, actor=session.subject or "?", tenant=TENANT
        )
        # --8<-- [end:change]
        return JSONResponse(policy.as_dict())

    # mypy cannot match IdleGuard's constructor to Starlette's middleware-factory protocol.
    app.add_middleware(IdleGuard, **shared)  # type: ignore[arg-type]
    return app
