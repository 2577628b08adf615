"""Events in a SQL table (SQLAlchemy Core), queryable by type, subject, tenant and time.

Works on SQLite and PostgreSQL. Each row keeps the whole redacted event as
JSON in `data`; `type`, `at`, `session`, `subject` and `tenant`
are copied into indexed columns for queries (`subject` and `tenant` cut to
255 characters there; `data` is the record).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

try:
    import sqlalchemy as sa
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        'the SQL audit sink needs SQLAlchemy: pip install "idleguard[sql]"'
    ) from error

from ..events import SCHEMA_VERSION, Event
from .sinks import Sink

__all__ = ["DEFAULT_TABLE", "SqlSink", "events_table", "read_events"]

DEFAULT_TABLE = "idleguard_audit_events"
_INDEXED_LENGTH = 255


def events_table(metadata: sa.MetaData, name: str = DEFAULT_TABLE) -> sa.Table:
    """The table definition, for Alembic or `metadata.create_all`.

    Args:
        metadata: The `MetaData` to define it in.
        name: The table's name.

    Returns:
        The table.
    """
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session", sa.String(64)),
        sa.Column("subject", sa.String(_INDEXED_LENGTH)),
        sa.Column("tenant", sa.String(_INDEXED_LENGTH)),
        sa.Column("reason", sa.String(64)),
        sa.Column("data", sa.Text, nullable=False),
        sa.Index(f"ix_{name}_type_at", "type", "at"),
        sa.Index(f"ix_{name}_subject_at", "subject", "at"),
        sa.Index(f"ix_{name}_tenant_at", "tenant", "at"),
        sa.Index(f"ix_{name}_at", "at"),
    )


def _cut(value: str | None, length: int) -> str | None:
    return value if value is None or len(value) <= length else value[:length]


def _moment(at: float) -> datetime:
    return datetime.fromtimestamp(at, timezone.utc)


class SqlSink(Sink):
    """Inserts events into a table; one transaction per batch.

    Args:
        engine: A SQLAlchemy `Engine` (the SQL store's, or its own) or a
            database URL.
        table: The table name.
        create: Create the table and its indexes if missing; pass `False` when
            migrations own the schema.
    """

    def __init__(
        self, engine: sa.engine.Engine | str, table: str = DEFAULT_TABLE, *, create: bool = True
    ) -> None:
        self._owns_engine = isinstance(engine, str)
        self.engine = sa.create_engine(engine) if isinstance(engine, str) else engine
        self.table = events_table(sa.MetaData(), table)
        self.name = f"sql:{table}"
        self._create = create
        self._ready = False

    def write(self, events: Sequence[Event]) -> None:
        if not self._ready:
            if self._create:
                self.table.create(self.engine, checkfirst=True)
            self._ready = True
        rows = [
            {
                "version": SCHEMA_VERSION,
                "type": event.type.value,
                "at": _moment(event.at),
                "session": event.session,
                "subject": _cut(event.subject, _INDEXED_LENGTH),
                "tenant": _cut(event.tenant, _INDEXED_LENGTH),
                "reason": _cut(event.reason, 64),
                "data": event.to_json(),
            }
            for event in events
        ]
        with self.engine.begin() as connection:
            connection.execute(self.table.insert(), rows)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()


def read_events(
    engine: sa.engine.Engine | str,
    table: str = DEFAULT_TABLE,
    *,
    since: float | None = None,
    until: float | None = None,
    types: Sequence[str] = (),
    subject: str | None = None,
    tenant: str | None = None,
) -> Iterator[Event]:
    """Events from the table in time order, filtered on the indexed columns.

    Args:
        engine: A SQLAlchemy `Engine` or a database URL.
        table: The table's name.
        since: The earliest time, inclusive, in seconds since the epoch.
        until: The latest time, exclusive, in seconds since the epoch.
        types: Only these event types (their string values); all by default.
        subject: Only this subject's events.
        tenant: Only this tenant's events.

    Yields:
        The events.
    """
    owned = isinstance(engine, str)
    bound = sa.create_engine(engine) if isinstance(engine, str) else engine
    events = events_table(sa.MetaData(), table)
    query = sa.select(events.c.data).order_by(events.c.at, events.c.id)
    if since is not None:
        query = query.where(events.c.at >= _moment(since))
    if until is not None:
        query = query.where(events.c.at < _moment(until))
    if types:
        query = query.where(events.c.type.in_(list(types)))
    if subject is not None:
        query = query.where(events.c.subject == subject)
    if tenant is not None:
        query = query.where(events.c.tenant == tenant)
    try:
        with bound.connect() as connection:
            for (data,) in connection.execute(query):
                yield Event.from_dict(_loads(data))
    finally:
        if owned:
            bound.dispose()


def _loads(data: str) -> Any:
    return json.loads(data)
