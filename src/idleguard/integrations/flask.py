"""Flask: the `IdleGuard(app)` / `init_app(app)` extension over the WSGI middleware.

It wraps the app in [`IdleGuardWSGI`][idleguard.IdleGuardWSGI].

Configuration comes from `app.config` keys `IDLEGUARD_<OPTION>` (for
example `IDLEGUARD_IDLE_TIMEOUT = 900` or `"15m"`, `IDLEGUARD_STORE = "redis://..."`,
`IDLEGUARD_LOGIN_URL`), then from keyword arguments, which win. Text values read as
the environment's do (`"off"`, `"1"`, `"/a, /b"`). Without
`IDLEGUARD_SECRET_KEY` the cookie is signed with Flask's `SECRET_KEY`. A mistake
fails at `init_app` naming the key as written (`app.config['IDLEGUARD_IDLE_TIMOUT']`).

With Flask-Login installed, signing in with `login_user()` begins an
idleguard session and records it in Flask's `session`, and `logout_user()`
ends it. A Flask-Login login is bound to that idleguard session: on a request
that does not carry it live (it is over, another session or user is presented,
the request is exempt, or the store is down under `fail_open`) the user is
logged out before the view runs, so the two never disagree.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, current_app, jsonify, redirect, request, session
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from .. import api
from ..events import emit_sync
from ..options import Configured, Spelling, keywords
from ..settings import Settings
from ..wsgi import IdleGuardWSGI
from . import (
    BINDING_SESSION_KEY,
    CLIENT_SCRIPT_PATH,
    binding_for,
    check_fresh,
    client_script_tag,
    end_with_framework_login,
    login_is_bound,
)

__all__ = ["IdleGuard", "fresh_auth_required"]

View = TypeVar("View", bound=Callable[..., Any])
CONFIG_PREFIX = "IDLEGUARD_"
#: How `app.config` spells the settings: `IDLEGUARD_IDLE_TIMEOUT` for `idle_timeout`.
APP_CONFIG = Spelling(
    "app.config", place="app.config[{key!r}]", prefix=CONFIG_PREFIX, upper=True, text=True
)


def _default_subject(user: Any) -> str:
    return str(user.get_id())


class IdleGuard:
    """The Flask extension.

    Args:
        app: The Flask app, or `None` to call
            [`init_app`][idleguard.integrations.flask.IdleGuard.init_app] later
            (app factories).
        flask_login: Wire Flask-Login's `user_logged_in` / `user_logged_out`
            signals and log out a user whose login is not bound to a live
            idleguard session. Default (`None`): when Flask-Login is installed.
        subject: `user -> str`: the subject recorded for a Flask-Login user.
            Default: `user.get_id()`.
        tenant: `user -> str | None`: the tenant recorded for a Flask-Login user.
        **options: Any keyword option of [`idleguard.IdleGuard`][idleguard.IdleGuard]
            (`policy`, `store`, `clock`, `on_event`, ...); they override
            `app.config`.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        flask_login: bool | None = None,
        subject: Callable[[Any], str] = _default_subject,
        tenant: Callable[[Any], str | None] | None = None,
        **options: Any,
    ) -> None:
        self.flask_login = flask_login
        self.subject = subject
        self.tenant = tenant
        self.options = options
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, **options: Any) -> IdleGuardWSGI:
        """Guard `app`: wrap its `wsgi_app` and register the helpers.

        Args:
            app: The Flask app.
            **options: Keyword options of [`idleguard.IdleGuard`][idleguard.IdleGuard];
                they override the extension's own and `app.config`.

        Returns:
            The middleware, also kept as `app.extensions["idleguard"]`.

        Raises:
            ConfigError: A setting is refused; the message says where it was written
                (`app.config['IDLEGUARD_IDLE_TIMOUT']: unknown idleguard setting; did you
                mean IDLEGUARD_IDLE_TIMEOUT?`, `app.config['SECRET_KEY']: ...`).
        """
        given = {**self.options, **options}
        settings = given.get("settings")
        if not isinstance(settings, Settings):  # settings= built once is used as it is
            config = {
                key: value for key, value in app.config.items() if key.startswith(CONFIG_PREFIX)
            }
            configured = Configured().read(config, APP_CONFIG)
            configured.read(self.options, keywords("IdleGuard"))
            configured.read(options, keywords("init_app"))
            configured.fallback_secret(
                app.config.get("SECRET_KEY"),
                "app.config['SECRET_KEY'] (it signs idleguard's cookie: no IDLEGUARD_SECRET_KEY)",
            )
            settings = configured.build(Settings)
        elif len(given) > 1:
            raise TypeError("pass either settings= or the options it is built from, not both")
        guard = IdleGuardWSGI(app.wsgi_app, settings=settings)
        app.wsgi_app = guard  # type: ignore[method-assign]  # Flask's documented way to add WSGI middleware
        app.extensions["idleguard"] = guard
        app.add_template_global(_client_script, "idleguard_script")
        app.jinja_env.globals["idleguard_script_path"] = CLIENT_SCRIPT_PATH
        if self._use_flask_login():
            self._wire_flask_login(app)
        return guard

    def _use_flask_login(self) -> bool:
        if self.flask_login is not None:
            return self.flask_login
        try:
            import flask_login  # noqa: F401
        except ImportError:
            return False
        return True

    def _wire_flask_login(self, app: Flask) -> None:
        import flask_login

        def logged_in(sender: Flask, user: Any, **extra: Any) -> None:
            tenant = self.tenant(user) if self.tenant is not None else None
            api.begin(request, subject=self.subject(user), tenant=tenant)
            session[BINDING_SESSION_KEY] = binding_for(request)

        def logged_out(sender: Flask, user: Any, **extra: Any) -> None:
            end_with_framework_login(request)
            session.pop(BINDING_SESSION_KEY, None)

        flask_login.user_logged_in.connect(logged_in, app, weak=False)
        flask_login.user_logged_out.connect(logged_out, app, weak=False)

        def follow_idleguard() -> None:
            # Flask's session cookie outlives idleguard's and can be presented
            # beside another one: a login is served only with its own live session.
            if getattr(app, "login_manager", None) is None:
                return  # Flask-Login is installed, but this app does not use it
            user = flask_login.current_user
            if user.is_authenticated and not login_is_bound(
                request,
                self.subject(user._get_current_object()),
                session.get(BINDING_SESSION_KEY),
            ):
                flask_login.logout_user()

        app.before_request(follow_idleguard)


