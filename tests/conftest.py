"""Fixtures shared by the whole suite: a settable clock, an event collector, and real
Redis and PostgreSQL servers.

``redis_url`` and ``postgres_url`` are one server each for the session;
``redis_server`` and ``postgres_server`` are the same servers, for a test that
must see the process. A fault test that kills a server gets its own from
``own_redis`` / ``own_postgres`` so nobody else's tests see the outage.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from idleguard.testing import EventCollector, SettableClock

from .servers import PostgresServer, RedisServer, ServerUnavailable, unavailable
from .topologies import RedisCluster, SentinelSet, ValkeyServer, start


@pytest.fixture
def clock() -> SettableClock:
    """A clock that moves only when the test moves it."""
    return SettableClock()


@pytest.fixture
def events() -> EventCollector:
    """Collects every event the middleware emits."""
    return EventCollector()


def _serve(
    kind: type[RedisServer] | type[PostgresServer],
) -> Iterator[RedisServer | PostgresServer]:
    try:
        server = kind()
        server.start()
    except (ServerUnavailable, OSError) as error:
        unavailable(kind.name, error)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One Redis for the whole test session."""
    for server in _serve(RedisServer):
        assert isinstance(server, RedisServer)
        yield server


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    """``redis://127.0.0.1:PORT/0`` of the session's Redis."""
    return redis_server.url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL for the whole test session."""
    for server in _serve(PostgresServer):
        assert isinstance(server, PostgresServer)
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """``postgresql+psycopg://postgres@127.0.0.1:PORT/postgres`` of the session's PostgreSQL."""
    return postgres_server.url


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis for this test alone, to kill and restart at will."""
    for server in _serve(RedisServer):
        assert isinstance(server, RedisServer)
        yield server


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL for this test alone, to kill and restart at will."""
    for server in _serve(PostgresServer):
        assert isinstance(server, PostgresServer)
        yield server


def _topology(kind: type[RedisCluster] | type[SentinelSet] | type[ValkeyServer]) -> Iterator[Any]:
    try:
        topology = kind()
        start(topology)
    except (ServerUnavailable, OSError) as error:
        unavailable(kind.name, error)
    try:
        yield topology
    finally:
        topology.close()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """One Redis Cluster (three primaries, three replicas) for the whole test session."""
    yield from _topology(RedisCluster)


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[SentinelSet]:
    """One primary, one replica and three Sentinels for the whole test session."""
    yield from _topology(SentinelSet)


@pytest.fixture(scope="session")
def valkey_server() -> Iterator[ValkeyServer]:
    """One Valkey for the whole test session."""
    yield from _topology(ValkeyServer)


@pytest.fixture
def own_cluster() -> Iterator[RedisCluster]:
    """A Redis Cluster for this test alone, to kill nodes of."""
    yield from _topology(RedisCluster)


@pytest.fixture
def own_sentinel() -> Iterator[SentinelSet]:
    """A Sentinel set for this test alone, to kill its primary."""
    yield from _topology(SentinelSet)
