"""A real headless Chromium and the demo app served on 127.0.0.1 with a clock the test moves."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from examples.demo import create_app
from examples.demo.accounts import USERS
from idleguard import Policy
from idleguard.testing import EventCollector, SettableClock

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: The demo's member signs in with this.
MEMBER_FORM: dict[str, str | float | bool] = {
    "email": USERS[1].email,
    "password": USERS[1].password,
}
#: The limits every browser test runs under (seconds).
IDLE = 900.0
ABSOLUTE = 3600.0
WARN = 60.0


def chromium_or_skip() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        reason = (
            "BROWSER TESTS NOT RUN: no chromium on PATH (apt-get install chromium); "
            "the browser client is untested"
        )
        if os.environ.get("IDLEGUARD_REQUIRE_SERVERS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


# Module scope, not session: Playwright's sync API keeps an event loop running in
# this thread while it lives, and the suite's asyncio.run() calls elsewhere need it gone.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    chromium_or_skip()
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=chromium_or_skip(), args=LAUNCH_ARGS)
    yield launched
    launched.close()


class Site:
    """The demo app on a free port, with the server clock and the events it reported."""

    def __init__(self, clock: SettableClock, events: EventCollector, url: str) -> None:
        self.clock = clock
        self.events = events
        self.url = url


@contextlib.contextmanager
def serving(app: Any, clock: SettableClock, events: EventCollector) -> Iterator[Site]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port, in a thread, for one test."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    eventually(lambda: server.started, "uvicorn started", seconds=10)
    try:
        yield Site(clock, events, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def demo_app(clock: SettableClock, events: EventCollector) -> FastAPI:
    return create_app(
        clock=clock,
        on_event=events,
        https_only=False,
        policy=Policy(idle_timeout=IDLE, absolute_timeout=ABSOLUTE, warn_before=WARN),
    )


@pytest.fixture
def site() -> Iterator[Site]:
    clock = SettableClock()
    events = EventCollector()
    with serving(demo_app(clock, events), clock, events) as served:
        yield served


def eventually(check: Callable[[], bool], what: str, seconds: float = 5.0) -> None:
    """Wait (real time) until ``check()`` holds: the page talks to the server asynchronously."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.02)


class Session:
    """One browser profile signed in to the site, with the page clock tied to the server's."""

    def __init__(self, site: Site, context: BrowserContext) -> None:
        self.site = site
        self.context = context

    def open(self, path: str = "/") -> Page:
        page = self.context.new_page()
        page.goto(self.site.url + path)
        page.wait_for_function("() => window.idleguard && window.idleguard.state().active")
        return page

    def advance(self, page: Page, seconds: float) -> None:
        """Move both clocks: the server's, then the page's (its timers fire on the way)."""
        self.site.clock.advance(seconds)
        page.clock.run_for(int(seconds * 1000))

    def extended(self, times: int) -> None:
        """Wait until the server has reported ``times`` ``session_extended`` events."""
        eventually(
            lambda: len(self.site.events.of_type("session_extended")) == times,
            f"{times} session_extended event(s)",
        )

    def status(self) -> dict[str, object]:
        """The server's view, asked the way the client asks (passive)."""
        response = self.context.request.get(
            self.site.url + "/_idleguard/status?path=/", headers={"accept": "application/json"}
        )
        body: dict[str, object] = response.json()
        body["http_status"] = response.status
        return body


@pytest.fixture
def session(browser: Browser, site: Site) -> Iterator[Session]:
    context = browser.new_context()
    context.clock.install(time=site.clock.now)
    context.clock.pause_at(site.clock.now)
    response = context.request.post(site.url + "/login", form=MEMBER_FORM)
    assert response.ok, response.status
    yield Session(site, context)
    context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
