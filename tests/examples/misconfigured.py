"""A Starlette app whose idleguard middleware cannot start, for uvicorn to serve in a test.

``IDLEGUARD_TEST_MISTAKE`` picks the mistake (see `MISTAKES`); the middleware is added
with ``app.add_middleware``, which Starlette builds only when the first ASGI message
arrives: the lazy start-up whose error must still reach the server's output.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from idleguard import IdleGuard

SECRET = "test-secret-key-0123456789abcdefghijklmnop"
#: Mistake -> the middleware's keyword arguments that make it.
MISTAKES: dict[str, dict[str, Any]] = {
    "no-secret": {},
    "no-driver": {"secret_key": SECRET, "store": "redis://127.0.0.1:6379/0"},
    "preset-typo": {"secret_key": SECRET, "policy": "pci-dsss"},
    "store-down": {
        "secret_key": SECRET,
        "store": "redis://127.0.0.1:1/0",
        "check_store_at_start": True,
    },
}

mistake = os.environ["IDLEGUARD_TEST_MISTAKE"]
if mistake == "no-driver":
    sys.modules["redis"] = None  # type: ignore[assignment]  # as if the extra were not installed


async def home(request: Any) -> PlainTextResponse:
    return PlainTextResponse("served")


app = Starlette(routes=[Route("/", home)])
app.add_middleware(IdleGuard, **MISTAKES[mistake])  # type: ignore[arg-type]  # see docs/quickstart
