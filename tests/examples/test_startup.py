"""A middleware that cannot start says why at start-up, under a real uvicorn.

``app.add_middleware(IdleGuard, ...)`` is built by Starlette on the first ASGI message. Under
uvicorn's default ``--lifespan auto`` that is the lifespan startup, whose error uvicorn
reports only as "ASGI 'lifespan' protocol appears unsupported"; then every request answers
``500``. idleguard logs the refusal at ERROR, so the reason is in the server's output
before uvicorn says it is running.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
RUNNING = "Uvicorn running on"
STARTUP_LIMIT = 30.0


@contextlib.contextmanager
def uvicorn(mistake: str) -> Iterator[tuple[str, list[str]]]:
    """uvicorn serving `tests.examples.misconfigured` with its defaults (``--lifespan auto``).

    Yields its URL and its output so far, once it says it is running.
    """
    port = free_port()
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith("IDLEGUARD_")},
        "IDLEGUARD_TEST_MISTAKE": mistake,
        "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path]),
    }
    command = [sys.executable, "-m", "uvicorn", "tests.examples.misconfigured:app"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout

    def read() -> None:
        for line in stdout:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    output: list[str] = []
    try:
        deadline = time.monotonic() + STARTUP_LIMIT
        while not any(RUNNING in line for line in output):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or process.poll() is not None:
                raise AssertionError("uvicorn did not start:\n" + "".join(output))
            with contextlib.suppress(queue.Empty):
                output.append(lines.get(timeout=remaining))
        yield f"http://127.0.0.1:{port}", output
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        reader.join(5)  # it ends with the output
        stdout.close()


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        pytest.param(
            "no-secret",
            "idleguard cannot start: idleguard needs secret_key= to sign its session cookie",
            id="no-secret",
        ),
        pytest.param(
            "no-driver",
            "idleguard cannot start: ImportError: the redis:// store needs a driver that is "
            'not installed (redis): pip install "idleguard[redis]"',
            id="no-driver",
        ),
        pytest.param(
            "preset-typo",
            "idleguard cannot start: unknown policy preset 'pci-dsss'; did you mean 'pci-dss'?",
            id="preset-typo",
        ),
        pytest.param(
            "store-down",
            "idleguard cannot start: check_store_at_start: the store (RedisStore at "
            "redis://127.0.0.1:1/0) did not answer: redis: ConnectionError",
            id="store-down",
        ),
    ],
)
def test_the_reason_is_in_the_servers_output_at_start_up(mistake: str, message: str) -> None:
    with uvicorn(mistake) as (url, output):
        before_running = output[: next(i for i, line in enumerate(output) if RUNNING in line)]
        assert any(line.startswith(message) for line in before_running), "".join(output)
        # What follows is what the log explains: the app never starts, every request fails.
        assert httpx.get(url + "/", timeout=10).status_code == 500
