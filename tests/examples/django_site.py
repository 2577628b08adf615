"""The Django example's database for a test module: one SQLite file, migrated once.

Django's settings load once per process, so the file is pointed at here and
the cookies are allowed over the tests' plain HTTP.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["migrated_database"]


@contextlib.contextmanager
def migrated_database(path: Path) -> Iterator[Path]:
    """Point the Django example at a new SQLite file ``path`` and migrate it."""
    from django.core.management import call_command

    from examples.django_project.wsgi import create_app

    os.environ["IDLEGUARD_DJANGO_DB"] = str(path)
    create_app()
    from django.conf import settings
    from django.db import connections

    settings.DATABASES["default"]["NAME"] = str(path)
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    connections.close_all()
    call_command("migrate", verbosity=0, interactive=False)
    try:
        yield path
    finally:
        connections.close_all()
        del os.environ["IDLEGUARD_DJANGO_DB"]
