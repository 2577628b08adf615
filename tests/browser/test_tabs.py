"""One tab speaks for all: the server hears one status and one keepalive per round.

Two pages of one browser context are two tabs of one user. The server below
counts what reaches ``/_idleguard/``; each round (the report interval, the
warning time) must reach it once, however many tabs are open, while every tab
still hears the answer. Both tab elections are run: Chromium's Web Locks, and
the localStorage lease a browser without them falls back to.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
from playwright.sync_api import Page

from idleguard.testing import EventCollector, SettableClock

from .conftest import IDLE, Session, Site, demo_app, eventually, serving
from .test_client import DIALOG, heard, showing_warning

# A real browser and a real server talk over real sockets: a test that loses a race
# between two of the page's own requests is run once more before it counts as failed.
pytestmark = [pytest.mark.browser, pytest.mark.flaky(reruns=1)]

#: Hides the Web Locks API before the client loads, as in a browser without it.
WITHOUT_LOCKS = "Object.defineProperty(Navigator.prototype, 'locks', {get: () => undefined});"


class Counter:
    """An ASGI wrapper that writes down every request the client's endpoints receive."""

    def __init__(self) -> None:
        self.app: Any = None
        self.seen: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith("/_idleguard/") and ".js" not in path:
            self.seen.append(f"{scope['method']} {path.rsplit('/', 1)[-1]}")
        await self.app(scope, receive, send)

    def settled(self, page: Page, count: int) -> list[str]:
        """What the server received, once it has ``count`` requests and nothing more comes."""
        eventually(lambda: len(self.seen) >= count, f"{count} request(s) at the server")
        # A second tab speaking would speak at the same moment: give it time to be heard.
        page.wait_for_timeout(400)
        seen, self.seen[:] = list(self.seen), []
        return seen


@pytest.fixture
def counter() -> Counter:
    return Counter()


@pytest.fixture
def site(counter: Counter) -> Iterator[Site]:
    clock, events = SettableClock(), EventCollector()
    counter.app = demo_app(clock, events)
    with serving(counter, clock, events) as served:
        yield served


@pytest.fixture(params=["web-locks", "lease"])
def tabs(request: pytest.FixtureRequest, session: Session, counter: Counter) -> list[Page]:
    """Two signed-in tabs, one of them elected to speak, the server's count at zero."""
    if request.param == "lease":
        session.context.add_init_script(WITHOUT_LOCKS)
    pages = [session.open(), session.open()]
    if request.param == "lease":
        assert pages[0].evaluate("navigator.locks") is None
        # The lease is taken at the first round and settled by the second.
        for _ in range(2):
            session.advance(pages[0], 60)
            pages[0].wait_for_timeout(100)
    eventually(lambda: leaders(pages) == 1, "exactly one tab speaks")
    counter.seen.clear()
    return pages


def leaders(pages: list[Page]) -> int:
    return sum(bool(page.evaluate("idleguard.state().leader")) for page in pages)


def until_warning(page: Page) -> float:
    """Seconds from the page's now to its warning time."""
    state = page.evaluate("[idleguard.state(), Date.now()]")
    return float(state[0]["idleDeadline"] - state[0]["warnBefore"] - state[1]) / 1000


def test_the_warning_time_is_asked_once_for_every_tab(
    session: Session, counter: Counter, tabs: list[Page]
) -> None:
    first, second = tabs
    session.advance(first, until_warning(first) - 1)
    assert counter.seen == []
    session.advance(first, 1)
    assert showing_warning(first, second) == 1
    assert counter.settled(first, 1) == ["GET status"]
    # The warning counts down in one dialog; no tab asks again before the deadline.
    for _ in range(5):
        session.advance(first, 5)
        first.wait_for_timeout(100)
    assert counter.seen == []
    showing = first if first.locator(f"{DIALOG}[open]").count() else second
    showing.get_by_role("button", name="Stay logged in").click()
    assert counter.settled(first, 1) == ["POST keepalive"]
    extended_to = (session.site.clock.now + IDLE) * 1000
    for page in tabs:
        eventually(partial(heard, page, extended_to), "every tab heard the new deadline")


def test_activity_in_every_tab_is_reported_once(
    session: Session, counter: Counter, tabs: list[Page]
) -> None:
    first, second = tabs
    for page in tabs:
        page.mouse.move(10, 10)
        page.mouse.move(60, 40)
    # To the next report, at the end of the jump: a tab that heard the answer while its clock
    # was still on the way would reckon the deadline from a time it had not reached.
    session.advance(first, 60)
    assert counter.settled(first, 1) == ["POST keepalive"]
    session.extended(1)
    reported = (session.site.clock.now + IDLE) * 1000
    for page in tabs:
        eventually(partial(heard, page, reported), "every tab heard the new deadline")
    # Activity in the tab that does not speak reaches the server through the one that does.
    quiet = first if leaders([second]) else second
    quiet.mouse.move(100, 100)
    session.advance(first, 60)
    assert counter.settled(first, 1) == ["POST keepalive"]
    session.extended(2)


def test_when_the_speaking_tab_closes_another_takes_over(
    session: Session, counter: Counter, tabs: list[Page]
) -> None:
    speaking = next(page for page in tabs if leaders([page]))
    other = next(page for page in tabs if page is not speaking)
    speaking.close()
    if other.evaluate("navigator.locks") is None:
        # The lease is read at the next round (its tab gave it up as it closed).
        session.advance(other, 60)
    eventually(lambda: leaders([other]) == 1, "the remaining tab speaks")
    counter.seen.clear()
    session.advance(other, until_warning(other))
    assert showing_warning(other) == 1
    assert counter.settled(other, 1) == ["GET status"]
