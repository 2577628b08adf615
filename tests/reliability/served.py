"""The app the multi-process tests and the soak serve with uvicorn, and how to start it.

``app_from_env`` is a ``uvicorn --factory`` target configured by environment variables, so
several servers (or the workers of one) started with the same environment share one store,
as the workers of a deployment do:

``IDLEGUARD_TEST_STORE``     the store URL (a Redis on 127.0.0.1)
``IDLEGUARD_TEST_EVENTS``    a folder: each worker appends its events to ``events-<pid>.jsonl``
``IDLEGUARD_TEST_LIMITS``    ``idle,absolute,touch`` in seconds (short: time is real here)
``IDLEGUARD_TEST_SKEW``      seconds this server's clock is off (positive: ahead)
``IDLEGUARD_TEST_SWEEP``     seconds between sweeps (none when unset)

Besides the routes of :mod:`tests.stores.apps` it serves ``/stats`` (exempt): the worker's
pid, resident memory and events lost, for the soak to read.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import httpx

from idleguard import IdleGuard, Policy, Sweeper
from idleguard.audit import JsonLinesSink

from ..servers import free_port
from ..stores.apps import SECRET, asgi_app

ROOT = Path(__file__).resolve().parents[2]


def resident_bytes() -> int:
    """This process's resident memory, from ``/proc`` (0 where there is none)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def app_from_env() -> Any:
    """The guarded app, configured by the environment (see the module docs)."""
    idle, absolute, touch = (float(part) for part in os.environ["IDLEGUARD_TEST_LIMITS"].split(","))
    skew = float(os.environ.get("IDLEGUARD_TEST_SKEW", "0"))
    events = Path(os.environ["IDLEGUARD_TEST_EVENTS"]) / f"events-{os.getpid()}.jsonl"

    def clock() -> float:
        return time.time() + skew

    guard = IdleGuard(
        asgi_app,
        store=os.environ["IDLEGUARD_TEST_STORE"],
        secret_key=SECRET,
        policy=Policy(
            idle_timeout=idle, absolute_timeout=absolute, touch_interval=touch, warn_before=idle / 2
        ),
        clock=clock,
        on_event=JsonLinesSink(events),
        exempt_paths=["/stats"],
        https_only=False,
        login_url=None,
    )
    sweep = os.environ.get("IDLEGUARD_TEST_SWEEP")
    if sweep:
        Sweeper(guard, interval=float(sweep)).start()

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/stats":
            stats = {
                "pid": os.getpid(),
                "rss": resident_bytes(),
                "lost": guard.settings.audit.reporter.total(),
            }
            body = json.dumps(stats).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await guard(scope, receive, send)

    return app


@contextlib.contextmanager
def uvicorn(
    environment: Mapping[str, str], *, workers: int = 1, port: int | None = None
) -> Iterator[str]:
    """One uvicorn server (``workers`` processes) on 127.0.0.1; yields its base URL."""
    port = port or free_port()
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "tests.reliability.served:app_from_env",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        "--workers", str(workers), "--lifespan", "off",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **environment}, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, process)
        yield url
    finally:
        # SIGTERM: uvicorn shuts its workers down cleanly, and each flushes its events.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"uvicorn at {url} exited with {process.returncode}")
        try:
            httpx.get(url + "/stats", timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"uvicorn at {url} did not start in 30 s")


def read_events(folder: Path) -> list[dict[str, Any]]:
    """Every event every worker wrote to ``folder``."""
    events = []
    for path in sorted(folder.glob("events-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                events.append(json.loads(line))
    return events


class Http:
    """Requests to real servers with exactly the cookie given: no jar, shared by tasks."""

    def __init__(self, connections: int = 100) -> None:
        self._transport = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        )

    async def get(
        self, url: str, cookie: str = "", headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        sent = {"accept": "application/json", **(headers or {})}
        if cookie:
            sent["cookie"] = cookie
        request = httpx.Request("GET", url, headers=sent)
        response = await self._transport.handle_async_request(request)
        response.request = request
        await response.aread()
        return response

    async def sign_in(self, url: str, user: str) -> str:
        """Sign ``user`` in at ``url``; the cookie header that carries the session."""
        response = await self.get(f"{url}/login?user={user}")
        assert response.status_code == 200, response.text
        cookies = httpx.Cookies()
        cookies.extract_cookies(response)
        return "; ".join(f"{name}={value}" for name, value in cookies.items())

    async def aclose(self) -> None:
        await self._transport.aclose()
