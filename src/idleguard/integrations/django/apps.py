"""The Django app `idleguard.integrations.django`: signal wiring, template tags, system checks."""

from __future__ import annotations

from django.apps import AppConfig
from django.contrib.auth import signals
from django.core import checks

__all__ = ["IdleGuardConfig"]


class IdleGuardConfig(AppConfig):
    """The Django app: wires `login()`/`logout()`, provides the template tags, and checks
    `settings.IDLEGUARD` in `manage.py check` (`idleguard.E001`, `idleguard.E002`)."""

    name = "idleguard.integrations.django"
    label = "idleguard"
    verbose_name = "idleguard"

    def ready(self) -> None:
        from . import begin_on_login, end_on_logout
        from .checks import check_settings

        signals.user_logged_in.connect(begin_on_login, dispatch_uid="idleguard.begin")
        signals.user_logged_out.connect(end_on_logout, dispatch_uid="idleguard.end")
        checks.register(check_settings, "idleguard")
