"""A cell deployed: its server started as a subprocess on 127.0.0.1, with a clock the test moves.

The server is the real one, started from its own command line (``uvicorn --factory ...``,
``gunicorn 'module:factory()'``, ``daphne module:application``), in a temporary folder
that also holds the clock file and the uploads' progress notes.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from ..servers import ServerProcess
from .cells import Cell

__all__ = ["AppServer", "ClockFile", "missing_modules"]

ROOT = Path(__file__).resolve().parents[2]


class ClockFile:
    """The app's clock, seen from the test: ``advance()`` writes the new offset for the app.

    Each write gets a modification time later than the one before, so the app's
    :class:`~tests.matrix.apps.common.FileClock` never misses a change, however close two
    writes come; the file is replaced whole, so the app never reads half of one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0.0
        self._stamp = 0
        self._write()

    def advance(self, seconds: float) -> None:
        """Move the app's clock ``seconds`` forward."""
        self.offset += seconds
        self._write()

    def _write(self) -> None:
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(repr(self.offset), encoding="ascii")
        self._stamp = max(time.time_ns(), self._stamp + 1)
        os.utime(partial, ns=(self._stamp, self._stamp))
        partial.replace(self.path)


def missing_modules(cell: Cell) -> list[str]:
    """The modules the cell's server or framework needs that do not import here."""
    return [name for name in cell.requires if importlib.util.find_spec(name) is None]


class AppServer(ServerProcess):
    """The cell's server, serving the cell's app; ``url`` is its base URL."""

    def __init__(self, cell: Cell, store: str = "memory://") -> None:
        self.name = cell.server.name
        self.cell = cell
        super().__init__()
        self.clock = ClockFile(self.directory / "clock")
        self.progress = self.directory / "progress"
        self.progress.mkdir()
        self.events_folder = self.directory / "events"
        self.events_folder.mkdir()
        self.secret = secrets.token_urlsafe(32)
        self.store = store

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> Sequence[str]:
        return self.cell.server.command(self.cell.app.target, self.port, self.cell.workers)

    def popen_options(self) -> dict[str, object]:
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "IDLEGUARD_TEST_SECRET": self.secret,
            "IDLEGUARD_TEST_CLOCK": str(self.clock.path),
            "IDLEGUARD_TEST_STORE": self.store,
            "IDLEGUARD_TEST_PROGRESS": str(self.progress),
            "IDLEGUARD_TEST_EVENTS": str(self.events_folder),
            "IDLEGUARD_TEST_APP": self.cell.app.target,
        }
        return {"env": environment}

    def events(self, subject: str) -> list[dict[str, Any]]:
        """The audit events about ``subject`` that every process of the server has written."""
        found = []
        for path in sorted(self.events_folder.glob("events-*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                # A line being written may be cut short; it is read whole next time.
                with contextlib.suppress(json.JSONDecodeError):
                    event = json.loads(line)
                    if event.get("subject") == subject:
                        found.append(event)
        return found

    def terminate(self, timeout: float = 20.0) -> int | None:
        """Stop the server as a process manager does (``SIGTERM``); its exit status, or
        ``None`` when it is still running after ``timeout`` seconds (then it is killed)."""
        process = self._process
        assert process is not None, "the server is not running"
        process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            return None
        # A worker that outlived its server must not outlive the test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return status

    def log(self) -> str:
        """Everything the server wrote to its output."""
        return self._log.read_text(errors="replace")

    def ready(self) -> bool:
        # Answering /me means the app is built, not only that something listens:
        # gunicorn's arbiter accepts connections before its workers have the app.
        try:
            response = httpx.get(self.url + "/me", timeout=1.0)
        except httpx.TransportError:
            return False
        return response.status_code == 200
