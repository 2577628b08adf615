"""The demo in Starlette, for API clients: bearer tokens guarded by their digest.

Run it (http://127.0.0.1:8001)::

    uvicorn examples.starlette_app:app --port 8001

Sign in with any user name and the password ``demo``: ``POST /login`` answers
with a token; send it as ``Authorization: Bearer TOKEN``. The app issues and
checks its tokens itself; idleguard keeps only their SHA-256 digest and refuses
a token once its session is idle or too old. ``IDLEGUARD_IDLE_TIMEOUT``,
``IDLEGUARD_ABSOLUTE_TIMEOUT``, ``IDLEGUARD_WARN_BEFORE`` (seconds) and
``IDLEGUARD_STORE`` (a store URL) change the policy and the store.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

import idleguard
from idleguard import BearerToken, IdleGuard, Policy
from idleguard.integrations.starlette import SessionBackend

LOGIN_FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body><main><h1>Sign in</h1>
<form method="post" action="/login">
<label>User <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Get a token</button></form><p>The password is <code>demo</code>.</p>
</main></body></html>"""


def create_app(**options: Any) -> Starlette:
    """Build the app; keyword ``options`` override the middleware's settings (tests)."""
    # The app's own token table: token -> user. idleguard never sees the tokens' owners.
    tokens: dict[str, str] = {}

    async def login_form(request: Request) -> Response:
        return HTMLResponse(LOGIN_FORM)

    # --8<-- [start:sign-in]
    async def login(request: Request) -> Response:
        form = await request.form()
        username = str(form.get("username", "")).strip()
        if not username or form.get("password") != "demo":
            return JSONResponse({"error": "wrong_user_or_password"}, status_code=401)
        token = secrets.token_urlsafe(32)
        tokens[token] = username
        idleguard.begin(request, subject=username, credential=token)
        return JSONResponse({"token": token, "token_type": "bearer"})

    # --8<-- [end:sign-in]

    @requires("authenticated", status_code=401)
    async def home(request: Request) -> Response:
        return JSONResponse({"message": f"Hello, {request.user.display_name}"})

    # --8<-- [start:me]
    @requires("authenticated", status_code=401)
    async def me(request: Request) -> Response:
        session = request.user.session
        return JSONResponse(
            {
                "user": session.subject,
                "idle_remaining": session.idle_remaining,
                "absolute_remaining": session.absolute_remaining,
            }
        )

    # --8<-- [end:me]

    @requires("authenticated", status_code=401)
    async def notifications(request: Request) -> Response:
        # A background poll: configured passive, so it never keeps a session alive.
        return JSONResponse({"notifications": []})

    async def logout(request: Request) -> Response:
        authorization = request.headers.get("authorization", "")
        tokens.pop(authorization.removeprefix("Bearer ").strip(), None)
        idleguard.end(request)
        return JSONResponse({"signed_out": True})

    # --8<-- [start:middleware]
    settings: dict[str, Any] = {
        "identity": BearerToken(),
        "policy": Policy.from_env(),
        "store": os.environ.get("IDLEGUARD_STORE", "memory://"),
        "passive_paths": ["/api/notifications"],
        # API clients get 401 JSON, never a redirect to a sign-in page.
        "login_url": None,
    }
    settings.update(options)
    return Starlette(
        routes=[
            Route("/login", login_form, methods=["GET"]),
            Route("/login", login, methods=["POST"]),
            Route("/", home),
            Route("/api/me", me),
            Route("/api/notifications", notifications),
            Route("/logout", logout, methods=["POST"]),
        ],
        middleware=[
            # Outermost first: idleguard checks the token before anything else sees it.
            # mypy cannot infer Starlette's middleware factory from a class taking **options.
            Middleware(IdleGuard, **settings),  # type: ignore[arg-type]
            Middleware(AuthenticationMiddleware, backend=SessionBackend()),
        ],
    )
    # --8<-- [end:middleware]


app = create_app()
