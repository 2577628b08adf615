"""The demo in Flask, with Flask-Login and the idleguard extension.

Run it (http://127.0.0.1:5000) in a virtual environment with the ``examples``
extra (``pip install -e ".[examples]"``: Flask and Flask-Login)::

    IDLEGUARD_DEV=1 flask --app examples.flask_app run

Sign in with any user name and the password ``demo``. ``IDLEGUARD_IDLE_TIMEOUT``,
``IDLEGUARD_ABSOLUTE_TIMEOUT``, ``IDLEGUARD_WARN_BEFORE`` (seconds) and
``IDLEGUARD_STORE`` (a store URL) change the policy and the store;
``IDLEGUARD_DEV=1`` allows plain HTTP (without it cookies are ``Secure``).
"""

from __future__ import annotations

import os
import secrets
from typing import Any

import flask_login
from flask import Flask, Response, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from jinja2 import DictLoader

import idleguard
from examples.session_end import describe_end
from idleguard import Policy
from idleguard.integrations.flask import IdleGuard, fresh_auth_required

#: The pages, as templates that extend one layout. Jinja escapes every value they
#: insert; a page is never rendered to a string and inserted again, which would
#: escape its HTML a second time.
TEMPLATES = {
    "layout.html": """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{% block title %}{% endblock %}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
{{ idleguard_script() }}</head>
<body><main>{% block main %}{% endblock %}</main></body></html>""",
    "login.html": """{% extends "layout.html" %}{% block title %}Sign in{% endblock %}
{% block main %}<h1>Sign in</h1>
{% if notice %}<p role="status">{{ notice }}</p>{% endif %}
{% if error %}<p role="alert">{{ error }}</p>{% endif %}
<form method="post" action="/login">
<label>User <input name="username" autocomplete="username" value="{{ username }}" required></label>
<label>Password <input name="password" type="password" required></label>
<button type="submit">Sign in</button></form>
<p>The password is <code>demo</code>.</p>{% endblock %}""",
    "home.html": """{% extends "layout.html" %}{% block title %}Home{% endblock %}
{% block main %}<h1>Hello, {{ user }}</h1>
<p>This page is protected. Leave it alone and the server signs you out.</p>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>
{% endblock %}""",
}


class User(flask_login.UserMixin):
    """A demo user: anyone who knows the password ``demo``."""

    def __init__(self, name: str) -> None:
        self.id = name


def create_app(**options: Any) -> Flask:
    """Build the app; keyword ``options`` override the middleware's settings (tests)."""
    app = Flask(__name__)
    app.jinja_loader = DictLoader(TEMPLATES)
    app.config["SECRET_KEY"] = os.environ.get("IDLEGUARD_SECRET_KEY") or secrets.token_urlsafe(32)
    # --8<-- [start:setup]
    app.config["IDLEGUARD_POLICY"] = Policy.from_env()
    app.config["IDLEGUARD_STORE"] = os.environ.get("IDLEGUARD_STORE", "memory://")
    app.config["IDLEGUARD_HTTPS_ONLY"] = os.environ.get("IDLEGUARD_DEV") != "1"
    app.config["IDLEGUARD_PASSIVE_PATHS"] = ["/api/notifications"]
    app.config["SESSION_COOKIE_SECURE"] = app.config["IDLEGUARD_HTTPS_ONLY"]

    login_manager = flask_login.LoginManager(app)
    login_manager.login_view = "login_form"
    IdleGuard(app, **options)
    # --8<-- [end:setup]

    @login_manager.user_loader
    def load_user(user_id: str) -> User:
        return User(user_id)

    def not_signed_in() -> Response:
        response = jsonify(error="not_signed_in")
        response.status_code = 401
        return response

    @login_manager.unauthorized_handler
    def unauthorized() -> ResponseReturnValue:
        if request.path.startswith("/api/"):
            return not_signed_in()
        return redirect(url_for("login_form"))

    @app.get("/login")
    def login_form() -> str:
        reason = request.args.get("reason")
        policy = idleguard.policies(request).default.policy
        notice = describe_end(reason, policy) if reason else None
        return render_template("login.html", notice=notice, username="")

    # --8<-- [start:sign-in]
    @app.post("/login")
    def login() -> ResponseReturnValue:
        username = request.form.get("username", "").strip()
        if not username or request.form.get("password") != "demo":
            error = "Wrong user or password."
            return render_template("login.html", error=error, username=username), 401
        # The extension begins the idleguard session on Flask-Login's signal.
        flask_login.login_user(User(username))
        return redirect("/", code=303)

    # --8<-- [end:sign-in]

    @app.get("/")
    @flask_login.login_required
    def home() -> str:
        return render_template("home.html", user=flask_login.current_user.id)

    @app.get("/api/me")
    @flask_login.login_required
    def me() -> Response:
        session = idleguard.current(request)
        if session is None:
            # login_required passed, and the extension serves a login only with its own live
            # session; a view that reads the session still answers for itself, not with a 500.
            return not_signed_in()
        return jsonify(
            user=session.subject,
            idle_remaining=session.idle_remaining,
            absolute_remaining=session.absolute_remaining,
        )

    @app.get("/api/notifications")
    @flask_login.login_required
    def notifications() -> Response:
        # A background poll: configured passive, so it never keeps a session alive.
        return jsonify(notifications=[])

    # --8<-- [start:fresh]
    @app.post("/api/export")
    @flask_login.login_required
    @fresh_auth_required(minutes=5)
    def export() -> Response:
        return jsonify(export="ready")

    # --8<-- [end:fresh]

    # --8<-- [start:sign-out]
    @app.post("/logout")
    def logout() -> ResponseReturnValue:
        # The extension ends the idleguard session on Flask-Login's signal.
        flask_login.logout_user()
        return redirect(url_for("login_form"), code=303)

    # --8<-- [end:sign-out]

    return app


app = create_app()
