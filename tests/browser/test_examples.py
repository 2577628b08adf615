"""Every example, served for real on 127.0.0.1, walked through in Chromium by a person.

The walk (``walk.py``) signs in through the form, gets the password wrong once,
waits for the warning, clicks "Stay logged in", then lets the session expire
and reads the sign-in page's sentence. The demo's own pages are in
``test_demo_pages.py``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from idleguard.testing import EventCollector, SettableClock
from tests.examples.django_site import migrated_database
from tests.examples.servers import serve_asgi, serve_wsgi

from .walk import POLICY, Example, Walk

# A real browser and a real server talk over real sockets: a test that loses a race
# between two of the page's own requests is run once more before it counts as failed.
pytestmark = [pytest.mark.browser, pytest.mark.flaky(reruns=1)]

Serve = Callable[[SettableClock, EventCollector], contextlib.AbstractContextManager[Example]]


@contextlib.contextmanager
def demo(clock: SettableClock, events: EventCollector) -> Iterator[Example]:
    from examples.demo import create_app
    from examples.demo.accounts import USERS

    app = create_app(clock=clock, on_event=events, policy=POLICY, https_only=False)
    member = USERS[1]
    with serve_asgi(app) as url:
        yield Example(
            "demo",
            url,
            clock,
            events,
            "/login",
            "email",
            member.email,
            member.password,
            "Welcome, Max",
            "That email and password do not match an account.",
        )


@contextlib.contextmanager
def flask_app(clock: SettableClock, events: EventCollector) -> Iterator[Example]:
    from examples.flask_app import create_app

    app = create_app(clock=clock, on_event=events, policy=POLICY, https_only=False)
    app.config["SESSION_COOKIE_SECURE"] = False
    with serve_wsgi(app) as url:
        yield Example(
            "flask",
            url,
            clock,
            events,
            "/login",
            "username",
            "ann",
            "demo",
            "Hello, ann",
            "Wrong user or password.",
        )


@contextlib.contextmanager
def starlette_app(clock: SettableClock, events: EventCollector) -> Iterator[Example]:
    from examples.starlette_app import create_app

    app = create_app(clock=clock, on_event=events, policy=POLICY, https_only=False)
    with serve_asgi(app) as url:
        yield Example(
            "starlette",
            url,
            clock,
            events,
            "/login",
            "username",
            "ann",
            "demo",
            "Hello, ann",
            "Wrong user or password.",
        )


@contextlib.contextmanager
def multi_tenant(clock: SettableClock, events: EventCollector) -> Iterator[Example]:
    from examples.multi_tenant import create_app

    app = create_app(clock=clock, on_event=events, policy=POLICY, https_only=False)
    with serve_asgi(app) as url:
        yield Example(
            "multi_tenant",
            url,
            clock,
            events,
            "/t/acme/login",
            "username",
            "ann",
            "demo",
            "acme: hello, ann",
            "Wrong user or password.",
            home_path="/t/acme/",
        )


@pytest.fixture(scope="module")
def django_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    pytest.importorskip("django")
    database = migrated_database(tmp_path_factory.mktemp("django") / "db.sqlite3")
    # Playwright's sync API runs an event loop in this thread, and Django refuses
    # database work in a thread that has one.
    with concurrent.futures.ThreadPoolExecutor(1) as worker:
        path = worker.submit(database.__enter__).result()
        yield path
        worker.submit(database.__exit__, None, None, None).result()


@pytest.fixture
def django_project(django_database: Path, monkeypatch: pytest.MonkeyPatch) -> Serve:
    from django.conf import settings

    from examples.django_project.wsgi import create_app

    # The server merges its options into settings.IDLEGUARD: put them back after the test.
    monkeypatch.setattr(settings, "IDLEGUARD", settings.IDLEGUARD)

    @contextlib.contextmanager
    def serve(clock: SettableClock, events: EventCollector) -> Iterator[Example]:
        app = create_app(clock=clock, on_event=events, policy=POLICY, https_only=False)
        with serve_wsgi(app) as url:
            yield Example(
                "django",
                url,
                clock,
                events,
                "/login",
                "username",
                "ann",
                "demo",
                "Hello, ann",
                "Wrong user or password.",
            )

    return serve


#: The examples served in this process as they are; Django needs its database first.
SERVERS: dict[str, Serve] = {
    "demo": demo,
    "flask_app": flask_app,
    "starlette_app": starlette_app,
    "multi_tenant": multi_tenant,
}


@pytest.fixture(params=[*SERVERS, "django_project"])
def example(
    request: pytest.FixtureRequest, clock: SettableClock, events: EventCollector
) -> Iterator[Example]:
    serve = SERVERS.get(request.param) or request.getfixturevalue("django_project")
    with serve(clock, events) as served:
        yield served


@pytest.fixture
def walk(browser: Browser, example: Example) -> Iterator[Walk]:
    walking = Walk(browser, example)
    yield walking
    walking.close()


def test_sign_in_warning_stay_and_expiry(walk: Walk, artifacts: Path) -> None:
    walk.sign_in()
    walk.warned()
    walk.screenshot(artifacts / "examples" / f"{walk.example.name}-warning.png")
    walk.stay()
    walk.expire()
    walk.screenshot(artifacts / "examples" / f"{walk.example.name}-signed-out.png")
