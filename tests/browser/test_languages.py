"""The dialog speaks the page's language, from the server's catalogs; the page's own words win."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.responses import HTMLResponse, Response
from playwright.sync_api import Browser, Page, expect

from idleguard import client_script_url
from idleguard.testing import EventCollector, SettableClock

from .conftest import MEMBER_FORM, Session, Site, demo_app, serving
from .test_client import DIALOG, warn_at

# A real browser and a real server talk over real sockets: a test that loses a race
# between two of the page's own requests is run once more before it counts as failed.
pytestmark = [pytest.mark.browser, pytest.mark.flaky(reruns=1)]

SCRIPT = client_script_url()


def page_in(lang: str | None, script: str) -> str:
    attribute = f" lang='{lang}'" if lang else ""
    return (
        f"<!doctype html><html{attribute}><head><meta charset='utf-8'><title>Page</title>"
        f"{script}</head><body><main><h1>Page</h1></main></body></html>"
    )


PAGES = {
    "/fr": page_in("fr", f"<script src='{SCRIPT}' data-login-url='/login' defer></script>"),
    "/no-lang": page_in(None, f"<script src='{SCRIPT}' data-login-url='/login' defer></script>"),
    "/fr-own-words": page_in(
        "fr",
        f"<script src='{SCRIPT}' data-login-url='/login' data-text-stay='Continuer mon travail'"
        " defer></script>",
    ),
    # The demo's Content-Security-Policy allows no inline script: the page's own script is a file.
    "/own-words-by-start": page_in(
        "en",
        f"<script src='{SCRIPT}' data-manual></script><script src='/own-words.js'></script>",
    ),
}
OWN_WORDS = "idleguard.start({loginUrl: '/login', texts: {title: 'Still there?'}});"


@pytest.fixture
def site() -> Iterator[Site]:
    clock, events = SettableClock(), EventCollector()
    app = demo_app(clock, events)
    for path, html in PAGES.items():
        app.add_api_route(path, lambda html=html: HTMLResponse(html), methods=["GET"])
    app.add_api_route(
        "/own-words.js",
        lambda: Response(OWN_WORDS, media_type="text/javascript"),
        methods=["GET"],
    )
    with serving(app, clock, events) as served:
        yield served


def open_warning(session: Session, path: str) -> Page:
    page = session.open(path)
    session.advance(page, warn_at())
    expect(page.locator(DIALOG)).to_be_visible()
    return page


def test_a_french_page_shows_the_french_warning(session: Session) -> None:
    page = open_warning(session, "/fr")
    dialog = page.get_by_role("alertdialog", name="Votre session va bientôt prendre fin")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("lang", "fr")
    expect(dialog.locator(".idleguard-body")).to_have_text(
        "Votre session sera fermée dans 1:00 faute d'activité."
    )
    expect(dialog.get_by_role("button", name="Me déconnecter")).to_be_visible()
    dialog.get_by_role("button", name="Rester connecté").click()
    expect(page.locator(DIALOG)).to_be_hidden()
    session.extended(1)


def test_without_a_page_language_the_browsers_language_is_used(
    browser: Browser, site: Site
) -> None:
    context = browser.new_context(locale="fr-FR")
    try:
        context.clock.install(time=site.clock.now)
        context.clock.pause_at(site.clock.now)
        signed_in = context.request.post(site.url + "/login", form=MEMBER_FORM)
        assert signed_in.ok
        page = Session(site, context).open("/no-lang")
        site.clock.advance(warn_at())
        page.clock.run_for(int(warn_at() * 1000))
        expect(
            page.get_by_role("alertdialog", name="Votre session va bientôt prendre fin")
        ).to_be_visible()
    finally:
        context.close()


def test_the_pages_own_words_win_over_the_catalog(session: Session) -> None:
    page = open_warning(session, "/fr-own-words")
    dialog = page.get_by_role("alertdialog", name="Votre session va bientôt prendre fin")
    expect(dialog.get_by_role("button", name="Continuer mon travail")).to_be_focused()
    expect(dialog.get_by_role("button", name="Me déconnecter")).to_be_visible()


def test_words_given_to_start_win_too(session: Session) -> None:
    page = open_warning(session, "/own-words-by-start")
    dialog = page.get_by_role("alertdialog", name="Still there?")
    expect(dialog.get_by_role("button", name="Stay logged in")).to_be_visible()
