"""Single sign-on with an OpenID Provider: idleguard's limits end the provider's session too.

Run it against any OpenID Provider (the test suite's is node's ``oidc-provider``,
``tests/oidc/provider``) in a virtual environment with the ``oidc`` and ``demo``
extras::

    OIDC_ISSUER=http://127.0.0.1:9000 OIDC_CLIENT_ID=app OIDC_CLIENT_SECRET=... \\
    IDLEGUARD_DEV=1 uvicorn examples.oidc_app:app --port 8002

Register at the provider, for this client: the redirect URI ``{APP_URL}/auth``,
the post-logout redirect URI ``{APP_URL}/_idleguard/signed-out`` and the
back-channel logout URI ``{APP_URL}/_idleguard/backchannel-logout``.

``create_app`` builds the Starlette version, ``create_flask_app`` the Flask one:
the same pages, the same idleguard options.
"""

from __future__ import annotations

import html
import os
import secrets
import time
from collections.abc import Callable
from typing import Any

from authlib.integrations.flask_client import OAuth as FlaskOAuth
from authlib.integrations.starlette_client import OAuth
from flask import Flask, redirect
from flask import request as flask_request
from flask import session as flask_session
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

import idleguard
from idleguard import IdleGuard, IdleGuardWSGI, PathRule, Policy, client_script_url
from idleguard.api import context_of
from idleguard.integrations.oidc import AuthenticationRefused, OpenIDProvider

#: The page that asks for a fresh authentication at the provider.
STEP_UP_ACR = "urn:idleguard:mfa"
#: Every page carries the browser client: when the session ends while a page is open, it
#: follows the server's `logout_url`, so the provider's session ends too.
PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>SSO example</title>'
    '<script src="{script}" data-login-url="/login" defer></script></head>'
    "<body><main>{body}</main></body></html>"
)


def page(body: str) -> str:
    """A whole page around `body` (HTML the caller has escaped), with the browser client."""
    return PAGE.format(script=client_script_url(), body=body)


def _options(
    provider: OpenIDProvider, clock: Callable[[], float], options: dict[str, Any]
) -> dict[str, Any]:
    """The idleguard options both versions share."""
    return {
        "identity_provider": provider,
        "clock": clock,
        "login_url": "/login",
        "step_up_url": "/step-up",
        "policy": Policy(idle_timeout=900, absolute_timeout=8 * 3600),
        "rules": [PathRule("/billing", authenticated_within=300)],
        "https_only": os.environ.get("IDLEGUARD_DEV") != "1",
        **options,
    }


def _home(subject: str | None) -> str:
    if subject is None:
        return '<p>Not signed in. <a id="sign-in" href="/login/start">Sign in</a></p>'
    return (
        f'<p id="who">Signed in as {html.escape(subject)}.</p>'
        '<p><a href="/billing">Billing</a> asks the provider for a fresh sign-in.</p>'
    )


def _login(reason: str | None, request: Any) -> str:
    # The sentence names the limit of the policy the session lived under.
    policy = context_of(request).policy
    text = idleguard.describe_end(reason, policy) if reason else ""
    said = f'<p id="reason">{html.escape(text)}</p>' if reason else ""
    return f'{said}<p><a id="sign-in" href="/login/start">Sign in</a></p>'


def _register(oauth: Any, issuer: str, client_id: str, client_secret: str) -> Any:
    """The provider as an Authlib client (Starlette's or Flask's registry): discovery, openid."""
    oauth.register(
        "idp",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=issuer + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid"},
    )
    return oauth.idp


def provider_for(issuer: str, client_id: str, app_url: str, **options: Any) -> OpenIDProvider:
    """The provider as both versions use it: step-up asks for (and accepts only) `STEP_UP_ACR`."""
    return OpenIDProvider(
        issuer, client_id, app_url=app_url, step_up_acr_values=[STEP_UP_ACR], **options
    )


