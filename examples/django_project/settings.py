"""Settings for the Django example: the least a real project needs, plus ``IDLEGUARD``."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from idleguard import Policy

HTTPS_ONLY = os.environ.get("IDLEGUARD_DEV") != "1"

SECRET_KEY = os.environ.get("IDLEGUARD_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "examples.django_project.urls"
USE_TZ = True

# --8<-- [start:middleware]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "idleguard.integrations.django",
    "examples.django_project.demo",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After AuthenticationMiddleware: a Django login whose idleguard session is over is logged out.
    "idleguard.integrations.django.IdleGuardMiddleware",
]

IDLEGUARD = {
    "policy": Policy.from_env(),
    "store": os.environ.get("IDLEGUARD_STORE", "memory://"),
    "https_only": HTTPS_ONLY,
    "passive_paths": ["/api/notifications"],
    "login_url": "/login",
}
# --8<-- [end:middleware]

AUTHENTICATION_BACKENDS = ["examples.django_project.demo.backends.DemoBackend"]
LOGIN_URL = "/login"
SESSION_COOKIE_SECURE = HTTPS_ONLY
CSRF_COOKIE_SECURE = HTTPS_ONLY

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get(
            "IDLEGUARD_DJANGO_DB", str(Path(tempfile.gettempdir()) / "idleguard-django-example.db")
        ),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
