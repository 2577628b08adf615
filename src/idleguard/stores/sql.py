"""The SQL store: sessions in a table, on SQLAlchemy Core (SQLite, PostgreSQL, ...).

Each write is one conditional statement that names what it read: a touch is
`UPDATE ... SET last_activity = :now WHERE key = :key AND ended IS NULL AND
last_activity = :read`, an expiry the same with `SET ended`. If another
request changed the row in between, nothing is written, the row is read
again and decided again. So a request racing a sign-out or an expiry can
never bring the session back, with no lock and no transaction held across a
round trip. A request that does not touch (most of them, within
`touch_interval`) costs one `SELECT`.

Every operation is written once, as a generator that yields the statements it
needs; `SQLStore._sync` runs them on the sync engine (WSGI) and
`SQLStore._async` on the async engine (ASGI).

The table is created on first use (`create_table=True`). To create it with
your own migrations instead, see `MIGRATION` (the same DDL as SQL).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Generator
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..core import (
    NO_SESSION,
    EndReason,
    Limits,
    SessionRecord,
    decide,
    record_from_mapping,
    touched,
)
from .base import StoreUnavailable, deadline
from .stepped import SteppedStore

__all__ = ["MIGRATION", "SQLStore", "sessions_table"]

#: A write that lost a race is decided again; this many losses in a row is
#: contention no real session sees, and is reported as the store being unavailable.
_ATTEMPTS = 8

#: An operation yields (shape, statement) and is sent back: the row or `None`
#: for `"one"`, the rows for `"all"`, the number of rows changed for `"count"`.
_Step = Generator[tuple[str, sa.Executable], Any, Any]


def sessions_table(
    name: str = "idleguard_sessions", metadata: sa.MetaData | None = None
) -> sa.Table:
    """The table's definition, for an app that manages its schema with SQLAlchemy or Alembic.

    Times are seconds since the epoch. `deadline` is when a live session's
    first limit is reached under the limits it was last written with (the
    sweep looks for it through its index); `drop_after` is when the row,
    live or tombstone, may be deleted.

    Args:
        name: The table's name.
        metadata: The app's `MetaData` to define it in; a new one by default.

    Returns:
        The table.
    """
    return sa.Table(
        name,
        metadata if metadata is not None else sa.MetaData(),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(255), nullable=True, index=True),
        sa.Column("tenant", sa.String(255), nullable=True),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("last_activity", sa.Double, nullable=False),
        sa.Column("authenticated_at", sa.Double, nullable=False),
        sa.Column("ended", sa.String(16), nullable=True),
        sa.Column("idle_timeout", sa.Double, nullable=True),
        sa.Column("absolute_timeout", sa.Double, nullable=True),
        sa.Column("deadline", sa.Double, nullable=True, index=True),
        sa.Column("drop_after", sa.Double, nullable=True, index=True),
    )


#: The table as plain SQL (PostgreSQL spelling), for a migration tool.
MIGRATION = """\
CREATE TABLE idleguard_sessions (
    key VARCHAR(64) PRIMARY KEY,
    subject VARCHAR(255),
    tenant VARCHAR(255),
    created_at DOUBLE PRECISION NOT NULL,
    last_activity DOUBLE PRECISION NOT NULL,
    authenticated_at DOUBLE PRECISION NOT NULL,
    ended VARCHAR(16),
    idle_timeout DOUBLE PRECISION,
    absolute_timeout DOUBLE PRECISION,
    deadline DOUBLE PRECISION,
    drop_after DOUBLE PRECISION
);
CREATE INDEX ix_idleguard_sessions_subject ON idleguard_sessions (subject);
CREATE INDEX ix_idleguard_sessions_deadline ON idleguard_sessions (deadline);
CREATE INDEX ix_idleguard_sessions_drop_after ON idleguard_sessions (drop_after);
"""

#: Sync URL scheme -> the drivers idleguard uses (sync, async).
_DRIVERS = {
    "sqlite": ("sqlite", "sqlite+aiosqlite"),
    "postgresql": ("postgresql+psycopg", "postgresql+psycopg"),
    "postgres": ("postgresql+psycopg", "postgresql+psycopg"),
}


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


class SQLStore(SteppedStore):
    """Sessions in a SQL table, shared by every worker that reaches the database.

    Args:
        url: A SQLAlchemy URL: `sqlite:///path/to/sessions.db`,
            `postgresql://user:password@host/db` (psycopg 3), or any
            `dialect+driver://` SQLAlchemy knows (give `async_url` then).
        async_url: The URL for the async engine, when it cannot be derived from
            `url`.
        table: The table's name.
        create_table: Create the table (if missing) on first use. Turn off when
            migrations own it.
        timeout: Seconds a statement, or waiting for a connection, may take
            before the store counts as unavailable.
        tombstone_ttl: Seconds an ended session's row is kept so its credential
            is refused.
        **engine_options: Passed to `sqlalchemy.create_engine` and its async
            twin.

    Raises:
        ValueError: `timeout` is not a positive number of seconds.
    """

    schemes: ClassVar[tuple[str, ...]] = (
        "sqlite",
        "sqlite+pysqlite",
        "sqlite+aiosqlite",
        "postgresql",
        "postgres",
        "postgresql+psycopg",
        "postgresql+psycopg2",
        "postgresql+asyncpg",
    )
    remote: ClassVar[bool] = True

    def __init__(
        self,
        url: str,
        *,
        async_url: str | None = None,
        table: str = "idleguard_sessions",
        create_table: bool = True,
        timeout: float = 2.0,
        tombstone_ttl: float = 24 * 3600.0,
        **engine_options: Any,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        sync_url, derived_async = _urls(url)
        self.table = sessions_table(table)
        self.tombstone_ttl = tombstone_ttl
        self.timeout = timeout
        self._create_table = create_table
        self._table_ready = not create_table
        self._sync_url = sync_url
        self._async_url = async_url or derived_async
        self._engine_options = engine_options
        self._engine = sa.create_engine(sync_url, **self._options(sync_url), **engine_options)
        self._async_engine: AsyncEngine | None = None
        self._async_loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SQLStore:
        """Build from a SQLAlchemy URL.

        Args:
            url: The SQLAlchemy URL.
            **options: The constructor's keyword arguments.

        Returns:
            The store.
        """
        return cls(url, **options)

    def _options(self, url: str) -> dict[str, Any]:
        backend = make_url(url).get_backend_name()
        if backend == "sqlite":
            # The busy timeout: how long a writer waits for another's lock.
            return {"connect_args": {"timeout": self.timeout}}
        if backend == "postgresql":
            millis = max(1, round(self.timeout * 1000))
            return {
                "pool_timeout": self.timeout,
                "pool_pre_ping": False,
                "connect_args": {
                    "connect_timeout": max(2, math.ceil(self.timeout)),
                    "options": f"-c statement_timeout={millis} -c lock_timeout={millis}",
                },
            }
        return {"pool_timeout": self.timeout}

    # -- the operations, written once -----------------------------------------
    def _record(self, row: Any) -> SessionRecord:
        data: dict[str, Any] = {
            "c": row.created_at,
            "l": row.last_activity,
            "a": row.authenticated_at,
        }
        if row.subject is not None:
            data["s"] = row.subject
        if row.tenant is not None:
            data["t"] = row.tenant
        if row.ended is not None:
            data["e"] = row.ended
        return record_from_mapping(data)

    def _live_values(self, record: SessionRecord, limits: Limits) -> dict[str, Any]:
        first = deadline(record, limits)
        return {
            "idle_timeout": limits.idle_timeout,
            "absolute_timeout": limits.absolute_timeout,
            "deadline": _finite_or_none(first),
            "drop_after": _finite_or_none(first + self.tombstone_ttl),
        }

    def _select(self, key: str) -> sa.Select[Any]:
        return sa.select(self.table).where(self.table.c.key == key)

    def _swap(self, key: str, read: SessionRecord, **values: Any) -> sa.Update:
        """A write that happens only if the row is still what was read."""
        c = self.table.c
        return (
            sa.update(self.table)
            .where(c.key == key, c.ended.is_(None), c.last_activity == read.last_activity)
            .values(**values)
        )

    def _advance(self, key: str, now: float, **values: Any) -> sa.Update:
        """A touch: last activity moves forward to `now` on a live row, never back.

        Unlike `_swap` it does not insist on the exact row it read: any
        live row older than `now` may take the touch, so concurrent requests
        of one busy session do not keep failing each other's writes.
        """
        c = self.table.c
        return (
            sa.update(self.table)
            .where(c.key == key, c.ended.is_(None), c.last_activity < now)
            .values(last_activity=now, **values)
        )

    def _check(self, key: str, limits: Limits, activity: bool, now: float) -> _Step:
        for _ in range(_ATTEMPTS):
            row = yield "one", self._select(key)
            if row is None:
                return NO_SESSION, None
            record = self._record(row)
            decision = decide(record, limits, activity, now)
            if decision.touch and now > record.last_activity:
                after = touched(record, now)
                changed = yield (
                    "count",
                    self._advance(key, now, **self._live_values(after, limits)),
                )
                if not changed:
                    # Ended under us, or a later request touched first: read again.
                    continue
            elif decision.expired_now:
                reason = decision.reason or EndReason.IDLE
                changed = yield (
                    "count",
                    self._swap(
                        key,
                        record,
                        ended=reason.value,
                        deadline=None,
                        drop_after=now + self.tombstone_ttl,
                    ),
                )
            else:
                return decision, record
            if changed:
                return decision, record
        raise StoreUnavailable("sql: the session row kept changing under the check")

    def _create(self, key: str, record: SessionRecord, limits: Limits) -> _Step:
        yield "count", sa.delete(self.table).where(self.table.c.key == key)
        yield (
            "count",
            sa.insert(self.table).values(
                key=key,
                subject=record.subject,
                tenant=record.tenant,
                created_at=record.created_at,
                last_activity=record.last_activity,
                authenticated_at=record.authenticated_at,
                ended=record.ended.value if record.ended is not None else None,
                **self._live_values(record, limits),
            ),
        )

    def _end(self, key: str, reason: EndReason, now: float) -> _Step:
        for _ in range(_ATTEMPTS):
            row = yield "one", self._select(key)
            if row is None:
                try:
                    yield (
                        "count",
                        sa.insert(self.table).values(
                            key=key,
                            created_at=now,
                            last_activity=now,
                            authenticated_at=now,
                            ended=reason.value,
                            drop_after=now + self.tombstone_ttl,
                        ),
                    )
                except IntegrityError:
                    continue  # created in between: end that one
                return None
            record = self._record(row)
            if record.ended is not None:
                return None
            changed = yield (
                "count",
                self._swap(
                    key,
                    record,
                    ended=reason.value,
                    deadline=None,
                    drop_after=now + self.tombstone_ttl,
                ),
            )
            if changed:
                return record
        raise StoreUnavailable("sql: the session row kept changing under the sign-out")

    def _reauthenticate(self, key: str, now: float) -> _Step:
        c = self.table.c
        # Never moves back: the larger of the stored time and now.
        later = sa.case((c.authenticated_at < now, now), else_=c.authenticated_at)
        changed = yield (
            "count",
            (
                sa.update(self.table)
                .where(c.key == key, c.ended.is_(None))
                .values(authenticated_at=later)
            ),
        )
        return bool(changed)

    def _sessions_of(self, subject: str) -> _Step:
        c = self.table.c
        rows = yield "all", sa.select(self.table).where(c.subject == subject, c.ended.is_(None))
        return [(row.key, self._record(row)) for row in rows]

    def _revoke_subject(self, subject: str, now: float) -> _Step:
        live = yield from self._sessions_of(subject)
        ended = []
        for key, _ in live:
            record = yield from self._end(key, EndReason.REVOKED, now)
            if record is not None:
                ended.append((key, record))
        return ended

    def _purge(self, now: float) -> _Step:
        c = self.table.c
        rows = yield "all", sa.select(self.table).where(c.ended.is_(None), c.deadline <= now)
        expired = []
        for row in rows:
            limits = Limits(row.idle_timeout, row.absolute_timeout, 0.0)
            record = self._record(row)
            decision = decide(record, limits, False, now)
            if not decision.expired_now:
                continue
            reason = decision.reason or EndReason.IDLE
            changed = yield (
                "count",
                self._swap(
                    row.key,
                    record,
                    ended=reason.value,
                    deadline=None,
                    drop_after=now + self.tombstone_ttl,
                ),
            )
            if changed:
                expired.append((row.key, record, reason))
        # Rows past their keeping time go, tombstones and all.
        yield "count", sa.delete(self.table).where(c.drop_after <= now)
        return expired

    # -- sync (WSGI) ----------------------------------------------------------
    def _sync(self, step: _Step) -> Any:
        try:
            if not self._table_ready:
                self.table.metadata.create_all(self._engine, checkfirst=True)
                self._table_ready = True
            reply: Any = None
            error: BaseException | None = None
            while True:
                try:
                    shape, statement = step.send(reply) if error is None else step.throw(error)
                except StopIteration as stop:
                    return stop.value
                error = None
                try:
                    # One short transaction per statement: nothing is held across a round trip.
                    with self._engine.begin() as connection:
                        reply = _reply(connection.execute(statement), shape)
                except IntegrityError as failure:
                    error, reply = failure, None
        except StoreUnavailable:
            raise
        except (SQLAlchemyError, OSError) as failure:
            raise _unavailable(failure) from failure

    def close(self) -> None:
        self._engine.dispose()

    # -- async (ASGI) ---------------------------------------------------------
    def _aengine(self) -> AsyncEngine:
        loop = asyncio.get_running_loop()
        # An async connection belongs to the loop that opened it.
        if self._async_engine is None or self._async_loop is not loop:
            self._async_engine = create_async_engine(
                self._async_url, **self._options(self._async_url), **self._engine_options
            )
            self._async_loop = loop
        return self._async_engine

    async def _async(self, step: _Step) -> Any:
        try:
            engine = self._aengine()
            if not self._table_ready:
                async with engine.begin() as connection:
                    await connection.run_sync(self.table.metadata.create_all, checkfirst=True)
                self._table_ready = True
            reply: Any = None
            error: BaseException | None = None
            while True:
                try:
                    shape, statement = step.send(reply) if error is None else step.throw(error)
                except StopIteration as stop:
                    return stop.value
                error = None
                try:
                    async with engine.begin() as connection:
                        reply = _reply(await connection.execute(statement), shape)
                except IntegrityError as failure:
                    error, reply = failure, None
        except StoreUnavailable:
            raise
        except (SQLAlchemyError, OSError) as failure:
            raise _unavailable(failure) from failure

    async def aclose(self) -> None:
        if self._async_engine is not None:
            await self._async_engine.dispose()
            self._async_engine = None
        self._engine.dispose()


def _unavailable(failure: BaseException) -> StoreUnavailable:
    """The driver's error as the store's: its type and first line, never a whole dump."""
    text = str(failure).strip()
    first_line = text.splitlines()[0] if text else ""
    return StoreUnavailable(f"sql: {type(failure).__name__}: {first_line}")


def _reply(result: sa.CursorResult[Any], shape: str) -> Any:
    if shape == "one":
        return result.first()
    if shape == "all":
        return result.all()
    return result.rowcount


def _urls(url: str) -> tuple[str, str]:
    """The sync and async URLs for a user's URL, with the drivers idleguard ships extras for."""
    parsed = make_url(url)
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    explicit = "+" in parsed.drivername
    sync_driver, async_driver = _DRIVERS.get(backend, (parsed.drivername, parsed.drivername))
    if explicit and driver in {"aiosqlite", "asyncpg"}:
        sync_name = _DRIVERS.get(backend, (parsed.drivername, ""))[0]
        async_name = parsed.drivername
    elif explicit:
        sync_name = parsed.drivername
        async_name = (
            async_driver if driver in {"pysqlite", "psycopg", "psycopg2"} else parsed.drivername
        )
    else:
        sync_name, async_name = sync_driver, async_driver
    return (
        parsed.set(drivername=sync_name).render_as_string(hide_password=False),
        parsed.set(drivername=async_name).render_as_string(hide_password=False),
    )
