"""Delivery: a slow or failing sink never slows or fails a request, and every loss is counted."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from idleguard import IdleGuard, Policy
from idleguard.audit import (
    AuditTrail,
    CounterSet,
    JsonLinesSink,
    LoggingSink,
    LossReporter,
    QueuedSink,
    Sink,
)
from idleguard.audit import trail as trail_module
from idleguard.audit.counters import EVENTS_LOST, SESSIONS_ENDED, STORE_ERRORS
from idleguard.events import Event, EventType
from idleguard.testing import EventCollector, SettableClock

from .harness import ADAPTERS, AsgiClient, asgi_app, make_client

AT = 1_800_000_000.0


def started(number: int = 0) -> Event:
    return Event(EventType.SESSION_STARTED, AT + number, subject=f"user{number}")


class GatedSink(Sink):
    """Blocks every write until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.written: list[Event] = []
        self.name = "gated"

    def write(self, events: Sequence[Event]) -> None:
        self.gate.wait(10)
        self.written.extend(events)


class BrokenSink(Sink):
    name = "broken"

    def write(self, events: Sequence[Event]) -> None:
        raise ConnectionError("the log server is down")


class SlowSink(Sink):
    """Takes ``pause`` seconds per write, like a remote database on a bad day."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.written: list[Event] = []
        self.name = "slow"

    def write(self, events: Sequence[Event]) -> None:
        threading.Event().wait(self.pause)
        self.written.extend(events)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_stuck_sink_neither_slows_requests_nor_loses_silently(
    adapter: str, caplog: pytest.LogCaptureFixture
) -> None:
    sink = GatedSink()
    queued = QueuedSink(sink, maxsize=3, batch_size=1)
    counters = CounterSet()
    collected = EventCollector()
    client = make_client(adapter, on_event=[queued, collected], counters=counters)
    began = time.perf_counter()
    for number in range(20):
        client.cookie = None
        assert client.request("POST", "/login", f"user=u{number}") == 200
    elapsed = time.perf_counter() - began
    assert elapsed < 2.0  # the sink is stuck for 10 s: no request waited for it
    assert len(collected.events) == 20  # a plain callable is still called at once
    sink.gate.set()
    assert queued.flush(5)
    lost = queued.reporter.total()
    assert lost >= 20 - 3 - 1
    assert len(sink.written) + lost == 20
    assert counters.value(EVENTS_LOST, sink="gated", cause="queue_full") == lost
    assert any(
        "events lost" in r.getMessage() and "queue_full" in r.getMessage() for r in caplog.records
    )
    queued.close()


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_failing_sink_or_hook_never_fails_a_request(
    adapter: str, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_hook(event: Event) -> None:
        raise RuntimeError("bug in the app's hook")

    broken = QueuedSink(BrokenSink())
    client = make_client(adapter, on_event=[broken, broken_hook])
    assert client.request("POST", "/login", "user=ada") == 200
    assert client.request("POST", "/logout") == 200
    assert broken.flush(5)
    assert broken.reporter.lost == {("broken", "sink_failed"): 2, ("broken_hook", "sink_failed"): 2}
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "ConnectionError" in messages or "RuntimeError" in messages
    broken.close()


def test_loss_reports_are_paced_by_the_injected_clock(caplog: pytest.LogCaptureFixture) -> None:
    clock = SettableClock()
    reporter = LossReporter(clock, interval=60.0)
    for _ in range(5):
        reporter.lose("db", "queue_full")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["idleguard audit events lost: 1 by db (queue_full)"]
    clock.advance(59)
    reporter.lose("db", "queue_full")
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    clock.advance(1)
    reporter.lose("db", "sink_failed", 3, "TimeoutError")
    assert caplog.records[-1].getMessage() == (
        "idleguard audit events lost: 5 by db (queue_full), 3 by db (sink_failed: TimeoutError)"
    )
    reporter.lose("db", "queue_full")
    reporter.close()
    assert caplog.records[-1].getMessage() == "idleguard audit events lost: 1 by db (queue_full)"
    assert reporter.total() == 10


def test_a_slow_sink_gets_everything_on_close() -> None:
    sink = SlowSink(0.01)
    trail = AuditTrail(QueuedSink(sink, batch_size=1))
    trail.emit([started(number) for number in range(30)])
    trail.close(timeout=10)
    assert [event.subject for event in sink.written] == [f"user{n}" for n in range(30)]
    assert trail.reporter.total() == 0
    trail.emit([started()])  # after close: counted, never silently dropped
    assert trail.reporter.lost == {("slow", "closed"): 1}


async def test_lifespan_shutdown_flushes_the_queue(tmp_path: Path) -> None:
    slow = SlowSink(0.01)
    guard = IdleGuard(
        asgi_app, secret_key="k" * 40, https_only=False, on_event=[QueuedSink(slow, batch_size=1)]
    )
    client = AsgiClient(guard)
    for number in range(15):
        client.cookie = None
        await client.arequest("POST", "/login", f"user=u{number}")
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    delivered_at_completion: list[int] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "lifespan.shutdown.complete":
            delivered_at_completion.append(len(slow.written))

    await guard({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert delivered_at_completion == [15]


async def test_async_hooks_run_as_tasks_on_the_loop() -> None:
    seen: list[str] = []
    release = asyncio.Event()

    async def hook(event: Event) -> None:
        await release.wait()
        seen.append(event.type.value)

    guard = IdleGuard(asgi_app, secret_key="k" * 40, https_only=False, on_event=hook)
    client = AsgiClient(guard)
    assert await client.arequest("POST", "/login", "user=ada") == 200
    assert seen == []  # the request did not wait for the hook
    release.set()
    await guard.settings.audit.aclose()
    assert seen == ["session_started"]


def test_async_hooks_run_on_a_worker_thread_under_wsgi() -> None:
    seen: list[str] = []

    async def hook(event: Event) -> None:
        await asyncio.sleep(0)
        seen.append(event.type.value)

    client = make_client("wsgi", on_event=hook)
    client.request("POST", "/login", "user=ada")
    client.request("POST", "/logout")
    assert hasattr(client, "app")
    client.app.settings.audit.close()
    assert seen == ["session_started", "session_ended"]


def test_interpreter_exit_flushes_open_trails(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    trail = AuditTrail(JsonLinesSink(path))
    trail.emit([started(1), started(2)])
    trail_module._close_all()  # what atexit runs for WSGI servers
    lines = path.read_text().splitlines()
    assert [json.loads(line)["subject"] for line in lines] == ["user1", "user2"]
    assert trail not in trail_module._OPEN


def test_the_logging_sink_writes_one_json_object_per_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="idleguard.audit")
    trail = AuditTrail(LoggingSink())
    trail.emit([started(1), Event(EventType.SESSION_ENDED, AT, metadata={"password": "pw"})])
    trail.close()
    records = [r for r in caplog.records if r.name == "idleguard.audit"]
    decoded = [json.loads(record.getMessage()) for record in records]
    assert [data["type"] for data in decoded] == ["session_started", "session_ended"]
    assert decoded[1]["metadata"] == {"password": "[REDACTED]"}
    assert records[0].idleguard_event["subject"] == "user1"  # type: ignore[attr-defined]


def test_jsonl_file_is_private_and_appended(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    for number in (1, 2):
        trail = AuditTrail(JsonLinesSink(path, fsync=True))
        trail.emit([started(number)])
        trail.close()
    assert len(path.read_text().splitlines()) == 2
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_counters_follow_events(adapter: str) -> None:
    clock = SettableClock()
    counters = CounterSet()
    client = make_client(
        adapter, clock=clock, counters=counters, policy=Policy(idle_timeout=60, warn_before=10)
    )
    client.request("POST", "/login", "user=ada")
    clock.advance(61)
    client.request("GET", "/page")
    client.request("POST", "/login", "user=ada")
    client.request("POST", "/logout")
    assert counters.value(SESSIONS_ENDED, reason="idle") == 1
    assert counters.value(SESSIONS_ENDED, reason="signed_out") == 1
    assert counters.value(STORE_ERRORS) == 0
    assert ("idleguard_events_total", {"type": "session_started"}, 2) in counters.samples()


@pytest.mark.parametrize(
    "entry",
    [pytest.param(42, id="number"), pytest.param("events.jsonl", id="string")],
)
def test_an_entry_that_is_not_a_sink_fails_at_start(entry: Any) -> None:
    with pytest.raises(TypeError, match="on_event"):
        AuditTrail([entry])
