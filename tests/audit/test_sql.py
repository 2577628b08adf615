"""The SQL sink on SQLite and PostgreSQL: queryable by type, subject, tenant and time."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from idleguard.audit import AuditTrail
from idleguard.audit.sql import SqlSink, read_events
from idleguard.events import Event, EventType

AT = 1_800_000_000.0


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    url: str = request.getfixturevalue("postgresql_url")
    return url


def sample() -> list[Event]:
    return [
        Event(EventType.SESSION_STARTED, AT, session="a" * 20, subject="ada", tenant="acme"),
        Event(
            EventType.SESSION_EXPIRED_INACTIVITY,
            AT + 900,
            session="a" * 20,
            subject="ada",
            tenant="acme",
            reason="idle",
            idle_seconds=900.0,
        ),
        Event(
            EventType.SESSION_STARTED, AT + 1000, session="b" * 20, subject="bob", tenant="globex"
        ),
        Event(
            EventType.SESSION_ENDED,
            AT + 1100,
            session="b" * 20,
            subject="bob",
            tenant="globex",
            reason="signed_out",
            metadata={"connection": "postgresql://u:hunter22@db/x"},
        ),
        Event(
            EventType.INACTIVITY_TIMEOUT_UPDATED,
            AT + 2000,
            tenant="acme",
            metadata={"actor": "admin@acme", "old": 1800, "new": 900},
        ),
        Event(EventType.SESSION_STARTED, AT + 3000, subject="x" * 600, tenant="acme"),
    ]


def test_events_are_stored_and_queried(database: str) -> None:
    table = f"audit_{uuid.uuid4().hex[:8]}"
    trail = AuditTrail(SqlSink(database, table))
    trail.emit(sample())
    trail.close()
    every = list(read_events(database, table))
    assert [event.type for event in every] == [event.type for event in sample()]
    assert every[1] == sample()[1]
    assert "hunter22" not in every[3].metadata["connection"]
    assert every[5].subject == "x" * 600  # the whole value is kept in the record
    types = {e.type.value for e in read_events(database, table, types=["session_started"])}
    assert types == {"session_started"}
    assert [e.subject for e in read_events(database, table, subject="bob")] == ["bob", "bob"]
    assert len(list(read_events(database, table, tenant="acme"))) == 4
    window = list(read_events(database, table, since=AT + 900, until=AT + 2000))
    assert [e.at for e in window] == [AT + 900, AT + 1000, AT + 1100]


def test_the_table_has_indexes_for_the_report(database: str) -> None:
    table = f"audit_{uuid.uuid4().hex[:8]}"
    sink = SqlSink(database, table)
    sink.write(sample()[:1])
    sink.close()
    engine = sa.create_engine(database)
    indexes = {tuple(index["column_names"]) for index in sa.inspect(engine).get_indexes(table)}
    engine.dispose()
    assert {("type", "at"), ("subject", "at"), ("tenant", "at"), ("at",)} <= indexes


def test_an_existing_engine_is_shared_not_disposed(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'shared.db'}")
    sink = SqlSink(engine)
    sink.write(sample())
    sink.close()
    with engine.connect() as connection:  # still usable by the app
        count = connection.execute(sa.text("SELECT count(*) FROM idleguard_audit_events")).scalar()
    assert count == len(sample())
    engine.dispose()
