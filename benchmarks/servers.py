"""The real servers the suite measures against: the test suite's own Redis and PostgreSQL.

Started on 127.0.0.1 in temporary directories and removed afterwards. A
server that cannot start leaves its variants out of the run (and says so);
the suite never measures a stand-in.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.servers import PostgresServer, RedisServer, ServerUnavailable

__all__ = ["Servers", "running"]


class Servers:
    """URLs by name (``redis``, ``postgresql``, ``sqlite``) of what is running."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self.redis: RedisServer | None = None
        self.postgres: PostgresServer | None = None
        self.directory = Path(tempfile.mkdtemp(prefix="idleguard-bench-"))
        self.missing: list[str] = []

    def start(self, postgres: bool = True) -> None:
        self.urls["sqlite"] = f"sqlite:///{self.directory / 'sessions.db'}"
        try:
            self.redis = RedisServer()
            self.redis.start()
            self.urls["redis"] = self.redis.url
        except ServerUnavailable as error:
            self.missing.append(f"redis: {error}")
        if postgres:
            try:
                self.postgres = PostgresServer()
                self.postgres.start()
                self.urls["postgresql"] = self.postgres.url
            except ServerUnavailable as error:
                self.missing.append(f"postgresql: {error}")
        for reason in self.missing:
            print(f"SERVER MISSING, its variants are left out: {reason}", file=sys.stderr)

    def postgres_counters(self) -> tuple[int, int]:
        """(transactions committed or rolled back, index scans of the sessions table) so far."""
        import psycopg

        assert self.postgres is not None
        with (
            psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.postgres.port}/postgres") as c,
            c.cursor() as cursor,
        ):
            cursor.execute(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                "WHERE datname = current_database()"
            )
            (transactions,) = cursor.fetchone() or (0,)
            cursor.execute(
                "SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_tables "
                "WHERE relname = 'idleguard_sessions'"
            )
            (scans,) = cursor.fetchone() or (0,)
        return int(transactions), int(scans)

    def close(self) -> None:
        for server in (self.redis, self.postgres):
            if server is not None:
                server.close()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextlib.contextmanager
def running(postgres: bool = True) -> Iterator[Servers]:
    servers = Servers()
    try:
        servers.start(postgres)
        yield servers
    finally:
        servers.close()
