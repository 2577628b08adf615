"""The Django example's WSGI and ASGI application objects.

``create_app(**options)`` and ``create_asgi_app(**options)`` override entries
of ``settings.IDLEGUARD`` (tests pass a settable ``clock``).
"""

from __future__ import annotations

import os
from typing import Any

import django
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler

SETTINGS_MODULE = "examples.django_project.settings"


def _setup(options: dict[str, Any]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    django.setup(set_prefix=False)
    if options:
        settings.IDLEGUARD = {**settings.IDLEGUARD, **options}


def create_app(**options: Any) -> WSGIHandler:
    """The WSGI application; the middleware reads ``settings.IDLEGUARD`` now."""
    _setup(options)
    return WSGIHandler()


def create_asgi_app(**options: Any) -> ASGIHandler:
    """The ASGI application (``uvicorn examples.django_project.wsgi:asgi_app --factory``)."""
    _setup(options)
    return ASGIHandler()
