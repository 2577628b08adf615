from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from idleguard.testing import EventCollector, SettableClock
from tests.apps import flask_app, starlette_app
from tests.harness import AsgiHarness, Harness, WsgiHarness

MakeClient = Callable[..., Harness]


@pytest.fixture(params=["asgi", "asgi-trio", "wsgi"])
def make_client(
    request: pytest.FixtureRequest, clock: SettableClock, events: EventCollector
) -> MakeClient:
    """Build a client over the ASGI (Starlette) or the WSGI (Flask) app; options go to the middleware."""

    def make(**options: Any) -> Harness:
        options.setdefault("on_event", events)
        if request.param == "asgi":
            return AsgiHarness(starlette_app(clock, **options))
        if request.param == "asgi-trio":
            # The same ASGI scenarios under trio: every async path runs on anyio.
            return AsgiHarness(starlette_app(clock, **options), backend="trio")
        return WsgiHarness(flask_app(clock, **options))

    return make


@pytest.fixture
def client(make_client: MakeClient) -> Harness:
    return make_client()
