"""The client under a strict Content-Security-Policy: no inline script, no inline style.

The page below allows scripts and styles from its own origin only. The dialog
must still appear, styled, and Chromium must report no CSP violation.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import Request
from fastapi.responses import HTMLResponse
from playwright.sync_api import Browser, expect

import idleguard
from idleguard.testing import EventCollector, SettableClock

from .conftest import IDLE, MEMBER_FORM, WARN, Site, demo_app, serving

# A real browser and a real server talk over real sockets: a test that loses a race
# between two of the page's own requests is run once more before it counts as failed.
pytestmark = [pytest.mark.browser, pytest.mark.flaky(reruns=1)]

POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'"


@pytest.fixture
def strict_site() -> Iterator[Site]:
    clock, events = SettableClock(), EventCollector()
    app = demo_app(clock, events)

    @app.get("/strict", response_class=HTMLResponse)
    async def strict(request: Request) -> HTMLResponse:
        page = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Strict</title>"
            f"<script src='{idleguard.client_script_url()}' data-login-url='/login' defer>"
            "</script></head><body><main><h1>Strict page</h1></main></body></html>"
        )
        return HTMLResponse(page, headers={"content-security-policy": POLICY})

    with serving(app, clock, events) as served:
        yield served


def test_the_dialog_works_under_a_strict_csp(browser: Browser, strict_site: Site) -> None:
    context = browser.new_context()
    context.clock.install(time=strict_site.clock.now)
    context.clock.pause_at(strict_site.clock.now)
    signed_in = context.request.post(strict_site.url + "/login", form=MEMBER_FORM)
    assert signed_in.ok
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    response = page.goto(strict_site.url + "/strict")
    assert response is not None
    assert response.headers["content-security-policy"] == POLICY
    page.wait_for_function("() => window.idleguard && window.idleguard.state().active")
    strict_site.clock.advance(IDLE - WARN)
    page.clock.run_for(int((IDLE - WARN) * 1000))
    dialog = page.locator(".idleguard-dialog")
    expect(dialog).to_be_visible()
    # Styled from the client's own stylesheet, not browser defaults.
    position = dialog.evaluate("element => getComputedStyle(element).position")
    assert position == "fixed"
    assert violations == [], violations
    context.close()
