"""What every page of the demo shares: the organisation, the audit log, the templates."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

import idleguard

from .accounts import User, find
from .audit import AuditLog
from .organisation import Organisation
from .words import countdown, limit_in_words, note_in_words, rule_in_words

__all__ = ["HERE", "Site", "local_path", "signed_in"]

HERE = Path(__file__).resolve().parent


def signed_in(request: Request) -> User | None:
    """The account of the request's live session, or ``None``."""
    session = idleguard.current(request)
    return None if session is None else find(session.subject)


def local_path(target: str | None) -> str:
    """``target`` when it is a path on this site, else ``/``: never a way to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@dataclasses.dataclass(frozen=True, slots=True)
class Site:
    """The demo's state and its way of answering with a page."""

    organisation: Organisation
    audit: AuditLog
    templates: Jinja2Templates

    @classmethod
    def create(cls, organisation: Organisation, audit: AuditLog) -> Site:
        templates = Jinja2Templates(directory=HERE / "templates")
        env = templates.env
        # Every page loads the browser client, the sign-in page too: a sign-out in one
        # tab then reaches the others at once.
        env.globals["client_script"] = idleguard.client_script_url()
        env.filters.update(
            countdown=countdown,
            limit=limit_in_words,
            note=note_in_words,
            rule=rule_in_words,
        )
        return cls(organisation, audit, templates)

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        """Render template ``name``; every page knows the organisation and who is signed in."""
        context.setdefault("user", signed_in(request))
        context["organisation"] = self.organisation
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def sign_in_first(self, request: Request) -> RedirectResponse:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    def forbidden(self, request: Request) -> HTMLResponse:
        return self.page(request, "forbidden.html", status=403)
