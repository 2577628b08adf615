"""Several tenants, each with its own policy, changed at runtime from an admin page.

Run it (http://127.0.0.1:8003/t/acme/login) in a virtual environment with the
``demo`` extra (``pip install -e ".[demo]"``: Starlette, uvicorn, python-multipart)::

    IDLEGUARD_DEV=1 uvicorn examples.multi_tenant:app --port 8003

Tenants ``acme`` and ``globex`` live under ``/t/<tenant>/``. Sign in with any
user name and the password ``demo``. At ``/admin/login`` the user ``admin``
(password ``demo``) signs in to the admin page, where each tenant's idle,
absolute and warning limits can be changed while sessions are running, with
the audit log on screen; the admin page lives under the starting policy. A
changed policy applies to every session of that tenant from its next request.
``IDLEGUARD_IDLE_TIMEOUT``, ``IDLEGUARD_ABSOLUTE_TIMEOUT``,
``IDLEGUARD_WARN_BEFORE`` (seconds) and ``IDLEGUARD_STORE`` (a store URL) set
the policy every tenant starts with, and the store.
"""

from __future__ import annotations

import collections
import html
import os
import secrets
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

import idleguard
from examples.session_end import describe_end
from idleguard import Event, IdleGuard, Policy, PolicyError, Reply, client_script_url
from idleguard.durations import parse_limit
from idleguard.facts import RequestFacts
from idleguard.replies import expired_reply
from idleguard.settings import Settings

TENANTS = ("acme", "globex")
ADMIN = "admin"
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script src="{script}" data-login-url="{login_url}" defer></script></head>
<body><main>{body}</main></body></html>"""


# --8<-- [start:policies]
class TenantPolicies:
    """Where the tenants' policies are kept (a database in a real app); thread-safe.

    The middleware reads it through :meth:`resolve`, its ``tenants=`` resolver,
    and caches the answers; the admin page writes it, then tells the middleware.
    """

    def __init__(self, tenants: tuple[str, ...], default: Policy) -> None:
        self.default = default
        self._policies = dict.fromkeys(tenants, default)
        self._lock = threading.Lock()

    def __contains__(self, tenant: str) -> bool:
        return tenant in self._policies

    def items(self) -> list[tuple[str, Policy]]:
        with self._lock:
            return sorted(self._policies.items())

    def set(self, tenant: str, policy: Policy) -> None:
        with self._lock:
            self._policies[tenant] = policy

    def resolve(self, tenant: str) -> Policy | None:
        """The ``tenants=`` resolver: the tenant's policy, ``None`` for an unknown tenant."""
        with self._lock:
            return self._policies.get(tenant)


# --8<-- [end:policies]


def tenant_of(path: str) -> str | None:
    """``acme`` for ``/t/acme/...``; ``None`` outside the tenants' paths."""
    parts = path.split("/", 3)
    if len(parts) >= 3 and parts[1] == "t" and parts[2]:
        return parts[2]
    return None


class AuditLog:
    """An ``on_event`` hook keeping the latest events for the admin page."""

    def __init__(self, size: int = 50) -> None:
        self._events: collections.deque[Event] = collections.deque(maxlen=size)
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)

    def latest(self) -> list[Event]:
        with self._lock:
            return list(reversed(self._events))


