"""The demo: a small FastAPI app guarded by idleguard on the memory store.

Run it with ``make demo`` (http://127.0.0.1:8000), or by hand::

    IDLEGUARD_DEV=1 uvicorn examples.fastapi_app:app --port 8000

Sign in with any user name and the password ``demo``. Environment variables
``IDLEGUARD_IDLE_TIMEOUT``, ``IDLEGUARD_ABSOLUTE_TIMEOUT``,
``IDLEGUARD_WARN_BEFORE`` (seconds) and ``IDLEGUARD_STORE`` (a store URL)
change the policy and the store. ``IDLEGUARD_DEV=1`` is the explicit
plain-HTTP development setting; without it cookies are ``Secure``.
"""

from __future__ import annotations

import html
import os
import secrets

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

import idleguard
from idleguard import IdleGuard, Policy, client_script_url, describe_end
from idleguard.messages import negotiate_language

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">{head}</head>
<body><main>{body}</main></body></html>"""
#: The browser client: the warning before sign-out, every tab in step. On the
#: sign-in page too, so a sign-out in one tab reaches the others at once.
CLIENT = f'<script src="{client_script_url()}" data-login-url="/login" defer></script>'
#: A background poll: marked passive, so it never keeps a session alive.
POLL = (
    "<p>Notifications: <output id='notifications'>none yet</output></p>"
    "<script type='module'>"
    "setInterval(async () => {"
    " const response = await idleguard.fetch('/api/notifications', {passive: true});"
    " if (response.ok) document.getElementById('notifications').value ="
    " (await response.json()).notifications.length + ' new';"
    "}, 30000);</script>"
)


def create_app(**options: object) -> FastAPI:
    """Build the demo app; keyword ``options`` override the middleware's settings (tests)."""
    app = FastAPI(title="idleguard demo")

    @app.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, reason: str | None = None) -> str:
        notice = ""
        if reason:
            # The reason is a code for machines: the reader gets a sentence, in their language.
            language = negotiate_language(None, request.headers.get("accept-language"))
            policy = settings["policy"]
            words = describe_end(
                reason, policy if isinstance(policy, Policy) else None, locale=language
            )
            notice = f"<p role='status' lang='{language}'>{html.escape(words)}</p>"
        form = (
            "<h1>Sign in</h1>" + notice + "<form method='post' action='/login'>"
            "<label>User <input name='username' autocomplete='username'></label> "
            "<label>Password <input name='password' type='password'></label> "
            "<button type='submit'>Sign in</button></form><p>The password is <code>demo</code>.</p>"
        )
        return PAGE.format(title="Sign in", head=CLIENT, body=form)

    @app.post("/login", response_model=None)
    async def login(
        request: Request, username: str = Form(""), password: str = Form("")
    ) -> Response:
        if not username.strip() or password != "demo":
            return HTMLResponse(
                PAGE.format(title="Sign in", head="", body="<p>Wrong user or password.</p>"),
                status_code=401,
            )
        idleguard.begin(request, subject=username.strip())
        return RedirectResponse("/", status_code=303)

    @app.get("/", response_class=HTMLResponse, response_model=None)
    async def home(request: Request) -> Response:
        session = idleguard.current(request)
        if session is None:
            return RedirectResponse("/login", status_code=303)
        body = (
            f"<h1>Hello, {html.escape(session.subject or '')}</h1>"
            "<p>This page is protected. Leave it alone and the server signs you out; "
            f"{session.warn_before:g} seconds before that, you are asked whether to stay.</p>"
            "<form method='post' action='/logout'><button type='submit'>Sign out</button></form>"
            + POLL
        )
        return HTMLResponse(PAGE.format(title="Home", head=CLIENT, body=body))

    @app.get("/api/me")
    async def me(request: Request) -> JSONResponse:
        session = idleguard.current(request)
        if session is None:
            return JSONResponse({"error": "not_signed_in"}, status_code=401)
        return JSONResponse(
            {
                "user": session.subject,
                "idle_remaining": session.idle_remaining,
                "absolute_remaining": session.absolute_remaining,
            }
        )

    @app.get("/api/notifications")
    async def notifications(request: Request) -> JSONResponse:
        # A background poll: configured passive, so it never keeps a session alive.
        if idleguard.current(request) is None:
            return JSONResponse({"error": "not_signed_in"}, status_code=401)
        return JSONResponse({"notifications": []})

    @app.post("/logout")
    async def logout(request: Request) -> RedirectResponse:
        idleguard.end(request)
        return RedirectResponse("/login", status_code=303)

    settings: dict[str, object] = {
        "policy": Policy.from_env(),
        "store": os.environ.get("IDLEGUARD_STORE", "memory://"),
        "secret_key": os.environ.get("IDLEGUARD_SECRET_KEY") or secrets.token_urlsafe(32),
        "https_only": os.environ.get("IDLEGUARD_DEV") != "1",
        "passive_paths": ["/api/notifications"],
        "login_url": "/login",
    }
    settings.update(options)
    app.add_middleware(IdleGuard, **settings)  # type: ignore[arg-type]
    return app


app = create_app()
