"""The demo in Starlette: the app's own session cookie, guarded by its digest.

Run it (http://127.0.0.1:8001) in a virtual environment with the ``demo`` extra
(``pip install -e ".[demo]"``: Starlette, uvicorn, python-multipart)::

    IDLEGUARD_DEV=1 uvicorn examples.starlette_app:app --port 8001

Sign in with any user name and the password ``demo``. The app issues its own
session token in its own cookie and keeps its own table of who holds which;
idleguard keeps only the token's SHA-256 digest and refuses the token once its
session is idle or too old. ``request.user`` follows idleguard's decision.
``IDLEGUARD_IDLE_TIMEOUT``, ``IDLEGUARD_ABSOLUTE_TIMEOUT``,
``IDLEGUARD_WARN_BEFORE`` (seconds) and ``IDLEGUARD_STORE`` (a store URL)
change the policy and the store; ``IDLEGUARD_DEV=1`` allows plain HTTP
(without it cookies are ``Secure``).
"""

from __future__ import annotations

import html
import os
import secrets
from typing import Any

from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

import idleguard
from examples.session_end import describe_end
from idleguard import AppCookie, IdleGuard, Policy, client_script_url
from idleguard.integrations.starlette import SessionBackend

#: The app's own cookie; idleguard guards it as it is.
COOKIE = "session"
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script src="{script}" data-login-url="/login" defer></script></head>
<body><main>{body}</main></body></html>"""


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A whole page around ``body`` (HTML the caller has escaped), with the browser client."""
    text = PAGE.format(title=html.escape(title), script=client_script_url(), body=body)
    return HTMLResponse(text, status_code=status)


def sign_in_page(
    notice: str | None = None, error: str | None = None, username: str = "", status: int = 200
) -> HTMLResponse:
    messages = "".join(
        f'<p role="{role}">{html.escape(text)}</p>'
        for role, text in (("status", notice), ("alert", error))
        if text
    )
    body = (
        f"<h1>Sign in</h1>{messages}"
        '<form method="post" action="/login">'
        '<label>User <input name="username" autocomplete="username" '
        f'value="{html.escape(username)}" required></label> '
        '<label>Password <input name="password" type="password" required></label> '
        '<button type="submit">Sign in</button></form>'
        "<p>The password is <code>demo</code>.</p>"
    )
    return page("Sign in", body, status)


def create_app(**options: Any) -> Starlette:
    """Build the app; keyword ``options`` override the middleware's settings (tests)."""
    https_only = options.get("https_only", os.environ.get("IDLEGUARD_DEV") != "1")
    # The app's own session table: token -> user. A database table in a real app.
    tokens: dict[str, str] = {}

    async def login_form(request: Request) -> Response:
        reason = request.query_params.get("reason")
        policy = idleguard.policies(request).default.policy
        return sign_in_page(notice=describe_end(reason, policy) if reason else None)

    # --8<-- [start:sign-in]
    async def login(request: Request) -> Response:
        form = await request.form()
        username = str(form.get("username", "")).strip()
        if not username or form.get("password") != "demo":
            return sign_in_page(error="Wrong user or password.", username=username, status=401)
        token = secrets.token_urlsafe(32)
        tokens[token] = username
        # The app issued the token; idleguard starts guarding it, under its digest.
        idleguard.begin(request, subject=username, credential=token)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="lax", secure=https_only)
        return response

    # --8<-- [end:sign-in]

    @requires("authenticated", redirect="login_form")
    async def home(request: Request) -> Response:
        body = (
            f"<h1>Hello, {html.escape(request.user.display_name)}</h1>"
            "<p>This page is protected. Leave it alone and the server signs you out.</p>"
            '<form method="post" action="/logout"><button type="submit">Sign out</button></form>'
        )
        return page("Home", body)

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
        tokens.pop(request.cookies.get(COOKIE, ""), None)
        # Ends the session and clears the cookie idleguard guards: the app's own.
        idleguard.end(request)
        return RedirectResponse("/login?reason=signed_out", status_code=303)

    # --8<-- [start:middleware]
    settings: dict[str, Any] = {
        "identity": AppCookie(COOKIE),
        "policy": Policy.from_env(),
        "store": os.environ.get("IDLEGUARD_STORE", "memory://"),
        "https_only": https_only,
        "passive_paths": ["/api/notifications"],
        "login_url": "/login",
    }
    settings.update(options)
    return Starlette(
        routes=[
            Route("/login", login_form, methods=["GET"], name="login_form"),
            Route("/login", login, methods=["POST"]),
            Route("/", home),
            Route("/api/me", me),
            Route("/api/notifications", notifications),
            Route("/logout", logout, methods=["POST"]),
        ],
        middleware=[
            # Outermost first: idleguard checks the cookie before anything else sees it.
            # mypy cannot infer Starlette's middleware factory from a class taking **options.
            Middleware(IdleGuard, **settings),  # type: ignore[arg-type]
            Middleware(AuthenticationMiddleware, backend=SessionBackend()),
        ],
    )
    # --8<-- [end:middleware]


app = create_app()
