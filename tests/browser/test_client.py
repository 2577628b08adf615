"""The browser client in a real Chromium against the demo app; the test moves both clocks."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import IDLE, WARN, Session, eventually

# A real browser and a real server talk over real sockets: a test that loses a race
# between two of the page's own requests is run once more before it counts as failed.
pytestmark = [pytest.mark.browser, pytest.mark.flaky(reruns=1)]

DIALOG = ".idleguard-dialog"
SIGNED_OUT = re.compile(r"/login\?reason=")


def warn_at() -> float:
    return IDLE - WARN


def open_warning(session: Session) -> Page:
    page = session.open()
    session.advance(page, warn_at() - 1)
    expect(page.locator(DIALOG)).to_be_hidden()
    session.advance(page, 1)
    expect(page.locator(DIALOG)).to_be_visible()
    return page


def test_the_warning_appears_warn_before_the_idle_deadline(
    session: Session, artifacts: Path
) -> None:
    page = open_warning(session)
    dialog = page.get_by_role("alertdialog", name="Your session is about to end")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".idleguard-time")).to_have_text("1:00")
    session.advance(page, 15)
    expect(dialog.locator(".idleguard-time")).to_have_text("0:45")
    expect(dialog.get_by_role("button", name="Stay logged in")).to_be_focused()
    page.screenshot(path=str(artifacts / "warning-modal.png"))
    # Showing the warning asked the server and did not extend the session.
    assert session.site.events.of_type("session_extended") == []


def test_stay_logged_in_extends_and_the_server_agrees(session: Session) -> None:
    page = open_warning(session)
    session.advance(page, 20)
    page.get_by_role("button", name="Stay logged in").click()
    expect(page.locator(DIALOG)).to_be_hidden()
    session.extended(1)
    extended_to = (session.site.clock.now + IDLE) * 1000
    eventually(partial(heard, page, extended_to), "the page heard the new deadline")
    status = session.status()
    assert status["active"] is True
    assert status["idle_remaining"] == IDLE
    # The next warning comes a full idle limit after the click, not before.
    session.advance(page, warn_at() - 1)
    expect(page.locator(DIALOG)).to_be_hidden()
    session.advance(page, 1)
    expect(page.locator(DIALOG)).to_be_visible()


def test_no_answer_signs_out_on_the_server_and_in_the_page(session: Session) -> None:
    page = open_warning(session)
    session.advance(page, WARN)
    expect(page).to_have_url(SIGNED_OUT)
    assert "reason=idle" in page.url
    assert session.site.events.of_type("session_expired_inactivity") != []
    assert session.status()["active"] is False


def test_activity_in_one_tab_keeps_the_other_alive(session: Session) -> None:
    first = session.open()
    second = session.open()
    session.advance(first, 300)
    first.mouse.move(10, 10)
    first.mouse.move(40, 40)
    # The next report interval sends the activity; the other tab hears the new deadline.
    session.advance(first, 60)
    session.extended(1)
    # Tabs hear each other within milliseconds; the test's clock jumps minutes in one go.
    reported = (session.site.clock.now + IDLE) * 1000
    for page in (first, second):
        eventually(partial(heard, page, reported), "every tab heard the new deadline")
    session.advance(first, warn_at() - 360 + 30)
    for page in (first, second):
        expect(page.locator(DIALOG)).to_be_hidden()
    assert session.status()["active"] is True
    # A full idle limit after that activity, the warning shows, in one tab only.
    session.advance(first, 360 - 30)
    assert showing_warning(first, second) == 1
    # The page's own poll changed it under the still pointer: not activity, not reported.
    session.extended(1)


def heard(page: Page, deadline: float) -> bool:
    """The page's idea of the idle deadline (epoch milliseconds) is ``deadline``."""
    return bool(page.evaluate("idleguard.state().idleDeadline") == deadline)


def showing_warning(*pages: Page) -> int:
    """How many of the pages show the warning, once any does and the tabs have settled."""
    for _ in range(100):
        if any(page.locator(f"{DIALOG}[open]").count() for page in pages):
            break
        pages[0].wait_for_timeout(50)
    pages[0].wait_for_timeout(300)
    return sum(page.locator(f"{DIALOG}[open]").count() for page in pages)


