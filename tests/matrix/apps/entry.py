"""``application``, for the servers that import an app object instead of calling a factory.

Daphne is one: ``daphne tests.matrix.apps.entry:application``. ``IDLEGUARD_TEST_APP``
names the factory to call (``tests.matrix.apps.starlette_app:asgi``), as a Django
project's ``asgi.py`` builds its ``application`` when the server imports it.
"""

from __future__ import annotations

import importlib
import os
from typing import Any


def _build(target: str) -> Any:
    module_name, _, factory = target.partition(":")
    return getattr(importlib.import_module(module_name), factory)()


application = _build(os.environ["IDLEGUARD_TEST_APP"])