def _client_script(nonce: str | None = None) -> Markup:
    """Template global `idleguard_script()`: the client's `<script>` tag.

    Under the app's own `endpoint_prefix` and mount point, by content hash.
    """
    guard: IdleGuardWSGI = current_app.extensions["idleguard"]
    tag = client_script_tag(guard.settings, request.script_root, nonce=nonce)
    return Markup(tag)  # noqa: S704 - client_script_tag escapes what it inserts


def fresh_auth_required(minutes: float) -> Callable[[View], View]:
    """Decorate a view that needs a sign-in no older than `minutes` minutes.

    Otherwise the view is not called: the answer is
    `401 {"error": "step_up_required", "rule": ..., "max_age": SECONDS}` and a
    `step_up_required` event (a browser navigation is sent to the middleware's
    `step_up_url` with `303` when there is one), or
    `401 {"error": "not_signed_in"}` without a session. After the user proves
    who they are again, call
    [`idleguard.reauthenticated`][idleguard.reauthenticated].

    Args:
        minutes: How old the last sign-in may be, in minutes.

    Returns:
        The decorator.
    """
    max_age = minutes * 60.0

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            check = check_fresh(request, max_age)
            if check.error is not None:
                guard = current_app.extensions["idleguard"]
                if check.events and guard.settings.hooks:
                    emit_sync(guard.settings.hooks, check.events)
                response: BaseResponse
                if check.location is not None:
                    response = redirect(check.location, code=303)
                else:
                    response = jsonify(check.body)
                    response.status_code = 401
                response.headers["cache-control"] = "no-store"
                return response
            return view(*args, **kwargs)

        return cast(View, guarded)

    return decorate
