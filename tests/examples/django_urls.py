"""The Django example's routes, plus views a test reads the signed-in user from.

``whoami`` answers what the view sees: Django's user (``request.user`` in a
sync view, ``await request.auser()`` in an async one) and idleguard's session.
``/public/`` is where a test makes a path exempt.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

import idleguard
from examples.django_project.urls import urlpatterns as example_urlpatterns


def _seen(request: HttpRequest, username: str) -> JsonResponse:
    session = idleguard.current(request)
    return JsonResponse({"user": username or None, "session": session is not None})


def whoami(request: HttpRequest) -> JsonResponse:
    return _seen(request, request.user.get_username())


async def async_whoami(request: HttpRequest) -> JsonResponse:
    user = await request.auser()
    return _seen(request, user.get_username())


urlpatterns = [
    *example_urlpatterns,
    path("whoami", whoami),
    path("async/whoami", async_whoami),
    path("public/whoami", whoami),
]
