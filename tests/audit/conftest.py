"""Databases for the SQL sink: SQLite in a temporary file, and a real PostgreSQL server."""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from typing import Any

import pytest


def _unavailable(reason: str) -> None:
    if os.environ.get("IDLEGUARD_REQUIRE_SERVERS") == "1":
        pytest.fail(f"PostgreSQL is required (IDLEGUARD_REQUIRE_SERVERS=1) but {reason}")
    pytest.skip(f"NO POSTGRESQL: {reason}")


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    """A SQLAlchemy URL of a PostgreSQL server started for this test session."""
    # pgserver warns about XDG_RUNTIME_DIR on import where none is set (CI, root).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pgserver: Any = importlib.import_module("pgserver")
        except ImportError:
            _unavailable("the pgserver package is not installed")
    folder = tempfile.mkdtemp(prefix="idleguard-audit-pg-")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pgserver.get_server(folder, cleanup_mode="stop")
    except Exception as error:  # the server could not start here
        shutil.rmtree(folder, ignore_errors=True)
        _unavailable(f"pgserver could not start it: {error}")
    uri: str = server.get_uri()
    yield uri.replace("postgresql://", "postgresql+psycopg://", 1)
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)
