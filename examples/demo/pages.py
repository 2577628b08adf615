"""Signing in and out, the home page, and the small API the home page talks to."""

from __future__ import annotations

from urllib.parse import unquote

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

import idleguard

from ..session_end import describe_end
from .accounts import USERS, authenticate
from .site import Site, local_path, signed_in
from .words import limit_in_words, note_in_words, rule_in_words

__all__ = ["MAX_UPLOAD_BYTES", "router"]

#: The largest upload the demo accepts; it counts the bytes and keeps none of them.
MAX_UPLOAD_BYTES = 200 * 1024 * 1024


def router(site: Site) -> APIRouter:
    """The routes of this module, answering from ``site``."""
    routes = APIRouter()
    organisation = site.organisation

    @routes.get("/login", response_model=None)
    async def login_form(
        request: Request, reason: str | None = None, next: str | None = None
    ) -> Response:
        notice = describe_end(reason, organisation.policy) if reason else None
        return site.page(
            request, "login.html", user=None, notice=notice, next=local_path(next), users=USERS
        )

    @routes.post("/login", response_model=None)
    async def login(
        request: Request,
        email: str = Form(""),
        password: str = Form(""),
        next: str = Form("/"),
    ) -> Response:
        user = authenticate(email, password)
        if user is None:
            return site.page(
                request,
                "login.html",
                status=401,
                user=None,
                error="That email and password do not match an account.",
                email=email,
                next=local_path(next),
                users=USERS,
            )
        # A new session id, always: one planted before sign-in is worth nothing after it.
        idleguard.begin(request, subject=user.email, tenant=organisation.tenant)
        return RedirectResponse(local_path(next), status_code=303)

    @routes.post("/logout")
    async def logout(request: Request) -> RedirectResponse:
        idleguard.end(request)
        return RedirectResponse("/login?reason=signed_out", status_code=303)

    @routes.get("/", response_model=None)
    async def home(request: Request) -> Response:
        user = signed_in(request)
        session = idleguard.current(request)
        if user is None or session is None:
            return site.sign_in_first(request)
        return site.page(
            request,
            "home.html",
            user=user,
            session=session,
            explained=idleguard.explain(request),
            changes=site.audit.policy_changes(organisation.tenant),
        )

    @routes.get("/api/me")
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

    @routes.get("/api/session")
    async def session_limits(request: Request) -> JSONResponse:
        # Passive (see passive_paths): the home page asks when the limits change,
        # and asking must not count as the user being there.
        if idleguard.current(request) is None:
            return JSONResponse({"error": "not_signed_in"}, status_code=401)
        explained = idleguard.explain(request)
        return JSONResponse(
            {
                "idle_timeout": explained["idle_timeout"],
                "idle_limit": limit_in_words(explained["idle_timeout"]),
                "idle_rule": rule_in_words(explained["idle_rule"]),
                "idle_rule_code": explained["idle_rule"],
                "absolute_timeout": explained["absolute_timeout"],
                "absolute_limit": limit_in_words(explained["absolute_timeout"]),
                "absolute_rule": rule_in_words(explained["absolute_rule"]),
                "absolute_rule_code": explained["absolute_rule"],
                "notes": [note_in_words(note) for note in explained["notes"]],
            }
        )

    @routes.get("/api/notifications")
    async def notifications(request: Request) -> JSONResponse:
        # A background poll, passive: it never keeps a session alive.
        if idleguard.current(request) is None:
            return JSONResponse({"error": "not_signed_in"}, status_code=401)
        changes = site.audit.policy_changes(organisation.tenant)
        return JSONResponse(
            {
                "notifications": [
                    {"at": change.at, "text": f"{change.actor}: {change.details}"}
                    for change in changes
                ]
            }
        )

    @routes.post("/api/upload")
    async def upload(request: Request) -> JSONResponse:
        # The middleware counts an upload as activity while its bytes flow, so a
        # slow one is not cut off at the idle limit; the page declares it as work.
        if idleguard.current(request) is None:
            return JSONResponse({"error": "not_signed_in"}, status_code=401)
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > MAX_UPLOAD_BYTES:
                return JSONResponse({"error": "too_large"}, status_code=413)
        name = unquote(request.headers.get("x-file-name", "upload"))
        return JSONResponse({"name": name[:200], "bytes": received})

    return routes