def create_app(
    *,
    issuer: str,
    client_id: str,
    client_secret: str,
    app_url: str,
    secret_key: str,
    clock: Callable[[], float] = time.time,
    provider_options: dict[str, Any] | None = None,
    **options: Any,
) -> IdleGuard:
    """The Starlette version: Authlib's Starlette client, idleguard around it."""
    provider = provider_for(issuer, client_id, app_url, **(provider_options or {}))
    idp = _register(OAuth(), issuer, client_id, client_secret)

    async def home(request: Request) -> Response:
        info = idleguard.current(request)
        return HTMLResponse(page(_home(None if info is None else info.subject)))

    async def login(request: Request) -> Response:
        return HTMLResponse(page(_login(request.query_params.get("reason"), request)))

    async def start(request: Request) -> Response:
        request.session.pop("step_up", None)
        params = provider.sign_in_params(request)
        response: Response = await idp.authorize_redirect(request, app_url + "/auth", **params)
        return response

    async def step_up(request: Request) -> Response:
        params = await provider.astep_up_params(request)
        request.session["step_up"] = request.query_params.get("next", "/")
        response: Response = await idp.authorize_redirect(request, app_url + "/auth", **params)
        return response

    async def auth(request: Request) -> Response:
        token = await idp.authorize_access_token(request)
        target = request.session.pop("step_up", None)
        if target is None:
            await provider.asigned_in(request, token)
            return RedirectResponse("/", 303)
        try:
            await provider.astepped_up(request, token)
        except AuthenticationRefused as error:
            return HTMLResponse(f"<p id='refused'>{html.escape(str(error))}</p>", 403)
        return RedirectResponse(target if target.startswith("/") else "/", 303)

    async def billing(request: Request) -> Response:
        return HTMLResponse(page('<p id="billing">Billing</p>'))

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/login", login),
            Route("/login/start", start),
            Route("/step-up", step_up),
            Route("/auth", auth),
            Route("/billing", billing),
        ],
        middleware=[Middleware(SessionMiddleware, secret_key=secret_key, https_only=False)],
    )
    return IdleGuard(app, secret_key=secret_key, **_options(provider, clock, options))


def create_flask_app(
    *,
    issuer: str,
    client_id: str,
    client_secret: str,
    app_url: str,
    secret_key: str,
    clock: Callable[[], float] = time.time,
    provider_options: dict[str, Any] | None = None,
    **options: Any,
) -> Flask:
    """The Flask version: Authlib's Flask client, idleguard's WSGI middleware around it."""
    provider = provider_for(issuer, client_id, app_url, **(provider_options or {}))
    app = Flask(__name__)
    app.secret_key = secret_key
    idp = _register(FlaskOAuth(app), issuer, client_id, client_secret)

    @app.get("/")
    def home() -> str:
        info = idleguard.current(flask_request)
        return page(_home(None if info is None else info.subject))

    @app.get("/login")
    def login() -> str:
        return page(_login(flask_request.args.get("reason"), flask_request))

    @app.get("/login/start")
    def start() -> Any:
        flask_session.pop("step_up", None)
        params = provider.sign_in_params(flask_request)
        return idp.authorize_redirect(app_url + "/auth", **params)

    @app.get("/step-up")
    def step_up() -> Any:
        params = provider.step_up_params(flask_request)
        flask_session["step_up"] = flask_request.args.get("next", "/")
        return idp.authorize_redirect(app_url + "/auth", **params)

    @app.get("/auth")
    def auth() -> Any:
        token = idp.authorize_access_token()
        target = flask_session.pop("step_up", None)
        if target is None:
            provider.signed_in(flask_request, token)
            return redirect("/", 303)
        try:
            provider.stepped_up(flask_request, token)
        except AuthenticationRefused as error:
            return f"<p id='refused'>{html.escape(str(error))}</p>", 403
        return redirect(target if target.startswith("/") else "/", 303)

    @app.get("/billing")
    def billing() -> str:
        return page('<p id="billing">Billing</p>')

    app.wsgi_app = IdleGuardWSGI(  # type: ignore[method-assign]
        app.wsgi_app, secret_key=secret_key, **_options(provider, clock, options)
    )
    return app


def _from_environment() -> IdleGuard:
    issuer = os.environ.get("OIDC_ISSUER", "http://127.0.0.1:9000")
    return create_app(
        issuer=issuer,
        client_id=os.environ.get("OIDC_CLIENT_ID", "app"),
        client_secret=os.environ.get("OIDC_CLIENT_SECRET", ""),
        app_url=os.environ.get("APP_URL", "http://127.0.0.1:8002"),
        secret_key=os.environ.get("IDLEGUARD_SECRET_KEY") or secrets.token_urlsafe(32),
    )


app = _from_environment()
