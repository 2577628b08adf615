"""Organisation > Session security, a user's own choice, and the audit log.

Each change is saved where the guard's resolvers read it, then handed to the
policy engine: this process applies it from the next request, and the engine
records ``inactivity_timeout_updated`` with the actor for the audit log.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

import idleguard

from .accounts import User
from .organisation import ABSOLUTE_HOURS, DEFAULT_RUNG, LADDER, USER_OPTIONS, SettingError
from .site import Site, signed_in

__all__ = ["router"]

SECURITY = "/organisation/session-security"
MY_SESSION = "/account/session"
AUDIT_LOG = "/organisation/audit-log"


def router(site: Site) -> APIRouter:
    """The routes of this module, answering from ``site``."""
    routes = APIRouter()
    organisation = site.organisation

    def security_page(
        request: Request, status: int = 200, error: str | None = None, **chosen: str
    ) -> Response:
        policy = organisation.policy
        rung = organisation.rung()
        absolute = policy.absolute_timeout or 0
        return site.page(
            request,
            "session_security.html",
            status=status,
            ladder=LADDER,
            default=DEFAULT_RUNG,
            hours=ABSOLUTE_HOURS,
            current=rung,
            checked=chosen.get("inactivity", rung.preset if rung else ""),
            absolute_hours=chosen.get("absolute_hours", f"{absolute / 3600:g}"),
            policy=policy,
            explained=idleguard.explain(request),
            saved=request.query_params.get("saved"),
            error=error,
        )

    @routes.get(SECURITY, response_model=None)
    async def session_security(request: Request) -> Response:
        user = signed_in(request)
        if user is None:
            return site.sign_in_first(request)
        if not user.is_admin:
            return site.forbidden(request)
        return security_page(request)

    @routes.post(SECURITY, response_model=None)
    async def save_session_security(
        request: Request, inactivity: str = Form(""), absolute_hours: str = Form("")
    ) -> Response:
        user = signed_in(request)
        if user is None:
            return site.sign_in_first(request)
        if not user.is_admin:
            return site.forbidden(request)
        try:
            policy = organisation.policy_for(inactivity, absolute_hours)
        except SettingError as error:
            chosen = {"inactivity": inactivity, "absolute_hours": absolute_hours}
            return security_page(request, 400, str(error), **chosen)
        if policy == organisation.policy:
            return RedirectResponse(f"{SECURITY}?saved=unchanged", status_code=303)
        # --8<-- [start:update]
        organisation.save_policy(policy)
        # Every session of the organisation runs under it from its next request.
        await idleguard.policies(request).aupdate(
            organisation.bounds, actor=user.email, tenant=organisation.tenant
        )
        # --8<-- [end:update]
        return RedirectResponse(f"{SECURITY}?saved=1", status_code=303)

    def my_session_page(
        request: Request, user: User, status: int = 200, error: str | None = None
    ) -> Response:
        choice = organisation.choice_of(user.email)
        options = [
            (option, organisation.allows(option.choice), option.choice == choice)
            for option in USER_OPTIONS
        ]
        return site.page(
            request,
            "my_session.html",
            status=status,
            options=options,
            policy=organisation.policy,
            explained=idleguard.explain(request),
            saved=request.query_params.get("saved"),
            error=error,
        )

    @routes.get(MY_SESSION, response_model=None)
    async def my_session(request: Request) -> Response:
        user = signed_in(request)
        if user is None:
            return site.sign_in_first(request)
        return my_session_page(request, user)

    @routes.post(MY_SESSION, response_model=None)
    async def save_my_session(request: Request, choice: str = Form("")) -> Response:
        user = signed_in(request)
        if user is None:
            return site.sign_in_first(request)
        option = next((option for option in USER_OPTIONS if option.value == choice), None)
        if option is None:
            return my_session_page(request, user, 400, "Choose one of the options.")
        try:
            organisation.save_choice(user.email, option.choice)
        except SettingError as error:
            return my_session_page(request, user, 400, str(error))
        # The engine checks the choice against the organisation's bounds too, and a
        # later, stricter organisation setting cuts it down at each request.
        await idleguard.policies(request).aupdate(
            option.choice, actor=user.email, tenant=organisation.tenant, subject=user.email
        )
        return RedirectResponse(f"{MY_SESSION}?saved=1", status_code=303)

    @routes.get(AUDIT_LOG, response_model=None)
    async def audit_log(request: Request) -> Response:
        user = signed_in(request)
        if user is None:
            return site.sign_in_first(request)
        if not user.is_admin:
            return site.forbidden(request)
        entries = list(site.audit.entries(organisation.tenant))
        return site.page(request, "audit_log.html", entries=entries)

    @routes.get(AUDIT_LOG + "/report", response_model=None)
    async def audit_report(request: Request) -> Response:
        user = signed_in(request)
        if user is None or not user.is_admin:
            return site.forbidden(request)
        return PlainTextResponse(site.audit.report(organisation.tenant))

    @routes.get(AUDIT_LOG + "/events.jsonl", response_model=None)
    async def audit_events(request: Request) -> Response:
        user = signed_in(request)
        if user is None or not user.is_admin:
            return site.forbidden(request)
        return PlainTextResponse(
            site.audit.json_lines(organisation.tenant),
            media_type="application/jsonl",
            headers={"content-disposition": 'attachment; filename="events.jsonl"'},
        )

    return routes
