"""The single sign-on redirects in a real Chromium: sign-in, idle sign-out through the
provider's logout, and step-up at the provider, over ASGI and WSGI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from idleguard import PathRule
from tests.browser.conftest import LAUNCH_ARGS, chromium_or_skip
from tests.oidc.conftest import OpenIDProviderServer
from tests.oidc.test_sso import IDLE, KINDS, site

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    path = chromium_or_skip()
    running: Playwright
    with sync_playwright() as running:
        launched = running.chromium.launch(executable_path=path, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context()
    yield context.new_page()
    context.close()


def sign_in_at_provider(page: Page, login: str = "alice") -> None:
    page.wait_for_selector("#login")
    page.fill("#login", login)
    page.fill("#password", "x")
    page.click("#submit")


@pytest.mark.parametrize("kind", KINDS)
def test_idle_sign_out_goes_through_the_provider(
    provider: OpenIDProviderServer, page: Page, kind: str
) -> None:
    with site(provider, 0, kind) as app:
        page.goto(app.url + "/login/start")
        sign_in_at_provider(page)
        page.wait_for_selector("#who")
        assert "Signed in as alice" in page.inner_text("#who")
        app.clock.offset = IDLE + 1
        visited: list[str] = []
        page.on("request", lambda request: visited.append(request.url))
        page.goto(app.url + "/")
        page.wait_for_selector("#reason")
        assert page.url.startswith(app.url + "/login?reason=idle")
        assert "1 minute without activity" in page.inner_text("#reason")
        # The way back went through the provider's end-session endpoint, then idleguard's landing.
        assert any(url.startswith(provider.url + "/session/end") for url in visited)
        assert any(url.startswith(app.url + "/_idleguard/signed-out") for url in visited)
        # The provider's session is gone: signing in asks for credentials again.
        page.click("#sign-in")
        page.wait_for_selector("#login")
        assert page.url.startswith(provider.url + "/interaction/")


@pytest.mark.parametrize("kind", KINDS)
def test_step_up_at_the_provider(provider: OpenIDProviderServer, page: Page, kind: str) -> None:
    with site(provider, 1, kind, rules=[PathRule("/billing", authenticated_within=30)]) as app:
        page.goto(app.url + "/login/start")
        sign_in_at_provider(page)
        page.wait_for_selector("#who")
        for step in (20, 40):
            app.clock.offset = step
            provider.set_offset(step)
            page.goto(app.url + "/")
            page.wait_for_selector("#who")
        page.goto(app.url + "/billing")
        # Sent to the provider, which asks for the password again (max_age=0, prompt=login).
        page.wait_for_selector("#login")
        assert page.url.startswith(provider.url + "/interaction/")
        sign_in_at_provider(page)
        page.wait_for_selector("#billing")
        assert page.url == app.url + "/billing"
        assert app.events.of_type("reauthenticated")


@pytest.mark.parametrize("kind", KINDS)
def test_an_open_page_follows_the_providers_logout(
    provider: OpenIDProviderServer, chromium: Browser, kind: str
) -> None:
    with site(provider, 2, kind) as app:
        context = chromium.new_context()
        try:
            # The page's clock is the app's: both move when the test says.
            context.clock.install(time=app.clock())
            context.clock.pause_at(app.clock())
            page = context.new_page()
            page.goto(app.url + "/login/start")
            sign_in_at_provider(page)
            page.wait_for_selector("#who")
            page.wait_for_function("() => window.idleguard && window.idleguard.state().active")
            visited: list[str] = []
            page.on("request", lambda request: visited.append(request.url))
            app.clock.offset = IDLE + 1
            page.clock.run_for(int((IDLE + 1) * 1000))
            back = app.url + "/login?reason=idle"
            page.wait_for_url(lambda url: url.startswith(back), wait_until="commit")
            page.wait_for_selector("#reason")
            # Nobody navigated: the browser client followed the server's logout_url.
            assert any(url.startswith(provider.url + "/session/end") for url in visited)
            page.click("#sign-in")
            page.wait_for_selector("#login")
            assert page.url.startswith(provider.url + "/interaction/")
        finally:
            context.close()
