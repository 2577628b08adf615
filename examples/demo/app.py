"""The demo app: Acme's workspace, guarded by idleguard on the memory store."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from idleguard import Policy
from idleguard.integrations.fastapi import install

from . import pages, settings_pages
from .audit import AuditLog
from .organisation import Organisation
from .security import SecurityHeaders
from .site import HERE, Site

__all__ = ["create_app"]


def create_app(**options: Any) -> FastAPI:
    """Build the demo; keyword ``options`` override the middleware's settings (tests).

    ``policy`` is the organisation's policy to start with (default: from the
    ``IDLEGUARD_*`` environment variables, else 30 minutes idle and 8 hours).
    """
    organisation = Organisation(
        "acme", "Acme Inc.", options.pop("policy", None) or Policy.from_env()
    )
    audit = AuditLog()
    hooks: list[Any] = [audit]
    extra = options.pop("on_event", None)
    if extra is not None:
        hooks.extend(extra if isinstance(extra, Iterable) else [extra])
    site = Site.create(organisation, audit)

    app = FastAPI(title="Acme Workspace", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(pages.router(site))
    app.include_router(settings_pages.router(site))

    @app.exception_handler(HTTPException)
    async def not_found(request: Request, error: HTTPException) -> Response:
        # A person who follows a stale link gets a page with a way back, not JSON.
        if "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"detail": error.detail}, status_code=error.status_code)
        return site.page(
            request, "error.html", status=error.status_code, status_code=error.status_code
        )

    # --8<-- [start:middleware]
    settings: dict[str, Any] = {
        # The organisation's bounds and each user's own choice, read per session and
        # cached for policy_cache_ttl seconds; a change made through the engine applies
        # to this process's next request at once.
        "tenants": organisation.tenant_policy,
        "users": organisation.user_choice,
        "policy": organisation.policy,  # a session without an organisation (none here)
        "store": os.environ.get("IDLEGUARD_STORE", "memory://"),
        "secret_key": os.environ.get("IDLEGUARD_SECRET_KEY") or secrets.token_urlsafe(32),
        "https_only": os.environ.get("IDLEGUARD_DEV") != "1",
        # Polls the page makes on its own: checked, but they never keep a session alive.
        "passive_paths": ["/api/notifications", "/api/session"],
        "login_url": "/login",
        "on_event": hooks,
        # A store that does not answer stops the demo at start-up, with the driver's
        # message, rather than at the first sign-in.
        "check_store_at_start": True,
    }
    # --8<-- [end:middleware]
    settings.update(options)
    # install() builds the middleware's settings now: a mistake stops the import.
    install(app, **settings)
    app.add_middleware(SecurityHeaders)
    return app