def test_sign_out_in_one_tab_signs_out_every_tab(session: Session) -> None:
    first = session.open()
    second = session.open()
    session.advance(first, warn_at())
    assert showing_warning(first, second) == 1
    showing = first if first.locator(f"{DIALOG}[open]").count() else second
    showing.get_by_role("button", name="Sign me out").click()
    expect(first).to_have_url(SIGNED_OUT)
    expect(second).to_have_url(SIGNED_OUT)
    assert len(session.site.events.of_type("session_ended")) == 1
    assert session.status()["active"] is False


def test_a_hidden_tab_coming_back_asks_the_server_first(session: Session) -> None:
    page = session.open()
    page.evaluate(
        "() => { Object.defineProperty(document, 'visibilityState', "
        "{configurable: true, get: () => window.__visibility || 'visible'}); }"
    )
    page.evaluate(
        "() => { window.__visibility = 'hidden'; "
        "document.dispatchEvent(new Event('visibilitychange')); }"
    )
    # While hidden its timers were frozen; the server's clock went on past the deadline.
    session.site.clock.advance(IDLE + 5)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.evaluate(
        "() => { window.__visibility = 'visible'; "
        "document.dispatchEvent(new Event('visibilitychange')); }"
    )
    expect(page).to_have_url(SIGNED_OUT)
    assert any("/_idleguard/status" in url for url in asked)
    assert session.site.events.of_type("session_expired_inactivity") != []


def test_a_machine_that_slept_past_the_deadline_is_signed_out(session: Session) -> None:
    page = session.open()
    session.site.clock.advance(IDLE + 120)
    # A jump: timers due in between fire at most once, late, as after sleep.
    page.clock.fast_forward(int((IDLE + 120) * 1000))
    expect(page).to_have_url(SIGNED_OUT)


def test_the_passive_poll_does_not_extend_the_session(session: Session) -> None:
    page = session.open()
    session.advance(page, 300)
    status = page.evaluate(
        "async () => (await idleguard.fetch('/api/notifications', {passive: true})).status"
    )
    assert status == 200
    assert session.status()["idle_remaining"] == IDLE - 300
    page.evaluate("async () => (await idleguard.fetch('/api/me')).status")
    assert session.status()["idle_remaining"] == IDLE


def test_a_401_session_expired_from_any_request_signs_out(session: Session) -> None:
    page = session.open()
    session.site.clock.advance(IDLE)
    page.evaluate("() => idleguard.fetch('/api/me', {passive: true})")
    expect(page).to_have_url(SIGNED_OUT)


def test_declared_work_holds_the_warning_back(session: Session) -> None:
    page = session.open()
    page.evaluate("() => { window.__done = idleguard.work(); }")
    session.advance(page, warn_at())
    expect(page.locator(DIALOG)).to_be_hidden()
    # The upload counted as activity, so the server extended the session.
    session.extended(1)
    assert session.status()["idle_remaining"] == IDLE


def test_the_warning_works_by_keyboard_alone(session: Session, artifacts: Path) -> None:
    page = open_warning(session)
    stay = page.get_by_role("button", name="Stay logged in")
    sign_out = page.get_by_role("button", name="Sign me out")
    expect(stay).to_be_focused()
    page.keyboard.press("Tab")
    expect(sign_out).to_be_focused()
    page.screenshot(path=str(artifacts / "warning-modal-keyboard.png"))
    page.keyboard.press("Tab")
    expect(stay).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(sign_out).to_be_focused()
    # Escape means the user is here: it stays logged in.
    page.keyboard.press("Escape")
    expect(page.locator(DIALOG)).to_be_hidden()
    session.extended(1)
    extended_to = (session.site.clock.now + IDLE) * 1000
    eventually(partial(heard, page, extended_to), "the page heard the new deadline")
    session.advance(page, warn_at())
    expect(sign_out).to_be_visible()
    sign_out.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(SIGNED_OUT)
    assert "reason=signed_out" in page.url


def test_a_page_restored_after_sign_out_shows_nothing(session: Session) -> None:
    page = session.open()
    session.context.request.post(session.site.url + "/logout")
    # Restored from the back-forward cache: the content is hidden before the server answers.
    veiled = page.evaluate(
        "() => { window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}));"
        " return document.documentElement.classList.contains('idleguard-veil'); }"
    )
    assert veiled is True
    expect(page).to_have_url(SIGNED_OUT)
