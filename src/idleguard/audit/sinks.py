"""Where events go: a callable, the `logging` module, a JSON Lines file, a queue in front of any.

A sink's [`Sink.write`][idleguard.audit.Sink.write] receives a batch of events that
are already redacted, and may block or raise: the built-in sinks run behind a
[`QueuedSink`][idleguard.audit.QueuedSink], on a worker thread, so neither ever
reaches a request.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import inspect
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ..events import Event
from .counters import EVENTS_LOST, CounterHook

__all__ = ["CallableSink", "JsonLinesSink", "LoggingSink", "LossReporter", "QueuedSink", "Sink"]

#: The logger that carries events (`LoggingSink`) and reports of lost ones.
AUDIT_LOGGER = "idleguard.audit"


class Sink(abc.ABC):
    """The interface of an event sink.

    Attributes:
        queued: Whether [`AuditTrail`][idleguard.audit.AuditTrail] puts the sink
            behind a [`QueuedSink`][idleguard.audit.QueuedSink] by itself (true
            for every sink that does I/O).
        name: Labels the sink in loss reports and counters.
    """

    queued: ClassVar[bool] = True
    name: str = "sink"

    @abc.abstractmethod
    def write(self, events: Sequence[Event]) -> None:
        """Deliver a batch of redacted events.

        Args:
            events: The batch, in order.

        Raises:
            Exception: Whatever the sink's I/O raises: the batch was not
                delivered (it is counted as lost).
        """

    def close(self) -> None:  # noqa: B027 - optional for sinks with nothing to release
        """Release files or connections; called once, after the last write."""


class CallableSink(Sink):
    """A plain function (sync or async) called once per event.

    Used directly for a plain sync `on_event` callable, and on a worker thread
    when wrapped in [`QueuedSink`][idleguard.audit.QueuedSink]; an async function is
    then run to completion there with `asyncio.run`.

    Args:
        function: Called with each event.
        name: Labels the sink in loss reports. Default: the function's name.
    """

    queued = False

    def __init__(self, function: Callable[[Event], Any], name: str | None = None) -> None:
        self.function = function
        self.name = name or getattr(function, "__name__", None) or type(function).__name__

    def write(self, events: Sequence[Event]) -> None:
        for event in events:
            result = self.function(event)
            if inspect.isawaitable(result):
                asyncio.run(_awaited(result))


async def _awaited(awaitable: Any) -> None:
    await awaitable


class LoggingSink(Sink):
    """One log record per event, its message the event as one JSON object.

    The record also carries the event's dict as `record.idleguard_event` for a
    structured formatter.

    Args:
        logger: A `logging.Logger` or a logger's name.
        level: The records' level.
    """

    def __init__(self, logger: logging.Logger | str = AUDIT_LOGGER, level: int = logging.INFO):
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.level = level
        self.name = f"logging:{self.logger.name}"

    def write(self, events: Sequence[Event]) -> None:
        for event in events:
            self.logger.log(self.level, event.to_json(), extra={"idleguard_event": event.to_dict()})


class JsonLinesSink(Sink):
    """Appends one JSON object per line to `path` (UTF-8), flushed after every batch.

    The file is opened on the first write and created with mode `0o600`:
    audit records are for the people who run the app.

    Args:
        path: The file.
        fsync: Also ask the OS to put each batch on disk before the next.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.name = f"jsonl:{self.path.name}"
        self._file: Any = None
        self._lock = threading.Lock()

    def write(self, events: Sequence[Event]) -> None:
        lines = "".join(event.to_json() + "\n" for event in events)
        with self._lock:
            if self._file is None:
                descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                self._file = open(descriptor, "a", encoding="utf-8")  # noqa: SIM115
            self._file.write(lines)
            self._file.flush()
            if self.fsync:
                os.fsync(self._file.fileno())

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class LossReporter:
    """Counts events that never reached a sink and says so on the `idleguard.audit` logger.

    The first loss is reported at once; after that at most one warning per
    `interval` seconds of `clock` sums up what was lost since the last one,
    so a dead sink cannot flood the log.
    [`close`][idleguard.audit.LossReporter.close] reports the rest.

    Args:
        clock: Seconds since the epoch.
        interval: Seconds between two warnings.
        counters: Also counts each loss (`idleguard_audit_events_lost_total`).

    Attributes:
        lost: Events lost so far, by `(sink, cause)`.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        interval: float = 60.0,
        counters: CounterHook | None = None,
    ) -> None:
        self.clock = clock
        self.interval = interval
        self.counters = counters
        self.logger = logging.getLogger(AUDIT_LOGGER)
        self.lost: dict[tuple[str, str], int] = {}
        self._unreported: dict[tuple[str, str], int] = {}
        self._errors: dict[tuple[str, str], str] = {}
        self._last_report: float | None = None
        self._lock = threading.Lock()

    def lose(self, sink: str, cause: str, count: int = 1, error: str | None = None) -> None:
        """Record `count` events lost by `sink`.

        Args:
            sink: The sink's name.
            cause: `queue_full`, `sink_failed`, `closed` or `shutdown_timeout`.
            count: How many events.
            error: The exception class, for the report.
        """
        if self.counters is not None:
            # A broken exporter must not cost the report below too.
            with contextlib.suppress(Exception):
                self.counters.increment(EVENTS_LOST, {"sink": sink, "cause": cause}, count)
        with self._lock:
            key = (sink, cause)
            if error is not None:
                self._errors[key] = error
            self.lost[key] = self.lost.get(key, 0) + count
            self._unreported[key] = self._unreported.get(key, 0) + count
            now = self.clock()
            due = self._last_report is None or now - self._last_report >= self.interval
            if not due:
                return
            self._last_report = now
            pending, self._unreported = self._unreported, {}
        self._report(pending)

    def total(self) -> int:
        """Events lost so far, over every sink and cause."""
        with self._lock:
            return sum(self.lost.values())

    def close(self) -> None:
        """Report whatever was lost since the last warning."""
        with self._lock:
            pending, self._unreported = self._unreported, {}
        if pending:
            self._report(pending)

    def _report(self, pending: dict[tuple[str, str], int]) -> None:
        details = ", ".join(
            f"{count} by {sink} ({cause}"
            + (f": {self._errors[(sink, cause)]}" if (sink, cause) in self._errors else "")
            + ")"
            for (sink, cause), count in sorted(pending.items())
        )
        self.logger.warning("idleguard audit events lost: %s", details)


_STOP = object()


class QueuedSink(Sink):
    """Puts a sink behind a bounded queue and a worker thread, off the request path.

    The worker starts with the first event.
    [`close`][idleguard.audit.QueuedSink.close] delivers what is queued (within its
    timeout) and then closes the sink.

    Args:
        sink: A [`Sink`][idleguard.audit.Sink], or a callable (sync or async)
            taking one event.
        maxsize: Events the queue holds. When it is full a new event is dropped,
            counted and reported: a request never waits for a sink.
        batch_size: The most events handed to one
            [`Sink.write`][idleguard.audit.Sink.write] call.
        reporter: The [`LossReporter`][idleguard.audit.LossReporter] losses are
            counted by; the trail passes its own.

    Raises:
        ValueError: `maxsize` or `batch_size` is less than 1.
    """

    queued = False  # it is the queue

    def __init__(
        self,
        sink: Sink | Callable[[Event], Any],
        *,
        maxsize: int = 10_000,
        batch_size: int = 100,
        reporter: LossReporter | None = None,
    ) -> None:
        if maxsize < 1 or batch_size < 1:
            raise ValueError("maxsize and batch_size must be at least 1")
        self.sink: Sink = sink if isinstance(sink, Sink) else CallableSink(sink)
        self.name = self.sink.name
        self.batch_size = batch_size
        self.reporter = reporter or LossReporter()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize)
        self._worker: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._idle = threading.Condition()
        self._pending = 0
        self._closed = False

    def put(self, event: Event) -> bool:
        """Queue one event without waiting.

        Args:
            event: The event.

        Returns:
            False (and counted as lost) when it was dropped.
        """
        if self._closed:
            self.reporter.lose(self.name, "closed")
            return False
        if self._worker is None:
            self._start()
        with self._idle:
            self._pending += 1
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._done(1)
            self.reporter.lose(self.name, "queue_full")
            return False
        return True

    def write(self, events: Sequence[Event]) -> None:
        for event in events:
            self.put(event)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait for the queue to drain.

        Args:
            timeout: The most seconds to wait.

        Returns:
            True if it drained.
        """
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    @property
    def backlog(self) -> int:
        """Events queued or being written."""
        with self._idle:
            return self._pending

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued, then close the sink.

        Args:
            timeout: The most seconds to wait for the queue; what is left then
                is counted as lost.
        """
        if self._closed:
            return
        self._closed = True
        worker = self._worker
        if worker is not None:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    self._queue.put(_STOP, timeout=max(0.01, deadline - time.monotonic()))
                    break
                except queue.Full:
                    if time.monotonic() >= deadline:
                        break
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                # Whatever is still queued will not be written: say so.
                left = self.backlog
                if left:
                    self.reporter.lose(self.name, "shutdown_timeout", left)
                return
        try:
            self.sink.close()
        except Exception:
            logging.getLogger(AUDIT_LOGGER).exception(
                "idleguard audit sink %s: close failed", self.name
            )

    def _start(self) -> None:
        with self._start_lock:
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._run, name=f"idleguard-audit-{self.name}", daemon=True
                )
                self._worker.start()

    def _done(self, count: int) -> None:
        with self._idle:
            self._pending -= count
            if self._pending <= 0:
                self._idle.notify_all()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            stop = item is _STOP
            batch: list[Event] = [] if stop else [item]
            while not stop and len(batch) < self.batch_size:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                else:
                    batch.append(item)
            if batch:
                try:
                    self.sink.write(batch)
                except Exception as error:
                    logging.getLogger(AUDIT_LOGGER).debug(
                        "idleguard audit sink %s failed", self.name, exc_info=True
                    )
                    self.reporter.lose(self.name, "sink_failed", len(batch), type(error).__name__)
                finally:
                    self._done(len(batch))
            if stop:
                return
