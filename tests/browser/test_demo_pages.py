"""The demo's own pages in Chromium: Session security, a user's own choice, the audit log.

Also the screenshots the README shows (``tests/artifacts/demo/``): the warning on
the home page and the Session security page, light and dark.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from playwright.sync_api import Browser, Route, ViewportSize, expect

from examples.demo import create_app
from examples.demo.accounts import USERS
from idleguard.testing import EventCollector, SettableClock
from tests.examples.servers import serve_asgi

from .conftest import IDLE, WARN, eventually
from .walk import DIALOG, POLICY, Example, Walk, assert_page

# A real browser and a real server talk over real sockets: a test that loses a race
# between two of the page's own requests is run once more before it counts as failed.
pytestmark = [pytest.mark.browser, pytest.mark.flaky(reruns=1)]

ADMIN, MEMBER = USERS
WRONG = "That email and password do not match an account."
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture
def served(clock: SettableClock, events: EventCollector) -> Iterator[str]:
    app = create_app(clock=clock, on_event=events, policy=POLICY, https_only=False)
    with serve_asgi(app) as url:
        yield url


def person(url: str, clock: SettableClock, events: EventCollector, email: str) -> Example:
    user = next(user for user in USERS if user.email == email)
    heading = f"Welcome, {user.first_name}"
    return Example(
        "demo", url, clock, events, "/login", "email", email, user.password, heading, WRONG
    )


@pytest.fixture
def admin(
    browser: Browser, served: str, clock: SettableClock, events: EventCollector
) -> Iterator[Walk]:
    walk = Walk(browser, person(served, clock, events, ADMIN.email))
    walk.sign_in(wrong_first=False)
    yield walk
    walk.close()


@pytest.fixture
def member(
    browser: Browser, served: str, clock: SettableClock, events: EventCollector
) -> Iterator[Walk]:
    walk = Walk(browser, person(served, clock, events, MEMBER.email))
    walk.sign_in(wrong_first=False)
    yield walk
    walk.close()


def test_the_admin_changes_the_ladder_and_the_next_request_runs_under_it(
    admin: Walk, events: EventCollector
) -> None:
    page = admin.page
    expect(page.locator("#idle-limit")).to_have_text("15 minutes")
    page.get_by_role("link", name="Session security").click()
    assert_page(page, "Session security")
    for label in ("Disabled", "15 minutes", "30 minutes", "1 hour", "2 hours", "4 hours"):
        expect(page.get_by_role("radio", name=re.compile("^" + label))).to_be_visible()
    expect(page.get_by_role("radio", name=re.compile("^15 minutes"))).to_be_checked()
    page.get_by_role("radio", name=re.compile("^1 hour")).check()
    page.get_by_label("Hours after sign-in").fill("8")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    expect(page.locator("#own-idle")).to_have_text("1 hour")
    # The next request runs under it: the home page says what the server decided.
    page.get_by_role("link", name="Home").click()
    expect(page.locator("#idle-limit")).to_have_text("1 hour")
    expect(page.locator("#idle-rule")).to_have_text("your organisation's setting")
    expect(page.locator("#absolute-limit")).to_have_text("8 hours")
    expect(page.locator("#idle-left")).to_have_text("1:00:00")
    # The audit log has the change, with who made it.
    page.get_by_role("link", name="Audit log").click()
    assert_page(page, "Audit log")
    row = page.locator("#audit tbody tr").first
    expect(row.locator("td").nth(1)).to_have_text(
        "Inactivity timeout changed inactivity_timeout_updated"
    )
    expect(row.locator("td").nth(3)).to_have_text(ADMIN.email)
    expect(row.locator("td").nth(5)).to_have_text(
        "Inactivity timeout: 15 minutes → 1 hour; session expiration: 1 hour → 8 hours"
    )
    page.get_by_role("link", name="The auditor's report").click()
    expect(page.locator("body")).to_contain_text(f"by {ADMIN.email}  idle 900 -> 3600")
    (change,) = events.of_type("inactivity_timeout_updated")
    assert change.metadata["actor"] == ADMIN.email


def test_a_members_open_page_hears_of_the_change(admin: Walk, member: Walk) -> None:
    page = member.page
    expect(page.locator("#idle-limit")).to_have_text("15 minutes")
    admin.page.goto(admin.example.url + "/organisation/session-security")
    admin.page.get_by_role("radio", name=re.compile("^30 minutes")).check()
    admin.page.get_by_role("button", name="Save").click()
    expect(admin.page.get_by_role("status")).to_contain_text("Saved.")
    # The background poll brings the news; the page asks the server what applies now.
    member.advance(30)
    expect(page.locator("#notifications")).to_contain_text(
        f"{ADMIN.email}: Inactivity timeout: 15 minutes → 30 minutes"
    )
    expect(page.locator("#idle-limit")).to_have_text("30 minutes")


def test_the_member_sees_no_organisation_pages_and_chooses_within_its_bounds(
    member: Walk,
) -> None:
    page = member.page
    expect(page.get_by_role("link", name="Session security")).to_have_count(0)
    page.goto(member.example.url + "/organisation/session-security")
    assert_page(page, "Administrators only")
    page.get_by_role("navigation").get_by_role("link", name="My session").click()
    assert_page(page, "My session")
    for longer in ("Never", "30 minutes", "1 hour"):
        expect(page.get_by_role("radio", name=re.compile("^" + longer))).to_be_disabled()
    page.get_by_role("radio", name=re.compile("^15 minutes")).check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    expect(page.locator("#own-rule")).to_have_text("your own choice")


def test_an_upload_in_progress_holds_the_warning_back(member: Walk, tmp_path: Path) -> None:
    page = member.page
    held: list[Route] = []
    page.route("**/api/upload", lambda route: held.append(route))
    upload = tmp_path / "quarterly-report.pdf"
    upload.write_bytes(b"%PDF" + b"x" * (1024 * 1024))
    page.locator("#upload-file").set_input_files(str(upload))
    page.get_by_role("button", name="Upload").click()
    eventually(lambda: bool(held), "the upload started")
    # Past the warning time and the idle deadline while the bytes are on their way.
    member.advance(IDLE - WARN)
    expect(page.locator(DIALOG)).to_be_hidden()
    member.advance(WARN + 60)
    expect(page.locator(DIALOG)).to_be_hidden()
    held[0].continue_()
    expect(page.locator("#upload-result")).to_have_text("Uploaded quarterly-report.pdf (1.0 MB).")
    assert member.status()["active"] is True


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots(
    browser: Browser,
    served: str,
    clock: SettableClock,
    events: EventCollector,
    artifacts: Path,
    scheme: Literal["light", "dark"],
) -> None:
    shots = artifacts / "demo"
    admin = Walk(browser, person(served, clock, events, ADMIN.email), scheme)
    admin.sign_in(wrong_first=False)
    admin.page.get_by_role("link", name="Session security").click()
    admin.screenshot(shots / f"session-security-{scheme}.png", full_page=True)
    admin.close()
    member = Walk(browser, person(served, clock, events, MEMBER.email), scheme)
    member.sign_in(wrong_first=False)
    member.advance(IDLE - WARN + 15)
    expect(member.page.get_by_role("button", name="Stay logged in")).to_be_focused()
    member.screenshot(shots / f"home-warning-{scheme}.png")
    member.close()
    phone = Walk(browser, person(served, clock, events, MEMBER.email), scheme, PHONE)
    phone.sign_in(wrong_first=False)
    phone.screenshot(shots / f"home-phone-{scheme}.png", full_page=True)
    # Readable on a phone: nothing wider than the screen.
    width = phone.page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    phone.close()
