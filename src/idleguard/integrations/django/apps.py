"""The Django app `idleguard.integrations.django`: signal wiring and template tags."""

from __future__ import annotations

from django.apps import AppConfig
from django.contrib.auth import signals

__all__ = ["IdleGuardConfig"]


class IdleGuardConfig(AppConfig):
    """The Django app: wires `login()`/`logout()` and provides the template tags."""

    name = "idleguard.integrations.django"
    label = "idleguard"
    verbose_name = "idleguard"

    def ready(self) -> None:
        from . import begin_on_login, end_on_logout

        signals.user_logged_in.connect(begin_on_login, dispatch_uid="idleguard.begin")
        signals.user_logged_out.connect(end_on_logout, dispatch_uid="idleguard.end")
