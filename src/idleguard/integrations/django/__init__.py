"""Django: a middleware for `MIDDLEWARE`, sync and async, driving idleguard's request flow.

Settings come from `settings.IDLEGUARD`, a dict of the middleware's keyword
arguments (`{"idle_timeout": "15m", "store": "redis://..."}`; see
[`idleguard.IdleGuard`][idleguard.IdleGuard]). Without `secret_key` the cookie is
signed with Django's `SECRET_KEY`. `manage.py check` reports a key or value the
middleware would refuse (`idleguard.E001`, `idleguard.E002`). Place the middleware
after `AuthenticationMiddleware`:

```python
MIDDLEWARE = [
    ...,
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "idleguard.integrations.django.IdleGuardMiddleware",
    ...,
]
```

Add `"idleguard.integrations.django"` to `INSTALLED_APPS` for the
`{% idleguard_script %}` template tag (`{% load idleguard %}`) and for
`login()` / `logout()` to begin and end idleguard's session. `login()`
records that session in `request.session`, binding the Django login to it:
on a request that does not carry it live (it is over, another session or user
is presented, the request is exempt, or the store is down under
`fail_open`) the user is logged out before the view runs, so the two never
disagree.

The middleware runs inside Django's handler, after the request body has
been parsed, so a long upload or streamed download does not count as
activity while it flows. For that, wrap the WSGI or ASGI application object
with [`IdleGuardWSGI`][idleguard.IdleGuardWSGI] / [`IdleGuard`][idleguard.IdleGuard]
instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings as django_settings
from django.contrib.auth import alogout, logout
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from ... import api
from ...context import SessionContext
from ...errors import ConfigError
from ...flow import Entry
from ...guard import Guard
from ...options import SETTING_NAMES, Configured, Spelling
from ...provider import MAX_LOGOUT_BODY
from ...replies import Reply
from ...settings import Settings
from ...wsgi import wsgi_facts
from .. import (
    BINDING_SESSION_KEY,
    binding_for,
    end_with_framework_login,
    login_is_bound,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

__all__ = ["DJANGO_SETTINGS", "IdleGuardMiddleware", "settings_from_django"]

logger = logging.getLogger("idleguard")

#: How `settings.IDLEGUARD` spells the settings: the names themselves, as dict keys.
DJANGO_SETTINGS = Spelling(
    "settings.IDLEGUARD", place="settings.IDLEGUARD[{key!r}]", suggestion="{key!r}", text=True
)
SyncGetResponse = Callable[[HttpRequest], HttpResponseBase]
AsyncGetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


def settings_from_django(**overrides: Any) -> Settings:
    """The middleware's settings from `settings.IDLEGUARD`.

    Args:
        **overrides: Settings that replace those of `settings.IDLEGUARD`.

    Returns:
        The settings, with Django's `SECRET_KEY` as the secret when
            `settings.IDLEGUARD` names none.

    Raises:
        ConfigError: A setting is refused; the message says where it was written
            (`settings.IDLEGUARD['idle_timout']: unknown idleguard setting; did you mean
            'idle_timeout'?`, `settings.SECRET_KEY ...: every secret_key must be ...`).
    """
    config = getattr(django_settings, "IDLEGUARD", {})
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"settings.IDLEGUARD must be a dict of idleguard settings, not {type(config).__name__}"
        )
    # websocket_recheck is accepted for a project shared with an ASGI app; Django's
    # middleware sees no WebSockets.
    configured = Configured().read(config, DJANGO_SETTINGS, (*SETTING_NAMES, "websocket_recheck"))
    configured.options.pop("websocket_recheck", None)
    configured.fallback_secret(
        django_settings.SECRET_KEY,
        "settings.SECRET_KEY (it signs idleguard's cookie: settings.IDLEGUARD has no secret_key)",
    )
    configured.options.update(overrides)
    return configured.build(Settings)


class IdleGuardMiddleware:
    """Enforce idle and absolute session timeouts on every request Django handles.

    It only translates: the `HttpRequest` into request facts, the flow's
    store calls into sync or awaited ones, the flow's answer into an
    `HttpResponse` or headers on the view's response.

    Args:
        get_response: The next middleware or view, sync or async (Django
            passes it).

    Raises:
        ConfigError: `settings.IDLEGUARD` cannot start the middleware.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: SyncGetResponse | AsyncGetResponse) -> None:
        self.get_response = get_response
        self.settings = settings_from_django()
        self.guard = Guard(self.settings)
        self.store = self.settings.store
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return self._acall(request)
        guard = self.guard
        entry: Entry = guard.run_sync(guard.enter(_facts(request, guard)))
        guard.emit_sync(entry.events)
        if entry.reply is not None:
            return _response(entry.reply)
        context: SessionContext = entry.context
        request.META["idleguard"] = context
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            recorded = request.session.get(BINDING_SESSION_KEY)
            if not login_is_bound(request, _subject(user), recorded):
                logout(request)
        response: HttpResponseBase = self.get_response(request)  # type: ignore[assignment]
        if context.has_headers:
            added, events, failed = guard.run_sync(guard.flow.leave(context))
            guard.emit_sync(events)
            if failed is not None:
                return _response(failed)
            _add_headers(response, added)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        guard = self.guard
        entry: Entry = await guard.run(guard.enter(_facts(request, guard)))
        await guard.emit(entry.events)
        if entry.reply is not None:
            return _response(entry.reply)
        context: SessionContext = entry.context
        request.META["idleguard"] = context
        if hasattr(request, "auser"):
            user = await request.auser()
            if user.is_authenticated:
                recorded = await request.session.aget(BINDING_SESSION_KEY)
                if not login_is_bound(request, _subject(user), recorded):
                    await alogout(request)
                    # alogout() resets request.user but leaves auser()'s cached user,
                    # which an async view (or @login_required on one) would still see.
                    request.auser = _signed_out
        response: HttpResponseBase = await self.get_response(request)  # type: ignore[misc]
        if context.has_headers:
            added, events, failed = await guard.run(guard.flow.leave(context))
            await guard.emit(events)
            if failed is not None:
                return _response(failed)
            _add_headers(response, added)
        return response


