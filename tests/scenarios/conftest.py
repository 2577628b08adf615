from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from idleguard.stores import from_url
from idleguard.testing import EventCollector, SettableClock
from tests.apps import flask_app, starlette_app
from tests.harness import AsgiHarness, Harness, WsgiHarness

MakeClient = Callable[..., Harness]


#: The whole run (CI) plays every scenario on each Redis topology too. Under trio and WSGI
#: the Redis store uses its sync clients; the asyncio harness runs each request on a loop
#: of its own, which the store's per-loop async clients are not made for.
TOPOLOGIES = (
    {
        "redis-cluster": "redis_cluster",
        "redis-sentinel": "redis_sentinel",
        "valkey": "valkey_server",
    }
    if os.environ.get("IDLEGUARD_TOPOLOGIES") == "full"
    else {}
)
ADAPTERS = [
    "asgi",
    "asgi-trio",
    "wsgi",
    *(f"{adapter}/{store}" for store in TOPOLOGIES for adapter in ("asgi-trio", "wsgi")),
]
_prefixes = itertools.count()


@pytest.fixture(params=ADAPTERS)
def make_client(
    request: pytest.FixtureRequest, clock: SettableClock, events: EventCollector
) -> Iterator[MakeClient]:
    """Build a client over the ASGI (Starlette) or the WSGI (Flask) app; options go to the middleware.

    `adapter/topology` params run it over a store on that Redis topology (the whole run only).
    """
    adapter, _, topology = str(request.param).partition("/")
    store = None
    if topology:
        servers = request.getfixturevalue(TOPOLOGIES[topology])
        store = from_url(servers.url, key_prefix=f"scenario{next(_prefixes)}:")

    def make(**options: Any) -> Harness:
        options.setdefault("on_event", events)
        if store is not None:
            options.setdefault("store", store)
        if adapter == "asgi":
            return AsgiHarness(starlette_app(clock, **options))
        if adapter == "asgi-trio":
            # The same ASGI scenarios under trio: every async path runs on anyio.
            return AsgiHarness(starlette_app(clock, **options), backend="trio")
        return WsgiHarness(flask_app(clock, **options))

    yield make
    if store is not None:
        store.close()


@pytest.fixture
def client(make_client: MakeClient) -> Harness:
    return make_client()
