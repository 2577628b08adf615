"""A person's walk through an example in Chromium: sign in, see the warning, stay, expire.

Each step asserts what a person would see, on the DOM: a real ``form`` to fill
and submit, an ``h1`` with its words (HTML, not HTML escaped into text), an
error when the password is wrong, the warning before the idle deadline, and
after expiry the sign-in page with a sentence, never a reason code.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Literal

from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from examples.session_end import describe_end
from idleguard import Policy
from idleguard.testing import EventCollector, SettableClock

from .conftest import ABSOLUTE, IDLE, WARN, eventually

__all__ = ["POLICY", "Example", "Walk", "assert_page"]

#: The policy every walk runs under.
POLICY = Policy(idle_timeout=IDLE, absolute_timeout=ABSOLUTE, warn_before=WARN)
DIALOG = ".idleguard-dialog"
#: What HTML escaped into text looks like on screen.
ESCAPED = re.compile(r"</?(?:h1|form|p|main|label|input|button)\b|&lt;|&gt;|&#")
#: A reason code shown as it is ("Signed out: idle.").
CODE = re.compile(r"\b(?:idle|absolute|signed_out|revoked|session_expired)\b")


@dataclasses.dataclass(frozen=True)
class Example:
    """One example app, served: where to sign in, as whom, and what its pages say."""

    name: str
    url: str
    clock: SettableClock
    events: EventCollector
    sign_in_path: str
    user_field: str
    user: str
    password: str
    home_heading: str | re.Pattern[str]
    wrong_password: str
    home_path: str = "/"


def assert_page(page: Page, heading: str | re.Pattern[str]) -> None:
    """The page is HTML, rendered: a form, an ``h1`` saying ``heading``, no markup as text."""
    expect(page.locator("h1")).to_have_text(heading)
    expect(page.locator("form").first).to_be_attached()
    shown = page.locator("body").inner_text()
    assert ESCAPED.search(shown) is None, f"markup shown as text: {shown[:300]!r}"


class Walk:
    """One browser profile walking through ``example``, its clock tied to the server's."""

    def __init__(
        self,
        browser: Browser,
        example: Example,
        color_scheme: Literal["light", "dark"] = "light",
        viewport: ViewportSize | None = None,
    ) -> None:
        self.example = example
        self.context: BrowserContext = browser.new_context(
            color_scheme=color_scheme, viewport=viewport or {"width": 1280, "height": 720}
        )
        self.context.clock.install(time=example.clock.now)
        self.context.clock.pause_at(example.clock.now)
        self.page = self.context.new_page()

    def close(self) -> None:
        self.context.close()

    def advance(self, seconds: float) -> None:
        """Move both clocks: the server's, then the page's (its timers fire on the way)."""
        self.example.clock.advance(seconds)
        self.page.clock.run_for(int(seconds * 1000))

    def submit(self, user: str, password: str) -> None:
        """Fill the sign-in form and submit it, as a person does."""
        form = self.page.locator("form", has=self.page.locator("input[type=password]"))
        form.locator(f"input[name={self.example.user_field}]").fill(user)
        form.locator("input[name=password]").fill(password)
        form.locator("button[type=submit]").click()

    def sign_in(self, wrong_first: bool = True) -> None:
        """Open the sign-in page, get the password wrong once, then sign in."""
        example = self.example
        self.page.goto(example.url + example.sign_in_path)
        assert_page(self.page, re_heading("Sign in"))
        if wrong_first:
            self.submit(example.user, "not the password")
            # Never a dead end: the form again, with an error that says so.
            expect(self.page.get_by_role("alert")).to_have_text(example.wrong_password)
            assert_page(self.page, re_heading("Sign in"))
        self.submit(example.user, example.password)
        expect(self.page).to_have_url(example.url + example.home_path)
        assert_page(self.page, example.home_heading)
        self.page.wait_for_function("() => window.idleguard && window.idleguard.state().active")

    def warned(self) -> None:
        """Idle until the warning shows; it shows no earlier."""
        self.advance(IDLE - WARN - 1)
        expect(self.page.locator(DIALOG)).to_be_hidden()
        self.advance(1)
        dialog = self.page.get_by_role("alertdialog", name="Your session is about to end")
        expect(dialog).to_be_visible()

    def stay(self) -> None:
        """Click "Stay logged in": the dialog closes and the server has a new deadline."""
        extended = len(self.example.events.of_type("session_extended"))
        self.page.get_by_role("button", name="Stay logged in").click()
        expect(self.page.locator(DIALOG)).to_be_hidden()
        eventually(
            lambda: len(self.example.events.of_type("session_extended")) == extended + 1,
            "the server extended the session",
        )
        assert self.status()["idle_remaining"] == IDLE

    def expire(self) -> None:
        """Idle past the deadline: the sign-in page says why, in words."""
        self.warned()
        self.advance(WARN)
        sign_in = re.escape(self.example.url + self.example.sign_in_path)
        expect(self.page).to_have_url(re.compile(sign_in + r"\?reason=idle"))
        notice = self.page.get_by_role("status")
        expect(notice).to_have_text(describe_end("idle", POLICY))
        assert CODE.search(notice.inner_text()) is None
        assert_page(self.page, re_heading("Sign in"))
        assert self.example.events.of_type("session_expired_inactivity") != []

    def status(self) -> dict[str, object]:
        """The server's view of this browser's session (asked passively, as the client does)."""
        response = self.context.request.get(
            f"{self.example.url}/_idleguard/status?path={self.example.home_path}",
            headers={"accept": "application/json"},
        )
        body: dict[str, object] = response.json()
        return body

    def screenshot(self, path: Path, full_page: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=full_page)


def re_heading(start: str) -> re.Pattern[str]:
    """An ``h1`` that starts with ``start`` ("Sign in", "Sign in to acme")."""
    return re.compile("^" + re.escape(start))
