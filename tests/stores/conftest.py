"""The store under test, once per backend: every test here runs over each of them.

Each backend has a marker (``-m redis``, ``-m postgresql``, ...) so one backend
can be run, or left out, on its own. Every test gets an empty store: its own
key prefix on the shared Redis, its own table on the shared PostgreSQL, its
own SQLite file.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from idleguard.stores import Store, from_url
from idleguard.stores.local import LocalDecisions

_numbers = itertools.count()

BACKENDS = [
    pytest.param("memory", id="memory", marks=pytest.mark.memory),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
    # The same Redis, deciding live sessions in-process (stores/local.py).
    pytest.param("redis-local", id="redis-local", marks=pytest.mark.redis),
    pytest.param("redis-cluster", id="redis-cluster", marks=pytest.mark.redis_cluster),
    pytest.param("redis-sentinel", id="redis-sentinel", marks=pytest.mark.redis_sentinel),
    pytest.param("valkey", id="valkey", marks=pytest.mark.valkey),
    pytest.param("valkey-local", id="valkey-local", marks=pytest.mark.valkey),
    pytest.param("sqlite", id="sqlite", marks=pytest.mark.sqlite),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
]


#: Backend -> the session fixture of its servers.
TOPOLOGIES = {
    "redis-cluster": "redis_cluster",
    "redis-sentinel": "redis_sentinel",
    "valkey": "valkey_server",
}


def make_store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A fresh, empty store of ``backend``; servers come from the session fixtures."""
    number = next(_numbers)
    if backend == "memory":
        return from_url("memory://")
    if backend == "redis":
        url = request.getfixturevalue("redis_url")
        return from_url(url, key_prefix=f"t{number}:")
    if backend == "redis-local":
        url = request.getfixturevalue("redis_url")
        store = from_url(url + "?local_decisions=1", key_prefix=f"t{number}:")
        assert isinstance(store, LocalDecisions)
        wait_until_healthy(store)
        return store
    if backend == "valkey-local":
        url = request.getfixturevalue("valkey_server").url
        store = from_url(url + "?local_decisions=1", key_prefix=f"t{number}:")
        assert isinstance(store, LocalDecisions)
        wait_until_healthy(store)
        return store
    if backend in TOPOLOGIES:
        topology = request.getfixturevalue(TOPOLOGIES[backend])
        return from_url(topology.url, key_prefix=f"t{number}:")
    if backend == "sqlite":
        return from_url(f"sqlite:///{tmp_path / 'sessions.db'}")
    if backend == "postgresql":
        url = request.getfixturevalue("postgres_url")
        return from_url(url, table=f"sessions_{number}")
    raise AssertionError(backend)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the backend under test."""
    name: str = request.param
    return name


@pytest.fixture
def store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store of each backend in turn."""
    made = make_store(backend, request, tmp_path)
    try:
        yield made
    finally:
        made.close()


def wait_until_healthy(store: LocalDecisions, timeout: float = 5.0) -> None:
    """Block until the store's push connection is subscribed, so local decisions can start."""
    deadline = time.monotonic() + timeout
    while not store.push.healthy():
        if time.monotonic() > deadline:
            raise AssertionError(f"the push connection was not healthy within {timeout} s")
        time.sleep(0.005)
