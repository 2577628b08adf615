"""Deliver events through every kind of sink at once and collect what each wrote."""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from idleguard.audit import AuditTrail, JsonLinesSink, LoggingSink, Redactor
from idleguard.audit.sql import SqlSink
from idleguard.events import Event
from idleguard.testing import EventCollector


def outputs_of_every_sink(
    events: Sequence[Event], redactor: Redactor | None = None
) -> dict[str, str]:
    """What a callable, the logging module, a JSON Lines file and a SQLite table received."""
    collected = EventCollector()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger(f"idleguard.test.{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    with tempfile.TemporaryDirectory() as folder:
        lines = Path(folder) / "events.jsonl"
        engine = sa.create_engine(f"sqlite:///{folder}/events.db")
        trail = AuditTrail(
            [collected, LoggingSink(logger), JsonLinesSink(lines), SqlSink(engine)],
            redactor=redactor,
        )
        trail.emit(events)
        trail.close()
        logger.removeHandler(handler)
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT * FROM idleguard_audit_events")).all()
        engine.dispose()
        return {
            "callable": "\n".join(repr(event) + event.to_json() for event in collected.events),
            "logging": stream.getvalue(),
            "jsonl": lines.read_text(encoding="utf-8"),
            "sql": "\n".join(repr(tuple(row)) for row in rows),
        }