def create_app(**options: Any) -> IdleGuard:
    """Build the app; keyword ``options`` override the middleware's settings (tests)."""
    policies = TenantPolicies(TENANTS, options.pop("policy", None) or Policy.from_env())
    audit = AuditLog()
    hooks = [audit]
    if "on_event" in options:
        hooks.append(options.pop("on_event"))

    def page(title: str, body: str, status: int = 200, tenant: str | None = None) -> HTMLResponse:
        # Every page loads the browser client; a signed-out tab goes to its own sign-in page.
        login_url = f"/t/{tenant}/login" if tenant else "/admin/login"
        text = PAGE.format(
            title=html.escape(title),
            script=html.escape(client_script_url()),
            login_url=html.escape(login_url),
            body=body,
        )
        return HTMLResponse(text, status_code=status)

    def tenant_session(request: Request) -> tuple[str, idleguard.SessionInfo | None]:
        tenant = request.path_params["tenant"]
        session = idleguard.current(request)
        if session is not None and session.tenant != tenant:
            session = None  # a session of another tenant is worth nothing here
        return tenant, session

    def sign_in_page(
        tenant: str | None,
        notice: str | None = None,
        error: str | None = None,
        username: str = "",
        status: int = 200,
    ) -> HTMLResponse:
        action = f"/t/{tenant}/login" if tenant else "/admin/login"
        messages = "".join(
            f"<p role='{role}'>{html.escape(text)}</p>"
            for role, text in (("status", notice), ("alert", error))
            if text
        )
        form = (
            f"<h1>Sign in to {html.escape(tenant or 'the admin page')}</h1>{messages}"
            f"<form method='post' action='{html.escape(action)}'>"
            f"<label>User <input name='username' value='{html.escape(username)}' required></label> "
            "<label>Password <input name='password' type='password' required></label> "
            "<button type='submit'>Sign in</button></form>"
        )
        return page("Sign in", form, status, tenant)

    async def login_form(request: Request) -> Response:
        tenant = request.path_params.get("tenant")
        reason = request.query_params.get("reason")
        policy = (policies.resolve(tenant) if tenant else None) or policies.default
        return sign_in_page(tenant, notice=describe_end(reason, policy) if reason else None)

    async def login(request: Request) -> Response:
        tenant = request.path_params.get("tenant")
        form = await request.form()
        username = str(form.get("username", "")).strip()
        if (
            not username
            or form.get("password") != "demo"
            or (tenant is None) != (username == ADMIN)
        ):
            return sign_in_page(
                tenant, error="Wrong user or password.", username=username, status=401
            )
        idleguard.begin(request, subject=username, tenant=tenant)
        return RedirectResponse(f"/t/{tenant}/" if tenant else "/admin", status_code=303)

    async def home(request: Request) -> Response:
        tenant, session = tenant_session(request)
        if session is None:
            return RedirectResponse(f"/t/{tenant}/login", status_code=303)
        body = (
            f"<h1>{html.escape(tenant)}: hello, {html.escape(session.subject or '')}</h1>"
            "<p>This page is protected. Leave it alone and the server signs you out.</p>"
            f"<form method='post' action='/t/{html.escape(tenant)}/logout'>"
            "<button>Sign out</button></form>"
        )
        return page(tenant, body, tenant=tenant)

    async def me(request: Request) -> Response:
        tenant, session = tenant_session(request)
        if session is None:
            return JSONResponse({"error": "not_signed_in"}, status_code=401)
        return JSONResponse(
            {
                "user": session.subject,
                "tenant": tenant,
                "idle_remaining": session.idle_remaining,
                "absolute_remaining": session.absolute_remaining,
            }
        )

    async def notifications(request: Request) -> Response:
        # A background poll: configured passive, so it never keeps a session alive.
        if tenant_session(request)[1] is None:
            return JSONResponse({"error": "not_signed_in"}, status_code=401)
        return JSONResponse({"notifications": []})

    async def logout(request: Request) -> Response:
        idleguard.end(request)
        return RedirectResponse(f"/t/{request.path_params['tenant']}/login", status_code=303)

    def admin_page(message: str = "", status: int = 200) -> HTMLResponse:
        rows = "".join(
            f"<tr><th>{html.escape(tenant)}</th><td><form method='post' action='/admin/{tenant}'>"
            f"<input name='idle_timeout' value='{_seconds(policy.idle_timeout)}'> "
            f"<input name='absolute_timeout' value='{_seconds(policy.absolute_timeout)}'> "
            f"<input name='warn_before' value='{_seconds(policy.warn_before)}'> "
            "<button>Save</button></form></td></tr>"
            for tenant, policy in policies.items()
        )
        log = "".join(
            f"<tr><td>{html.escape(event.to_dict()['at'])}</td><td>{event.type.value}</td>"
            f"<td>{html.escape(event.tenant or '')}</td><td>{html.escape(event.subject or '')}</td>"
            f"<td>{html.escape(event.reason or '')}</td></tr>"
            for event in audit.latest()
        )
        notice = f"<p role='alert'>{html.escape(message)}</p>" if message else ""
        body = (
            f"<h1>Tenants</h1>{notice}<p>Idle, absolute, warning (seconds; 'off' for none).</p>"
            f"<table>{rows}</table><h2>Audit log</h2>"
            f"<table id='audit'><tr><th>at</th><th>event</th><th>tenant</th><th>user</th>"
            f"<th>reason</th></tr>{log}</table>"
        )
        return page("Admin", body, status)

    def is_admin(request: Request) -> bool:
        session = idleguard.current(request)
        return session is not None and session.subject == ADMIN and session.tenant is None

    async def admin(request: Request) -> Response:
        if not is_admin(request):
            return page("Admin", "<p><a href='/admin/login'>Sign in as admin</a> first.</p>", 403)
        return admin_page()

    async def update_policy(request: Request) -> Response:
        if not is_admin(request):
            return page("Admin", "<p><a href='/admin/login'>Sign in as admin</a> first.</p>", 403)
        tenant = request.path_params["tenant"]
        if tenant not in policies:
            return admin_page(f"No tenant {tenant!r}.", 404)
        form = await request.form()
        try:
            policy = Policy(
                idle_timeout=_parse(form.get("idle_timeout"), "idle_timeout"),
                absolute_timeout=_parse(form.get("absolute_timeout"), "absolute_timeout"),
                warn_before=_parse(form.get("warn_before"), "warn_before") or 0,
            )
        except PolicyError as error:
            return admin_page(str(error), 400)
        # --8<-- [start:update]
        policies.set(tenant, policy)
        # From the next request of every session of this tenant; recorded in the audit log.
        await idleguard.policies(request).aupdate(policy, actor=ADMIN, tenant=tenant)
        # --8<-- [end:update]
        return RedirectResponse("/admin", status_code=303)

    tenant_routes = [
        Route("/t/{tenant}/login", login_form, methods=["GET"]),
        Route("/t/{tenant}/login", login, methods=["POST"]),
        Route("/t/{tenant}/", home),
        Route("/t/{tenant}/api/me", me),
        Route("/t/{tenant}/api/notifications", notifications),
        Route("/t/{tenant}/logout", logout, methods=["POST"]),
    ]
    starlette_app = Starlette(
        routes=[
            *tenant_routes,
            Route("/admin/login", login_form, methods=["GET"]),
            Route("/admin/login", login, methods=["POST"]),
            Route("/admin", admin),
            Route("/admin/{tenant}", update_policy, methods=["POST"]),
        ]
    )

    def expired(settings: Settings, facts: RequestFacts, reason: str) -> Reply:
        # A browser goes back to its own tenant's sign-in page; anything else gets 401 JSON.
        tenant = tenant_of(facts.path)
        if facts.wants_html and tenant is not None and tenant in policies:
            location = f"/t/{tenant}/login?reason={reason}"
            headers = [("location", location), ("cache-control", "no-store")]
            return Reply(303, [*headers, *settings.clear_cookie_headers()])
        return expired_reply(settings, facts, reason)

    # --8<-- [start:wiring]
    settings: dict[str, Any] = {
        "policy": policies.default,  # the admin page's own sessions, without a tenant
        "tenants": policies.resolve,  # a session's tenant, from begin(), picks its policy
        "store": os.environ.get("IDLEGUARD_STORE", "memory://"),
        "secret_key": os.environ.get("IDLEGUARD_SECRET_KEY") or secrets.token_urlsafe(32),
        "https_only": os.environ.get("IDLEGUARD_DEV") != "1",
        "passive_paths": [f"/t/{tenant}/api/notifications" for tenant in TENANTS],
        "login_url": None,
        "expired_response": expired,
        "on_event": hooks,
    }
    # --8<-- [end:wiring]
    settings.update(options)
    return IdleGuard(starlette_app, **settings)


def _seconds(value: float | None) -> str:
    return "off" if value is None else f"{value:g}"


def _parse(raw: object, name: str) -> float | None:
    # The form takes what the configuration does: 900, 15m, 1h30m, or off.
    try:
        return parse_limit(str(raw or ""))
    except ValueError as error:
        raise PolicyError(f"{name}: {error}") from None


app = create_app()
