"""System checks: `manage.py check` (and `runserver`, `migrate`) refuse what the middleware would.

`idleguard.E001`
    A key of `settings.IDLEGUARD` that is no setting, one error per key, each naming
    the closest setting (`did you mean 'idle_timeout'?`).
`idleguard.E002`
    `settings.IDLEGUARD` that the middleware would refuse to start with: a value it
    refuses, a store whose driver is not installed, a store that does not answer under
    `check_store_at_start`. The message is the one the middleware stops with.

The settings are built as the middleware builds them (`settings_from_django`), so the
check and the start-up never disagree; a store built from its URL is closed again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings as django_settings
from django.core.checks import CheckMessage, Error

from ...options import SETTING_NAMES
from . import DJANGO_SETTINGS, settings_from_django

__all__ = ["UNKNOWN_SETTING", "UNUSABLE_SETTINGS", "check_settings"]

UNKNOWN_SETTING = "idleguard.E001"
UNUSABLE_SETTINGS = "idleguard.E002"
#: What `settings.IDLEGUARD` may hold: the middleware's settings, and the ASGI one it ignores.
_NAMES = (*SETTING_NAMES, "websocket_recheck")


def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """The `settings.IDLEGUARD` check, registered by the app's config.

    Args:
        app_configs: The apps being checked (the settings are the project's: unused).
        **kwargs: What Django passes besides (`databases`, ...).

    Returns:
        One error per unknown key, or the one error that would stop the middleware.
    """
    config = getattr(django_settings, "IDLEGUARD", {})
    hint = "see the settings table in idleguard's Configuration docs"
    if isinstance(config, Mapping):
        unknown = [
            DJANGO_SETTINGS.unknown(str(key), _NAMES)
            for key in config
            if DJANGO_SETTINGS.name(str(key)) not in _NAMES
        ]
        if unknown:
            return [Error(str(error), hint=hint, id=UNKNOWN_SETTING) for error in unknown]
    try:
        settings = settings_from_django()
    except (ValueError, TypeError, ImportError) as error:
        # ValueError: ConfigError and PolicyError; TypeError: a value of the wrong type;
        # ImportError: a store's driver that is not installed, naming the pip extra.
        return [Error(str(error), hint=hint, id=UNUSABLE_SETTINGS)]
    if not isinstance(config, Mapping) or isinstance(config.get("store", "memory://"), str):
        settings.store.close()  # built here from its URL; a store object is the project's own
    return []
