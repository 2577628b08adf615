"""The web UI service (Flask): the same sign-in and sign-out, and pages over the same session."""

from __future__ import annotations

import html
from typing import Any

from flask import Flask, Response, jsonify, redirect, request
from flask.typing import ResponseReturnValue

import idleguard
from idleguard.integrations.flask import IdleGuard

from .shared import TENANT, authenticate, settings, tenant_policies

__all__ = ["create_app"]

LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body><main><h1>Sign in</h1><form method="post" action="/login">
<label>Email <input name="email" autocomplete="username" required></label>
<label>Password <input name="password" type="password" required></label>
<button type="submit">Sign in</button></form></main></body></html>"""


def create_app(**overrides: Any) -> Flask:
    """Build the web UI; keyword ``overrides`` replace the shared settings (tests)."""
    tenants = overrides.pop("tenants", None) or tenant_policies(**overrides)
    app = Flask(__name__)
    IdleGuard(app, flask_login=False, **settings(tenants, **overrides))

    def not_signed_in() -> Response:
        response = jsonify(error="not_signed_in")
        response.status_code = 401
        return response

    @app.get("/login")
    def login_form() -> str:
        return LOGIN_PAGE

    @app.post("/login")
    def login() -> ResponseReturnValue:
        user = authenticate(request.form.get("email", ""), request.form.get("password", ""))
        if user is None:
            return LOGIN_PAGE, 401
        idleguard.begin(request, subject=user, tenant=TENANT)
        return redirect("/", code=303)

    @app.get("/")
    def home() -> ResponseReturnValue:
        session = idleguard.current(request)
        if session is None:
            return redirect("/login", code=303)
        return f"<!doctype html><title>Home</title><h1>Hello, {html.escape(session.subject or '')}</h1>"

    @app.get("/api/me")
    def me() -> Response:
        session = idleguard.current(request)
        if session is None:
            return not_signed_in()
        return jsonify(user=session.subject, service="web")

    @app.get("/api/notifications")
    def notifications() -> Response:
        if idleguard.current(request) is None:
            return not_signed_in()
        return jsonify(notifications=[])

    @app.post("/logout")
    def logout() -> ResponseReturnValue:
        idleguard.end(request)
        return redirect("/login", code=303)

    return app