def _facts(request: HttpRequest, guard: Guard) -> Any:
    # META is Django's environ (SCRIPT_NAME included); path_info is Django's own decoding.
    facts = wsgi_facts(request.META, request.path_info or "/")
    if guard.wants_body(facts):
        # Django reads the body itself, within its own DATA_UPLOAD_MAX_MEMORY_SIZE.
        try:
            body = request.body
        except RequestDataTooBig:
            return facts
        facts.body = body if len(body) <= MAX_LOGOUT_BODY else None
    return facts


def _subject(user: Any) -> str:
    # What begin_on_login records and the middleware compares: one definition for both.
    return str(user.pk)


async def _signed_out() -> AnonymousUser:
    # Imported here as Django's own logout() does: this package is an app, and
    # auth's models cannot be imported while the app registry is still loading.
    from django.contrib.auth.models import AnonymousUser

    return AnonymousUser()


def _response(reply: Reply) -> HttpResponse:
    response = HttpResponse(reply.body, status=reply.status)
    _add_headers(response, reply.headers)
    return response


def _add_headers(response: HttpResponseBase, added: list[tuple[str, str]]) -> None:
    # Django keeps one value per header name: each Set-Cookie (the session's and
    # a cookie store's record may come together) goes through response.cookies.
    for name, value in added:
        if name == "set-cookie":
            _set_cookie(response, value)
        else:
            response.headers[name] = value


def _set_cookie(response: HttpResponseBase, header: str) -> None:
    """Put one `Set-Cookie` value idleguard built into Django's cookie jar, attributes and all."""
    pair, *attributes = (part.strip() for part in header.split(";"))
    name, _, value = pair.partition("=")
    options: dict[str, Any] = {"path": "/", "secure": False, "httponly": False}
    for attribute in attributes:
        key, _, setting = attribute.partition("=")
        key = key.lower()
        if key == "max-age":
            options["max_age"] = int(setting)
        elif key == "expires":
            options["expires"] = setting
        elif key == "path":
            options["path"] = setting
        elif key == "samesite":
            options["samesite"] = setting
        elif key in ("secure", "httponly"):
            options[key] = True
    response.set_cookie(name, value, **options)


def begin_on_login(sender: Any, request: HttpRequest | None, user: Any, **extra: Any) -> None:
    """`user_logged_in` receiver: begin an idleguard session for `user` (subject: its pk).

    The session is recorded in `request.session`: the login is bound to it.
    """
    if request is None or "idleguard" not in request.META:
        # A login outside the middleware (the test client's force_login): no
        # idleguard session starts, nothing is bound, and the next request logs it out.
        logger.debug("idleguard: login without the middleware; no session started")
        return
    api.begin(request, subject=_subject(user))
    request.session[BINDING_SESSION_KEY] = binding_for(request)


def end_on_logout(sender: Any, request: HttpRequest | None, user: Any, **extra: Any) -> None:
    """`user_logged_out` receiver: end the request's idleguard session with the login."""
    if request is not None and "idleguard" in request.META:
        end_with_framework_login(request)
