"""What every matrix app shares: its configuration from the environment and the injected clock.

Each app module builds its app in a factory that a server calls (or imports, for the
servers that take an object), in a process of its own. Everything a test must control
reaches that process through the environment:

``IDLEGUARD_TEST_SECRET``    the secret that signs idleguard's cookie
``IDLEGUARD_TEST_CLOCK``     a file holding seconds to add to ``time.time()``; the test
                             moves the app's clock by writing it
``IDLEGUARD_TEST_STORE``     the store URL (default ``memory://``)
``IDLEGUARD_TEST_PROGRESS``  a folder: an upload notes there how many bytes it has read,
                             so the test knows the app has seen a chunk
``IDLEGUARD_TEST_EVENTS``    a folder: each process appends its audit events to
                             ``events-<pid>.jsonl`` there

The policy is the one the scenarios are written for: 900 s idle, 4 h absolute, a touch
interval of one second so that every move of the clock makes the next activity count.
"""

from __future__ import annotations

import html
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio

import idleguard
from idleguard import Policy
from idleguard.audit import JsonLinesSink

__all__ = [
    "CHUNK_SIZE",
    "DOWNLOAD_CHUNKS",
    "DOWNLOAD_STEP",
    "IDLE_TIMEOUT",
    "PASSIVE_PATHS",
    "POLICY",
    "WEBSOCKET_RECHECK",
    "Config",
    "FileClock",
    "page",
    "who",
]

IDLE_TIMEOUT = 900.0
POLICY = Policy(idle_timeout=IDLE_TIMEOUT, absolute_timeout=4 * 3600, touch_interval=1)
PASSIVE_PATHS = ("/poll",)
#: Seconds between two checks of an open WebSocket, small so a test sees a close at once.
WEBSOCKET_RECHECK = 0.2
#: Bytes an upload reads at a time, and a download sends at a time.
CHUNK_SIZE = 64 * 1024
DOWNLOAD_CHUNKS = 4
#: How far the test moves the clock after each downloaded chunk (seconds): four chunks
#: take longer than the idle limit, so only the download itself can keep the session alive.
DOWNLOAD_STEP = 300.0
#: How long (real seconds) a download waits for the test to move the clock before it
#: sends the next chunk anyway: a server that holds the response back never lets it.
DOWNLOAD_PATIENCE = 3.0
_POLL_INTERVAL = 0.005


class FileClock:
    """``time.time()`` plus the offset written in a file, reread whenever the file changes.

    A file rather than anything in memory, because the app runs in the server's process
    (or its workers) and the test in another one. The writer gives each version of the
    file a distinct modification time (``st_mtime_ns``), so one ``stat`` per call tells
    whether the offset must be read again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: int | None = None
        self._offset = 0.0

    def offset(self) -> float:
        """The seconds the test has moved the clock by so far."""
        try:
            changed = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return 0.0
        if changed != self._seen:
            with self._lock:
                text = self.path.read_text(encoding="ascii").strip()
                self._offset = float(text or 0)
                self._seen = changed
        return self._offset

    def __call__(self) -> float:
        return time.time() + self.offset()


class Config:
    """The app's configuration, read from the environment (see the module docs)."""

    def __init__(self) -> None:
        self.secret = os.environ["IDLEGUARD_TEST_SECRET"]
        self.clock = FileClock(Path(os.environ["IDLEGUARD_TEST_CLOCK"]))
        self.store = os.environ.get("IDLEGUARD_TEST_STORE", "memory://")
        self.progress = Path(os.environ["IDLEGUARD_TEST_PROGRESS"])
        # Built in the process that serves, so each worker of a server writes its own file.
        events = Path(os.environ["IDLEGUARD_TEST_EVENTS"]) / f"events-{os.getpid()}.jsonl"
        self.audit = JsonLinesSink(events)

    def options(self) -> dict[str, Any]:
        """Keyword arguments for :class:`idleguard.IdleGuardWSGI` (and the Flask extension)."""
        return {
            "secret_key": self.secret,
            "clock": self.clock,
            "store": self.store,
            "policy": POLICY,
            "https_only": False,  # plain HTTP on 127.0.0.1
            "passive_paths": PASSIVE_PATHS,
            "on_event": self.audit,
        }

    def asgi_options(self) -> dict[str, Any]:
        """Keyword arguments for :class:`idleguard.IdleGuard`."""
        return {**self.options(), "websocket_recheck": WEBSOCKET_RECHECK}

    def note_upload(self, token: str, size: int) -> None:
        """Tell the test that the upload ``token`` has read ``size`` bytes so far."""
        if not token.isalnum():
            raise ValueError(f"not an upload token: {token!r}")
        partial = self.progress / f"{token}.{os.getpid()}.{threading.get_ident()}"
        partial.write_text(str(size), encoding="ascii")
        partial.replace(self.progress / token)

    def download_chunks(self) -> Iterator[bytes]:
        """A slow download for a sync app: a chunk each time the test moves the clock."""
        start = self.clock.offset()
        for index in range(DOWNLOAD_CHUNKS):
            yield _chunk(index)
            target = start + (index + 1) * DOWNLOAD_STEP
            patience = time.monotonic() + DOWNLOAD_PATIENCE
            while self.clock.offset() < target and time.monotonic() < patience:
                time.sleep(_POLL_INTERVAL)

    async def adownload_chunks(self) -> AsyncIterator[bytes]:
        """The same for an async app; anyio, so it runs under asyncio and trio alike."""
        start = self.clock.offset()
        for index in range(DOWNLOAD_CHUNKS):
            yield _chunk(index)
            target = start + (index + 1) * DOWNLOAD_STEP
            patience = time.monotonic() + DOWNLOAD_PATIENCE
            # The clock is a file another process writes: there is nothing to await but time.
            while self.clock.offset() < target and time.monotonic() < patience:  # noqa: ASYNC110
                await anyio.sleep(_POLL_INTERVAL)


def _chunk(index: int) -> bytes:
    return bytes([ord("a") + index]) * CHUNK_SIZE


def who(request: Any) -> dict[str, Any]:
    """The JSON ``/me`` answers: who is signed in (``None``) and which process answered."""
    session = idleguard.current(request)
    return {"user": session.subject if session is not None else None, "pid": os.getpid()}


def page(request: Any) -> str:
    """The HTML of ``/page``, for the browser-navigation case."""
    session = idleguard.current(request)
    user = session.subject if session is not None else "nobody"
    return f"<!doctype html><title>page</title><p>Signed in as {html.escape(str(user))}</p>"
