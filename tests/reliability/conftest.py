"""Servers of the reliability tests' own, to kill, pause and restart."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..servers import RedisServer, ServerUnavailable, unavailable


@pytest.fixture
def persistent_redis() -> Iterator[RedisServer]:
    """A Redis for this test alone that keeps its data across a kill, as production's does."""
    try:
        server = RedisServer(persistent=True)
        server.start()
    except (ServerUnavailable, OSError) as error:
        unavailable("redis", error)
    try:
        yield server
    finally:
        server.close()
