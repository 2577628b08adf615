"""The audit trail: every event is redacted, counted, then handed to each sink.

How each kind of `on_event` entry is delivered is in
[`AuditTrail`][idleguard.audit.AuditTrail]'s docstring.

A sink that fails or falls behind loses events, never a request; each loss
is counted and reported on the `idleguard.audit` logger.
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import anyio
import anyio.to_thread

from ..events import Event
from .counters import CounterHook, count_event
from .redaction import Redactor
from .sinks import CallableSink, LossReporter, QueuedSink, Sink

__all__ = ["AuditTrail", "SinkSpec"]

#: What `on_event=` accepts, one or several: a callable taking an event, or a Sink.
SinkSpec = Sink | Callable[[Event], Any]

_OPEN: weakref.WeakSet[AuditTrail] = weakref.WeakSet()


def _is_async(function: Any) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        getattr(function, "__call__", None)  # noqa: B004 - an object with an async __call__
    )


class AuditTrail:
    """Redacts, counts and delivers events to every sink.

    How each kind of entry is delivered:

    * a plain sync callable (`EventCollector`, a function that appends to a
      list) is called at once, on the request, so tests see events
      immediately. It must be fast; wrap a slow one in
      [`QueuedSink`][idleguard.audit.QueuedSink].
    * an async callable runs as a task on the running event loop (ASGI), at
      most `max_tasks` at a time; with no loop (WSGI) it runs on a worker
      thread.
    * a [`Sink`][idleguard.audit.Sink] that does I/O (logging, JSON Lines, SQL)
      is put behind a [`QueuedSink`][idleguard.audit.QueuedSink] by itself.

    The trail is closed (queues flushed) by
    [`close`][idleguard.audit.AuditTrail.close] /
    [`aclose`][idleguard.audit.AuditTrail.aclose], by the ASGI lifespan shutdown,
    and at interpreter exit.

    Args:
        sinks: One sink or callable, or several. `None` delivers nowhere.
        redactor: The [`Redactor`][idleguard.audit.Redactor]; default the
            built-in rules and 10 KB fields.
        counters: An object with `increment(name, labels, amount)`, e.g. a
            [`CounterSet`][idleguard.audit.CounterSet], moved by every event and
            every loss.
        clock: Seconds since the epoch; paces loss reports.
        queue_size: Events each queued sink holds before new ones are dropped
            (and counted).
        max_tasks: Async callables running at once on the event loop before
            events are dropped.
        report_interval: Seconds between two warnings about lost events (the
            first comes at once).
    """

    def __init__(
        self,
        sinks: SinkSpec | Iterable[SinkSpec] | None = None,
        *,
        redactor: Redactor | None = None,
        counters: CounterHook | None = None,
        clock: Callable[[], float] = time.time,
        queue_size: int = 10_000,
        max_tasks: int = 1_000,
        report_interval: float = 60.0,
    ) -> None:
        self.redactor = redactor if redactor is not None else Redactor()
        self.counters = counters
        self.reporter = LossReporter(clock, report_interval, counters)
        self.max_tasks = max_tasks
        self._direct: list[tuple[str, Callable[[Event], Any]]] = []
        self._async: list[tuple[str, Callable[[Event], Any], QueuedSink]] = []
        self.queued: list[QueuedSink] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        if sinks is None:
            entries: list[SinkSpec] = []
        elif isinstance(sinks, Sink) or callable(sinks):
            entries = [sinks]
        else:
            entries = list(sinks)
        for entry in entries:
            self._add(entry, queue_size)
        if self.queued or self._async:
            _OPEN.add(self)

    def _add(self, entry: SinkSpec, queue_size: int) -> None:
        if isinstance(entry, QueuedSink):
            entry.reporter = self.reporter
            self.queued.append(entry)
        elif isinstance(entry, Sink):
            if entry.queued:
                self.queued.append(QueuedSink(entry, maxsize=queue_size, reporter=self.reporter))
            else:
                self._direct.append((entry.name, _writer(entry)))
        elif callable(entry):
            name = getattr(entry, "__name__", None) or type(entry).__name__
            if _is_async(entry):
                fallback = QueuedSink(
                    CallableSink(entry, name), maxsize=queue_size, reporter=self.reporter
                )
                self._async.append((name, entry, fallback))
            else:
                self._direct.append((name, entry))
        else:
            raise TypeError(
                "on_event entries must be callables or idleguard.audit.Sink, "
                f"not {type(entry).__name__}"
            )

    @property
    def active(self) -> bool:
        """Whether emitting does anything (a sink or counters are configured)."""
        return bool(self._direct or self._async or self.queued or self.counters is not None)

    def __call__(self, event: Event) -> None:
        """Emit one event (the trail is itself an `on_event` hook)."""
        self.emit((event,))

    def emit(self, events: Sequence[Event]) -> None:
        """Redact, count and deliver events; never raises, never waits for a queued sink."""
        for raw in events:
            try:
                event = self.redactor.event(raw)
            except Exception as error:
                # Unredacted, the event must not leave: it is lost, and that is said.
                self.reporter.lose("redactor", "redaction_failed", 1, type(error).__name__)
                continue
            if self.counters is not None:
                try:
                    count_event(self.counters, event)
                except Exception as error:
                    self.reporter.lose("counters", "sink_failed", 1, type(error).__name__)
            for name, function in self._direct:
                try:
                    result = function(event)
                    if inspect.isawaitable(result):
                        self._await(name, result)
                except Exception as error:
                    self.reporter.lose(name, "sink_failed", 1, type(error).__name__)
            for name, function, fallback in self._async:
                self._start_async(name, function, fallback, event)
            for sink in self.queued:
                sink.put(event)

    def _start_async(
        self, name: str, function: Callable[[Event], Any], fallback: QueuedSink, event: Event
    ) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            fallback.put(event)  # no loop here (WSGI): a worker thread runs it
            return
        try:
            awaitable = function(event)
        except Exception as error:
            self.reporter.lose(name, "sink_failed", 1, type(error).__name__)
            return
        self._await(name, awaitable)

    def _await(self, name: str, awaitable: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(_guarded(awaitable, name, self.reporter))
            return
        if len(self._tasks) >= self.max_tasks:
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            self.reporter.lose(name, "queue_full")
            return
        task = loop.create_task(_guarded(awaitable, name, self.reporter))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait for every queued sink to drain (tests, health checks).

        Args:
            timeout: The most seconds to wait.

        Returns:
            True if every queue drained in time.
        """
        deadline = time.monotonic() + timeout
        return all(sink.flush(max(0.0, deadline - time.monotonic())) for sink in self._queues())

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued, close the sinks and report any loss; idempotent."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout
        for sink in self._queues():
            sink.close(max(0.0, deadline - time.monotonic()))
        self.reporter.close()
        _OPEN.discard(self)

    async def aclose(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - passed to close()
        """[`close`][idleguard.audit.AuditTrail.close] from async code.

        Awaits running async callables first.
        """
        if self._tasks:  # only ever made under asyncio: see _await
            await asyncio.wait(set(self._tasks), timeout=timeout)
        # anyio's worker thread, so that a shutdown under trio delivers the queue too.
        await anyio.to_thread.run_sync(self.close, timeout)

    def _queues(self) -> list[QueuedSink]:
        return [*self.queued, *(fallback for _, _, fallback in self._async)]


def _writer(sink: Sink) -> Callable[[Event], Any]:
    def write(event: Event) -> None:
        sink.write((event,))

    return write


async def _guarded(awaitable: Any, name: str, reporter: LossReporter) -> None:
    try:
        await awaitable
    except Exception as error:
        reporter.lose(name, "sink_failed", 1, type(error).__name__)


@atexit.register
def _close_all() -> None:
    # WSGI servers have no shutdown hook: flush what is queued as the process exits.
    for trail in list(_OPEN):
        trail.close(timeout=2.0)
