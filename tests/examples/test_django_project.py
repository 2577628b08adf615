"""The Django example, served for real on 127.0.0.1 over WSGI (werkzeug) and ASGI (uvicorn)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from idleguard import Policy
from idleguard.endpoints import client_script_url
from idleguard.integrations import BINDING_SESSION_KEY
from idleguard.stores import MemoryStore
from idleguard.testing import EventCollector, SettableClock
from tests.examples.django_site import migrated_database
from tests.examples.servers import serve_asgi, serve_wsgi
from tests.switchable import SwitchableStore

HTML = {"accept": "text/html"}
PASSWORD = "demo"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with migrated_database(tmp_path_factory.mktemp("django") / "db.sqlite3") as path:
        yield path


Serve = Callable[..., contextlib.AbstractContextManager[str]]


@pytest.fixture(params=["wsgi", "asgi"])
def serve(
    request: pytest.FixtureRequest,
    database: Path,
    clock: SettableClock,
    events: EventCollector,
    monkeypatch: pytest.MonkeyPatch,
) -> Serve:
    """Serve the example with more ``IDLEGUARD`` options (over WSGI, then ASGI); yield its URL."""
    from django.conf import settings

    from examples.django_project.wsgi import create_app, create_asgi_app

    # Each server merges its options into settings.IDLEGUARD: put them back after the test.
    monkeypatch.setattr(settings, "IDLEGUARD", settings.IDLEGUARD)
    monkeypatch.setattr(settings, "ROOT_URLCONF", "tests.examples.django_urls")

    def served(**extra: Any) -> contextlib.AbstractContextManager[str]:
        options = {
            "clock": clock,
            "on_event": events,
            "policy": Policy(idle_timeout=900, absolute_timeout=3600, warn_before=60),
            "https_only": False,
            **extra,
        }
        if request.param == "wsgi":
            return serve_wsgi(create_app(**options))
        return serve_asgi(create_asgi_app(**options))

    return served


@pytest.fixture
def base_url(serve: Serve) -> Iterator[str]:
    with serve() as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url) as client:
        yield client


def form_token(client: httpx.Client, path: str) -> str:
    match = CSRF.search(client.get(path, headers=HTML).text)
    assert match is not None
    return match.group(1)


def sign_in(client: httpx.Client, user: str = "ann", password: str = PASSWORD) -> httpx.Response:
    token = form_token(client, "/login")
    return client.post(
        "/login", data={"username": user, "password": password, "csrfmiddlewaretoken": token}
    )


def test_walk_through(client: httpx.Client, clock: SettableClock, events: EventCollector) -> None:
    assert client.get("/", headers=HTML).headers["location"].startswith("/login")
    assert sign_in(client, password="wrong").status_code == 401
    signed_in = sign_in(client)
    assert signed_in.status_code == 303
    home = client.get("/")
    assert "Hello, ann" in home.text
    assert client_script_url() in home.text  # by content hash, under the endpoint prefix
    assert client.get("/api/me").json()["user"] == "ann"
    for _ in range(2):  # the passive poll never extends
        clock.advance(400)
        assert client.get("/api/notifications").status_code == 200
    clock.advance(100)
    expired = client.get("/api/me")
    assert expired.status_code == 401
    assert expired.json() == {"error": "session_expired", "reason": "idle"}
    # Django's session cookie is still there; the middleware logs that user out too.
    assert "sessionid" in client.cookies
    page = client.get("/", headers=HTML)
    assert page.status_code == 302
    assert page.headers["location"].startswith("/login")
    assert events.types() == ["session_started", "session_expired_inactivity"]


def test_sign_out(client: httpx.Client, events: EventCollector) -> None:
    sign_in(client)
    token = form_token(client, "/")
    response = client.post("/logout", data={"csrfmiddlewaretoken": token})
    assert response.status_code == 303
    assert response.headers["clear-site-data"] == '"cookies"'
    assert client.get("/api/me").status_code == 401
    assert client.get("/", headers=HTML).status_code == 302
    assert events.types() == ["session_started", "session_ended"]


def test_browser_sent_to_sign_in_with_the_reason(
    client: httpx.Client, clock: SettableClock
) -> None:
    sign_in(client)
    clock.advance(901)
    response = client.get("/", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?reason=idle&next=/"
    page = client.get(response.headers["location"]).text
    assert "You were signed out after 15 minutes without activity." in page


# -- a Django login is served only with the idleguard session it began ------------------------

#: The same question asked of a sync view (``request.user``) and an async one (``request.auser()``).
VIEWS = [pytest.param("/whoami", id="sync-view"), pytest.param("/async/whoami", id="async-view")]
SIGNED_OUT = {"user": None, "session": False}


def whoami(client: httpx.Client, path: str = "/whoami", **headers: str) -> Any:
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    return response.json()


def sign_out(client: httpx.Client) -> None:
    token = form_token(client, "/")
    assert client.post("/logout", data={"csrfmiddlewaretoken": token}).status_code == 303


@pytest.mark.parametrize("view", VIEWS)
def test_a_bound_login_is_served_until_sign_out(
    client: httpx.Client, clock: SettableClock, events: EventCollector, view: str
) -> None:
    sign_in(client)
    for _ in range(3):
        clock.advance(600)  # under the idle limit each time, 30 minutes in all
        assert whoami(client, view) == {"user": "ann", "session": True}
    sign_out(client)
    assert whoami(client, view) == SIGNED_OUT
    assert events.types() == ["session_started", "session_ended"]


@pytest.mark.parametrize(
    ("path", "headers", "signed_out"),
    [
        pytest.param("/", HTML, None, id="page"),
        pytest.param("/whoami", {}, SIGNED_OUT, id="sync-view"),
        pytest.param("/async/whoami", {}, SIGNED_OUT, id="async-view"),
    ],
)
def test_a_login_beside_another_users_session_is_signed_out(
    base_url: str, path: str, headers: dict[str, str], signed_out: dict[str, object] | None
) -> None:
    with (
        httpx.Client(base_url=base_url) as ann,
        httpx.Client(base_url=base_url) as mallory,
        httpx.Client(base_url=base_url) as mixed,
    ):
        sign_in(ann, "ann")
        sign_in(mallory, "mallory")
        pair = f"sessionid={ann.cookies['sessionid']}; idleguard={mallory.cookies['idleguard']}"
        response = mixed.get(path, headers={**headers, "cookie": pair})
        assert "ann" not in response.text
        if signed_out is None:  # the page sends the browser to sign in
            assert response.status_code == 302
            assert response.headers["location"].startswith("/login")
        else:
            assert response.json() == signed_out
        # Django's session lives on the server: the copied login ended for its owner too,
        # and an idleguard session alone is no sign-in to the example's views.
        assert whoami(ann) == {"user": None, "session": True}
        assert ann.get("/api/me").json() == {"error": "not_signed_in"}


def test_a_login_that_recorded_no_session_is_signed_out(client: httpx.Client) -> None:
    from django.contrib.sessions.backends.db import SessionStore

    sign_in(client)
    # As a login made before bindings were recorded would be.
    stored = SessionStore(session_key=client.cookies["sessionid"])
    stored.pop(BINDING_SESSION_KEY, None)
    stored.save()
    assert whoami(client) == SIGNED_OUT


def test_an_exempt_request_without_the_session_is_served_signed_out(
    serve: Serve, clock: SettableClock
) -> None:
    store = SwitchableStore(clock)
    with serve(store=store, exempt_paths=["/public"]) as url, httpx.Client(base_url=url) as client:
        sign_in(client)
        del client.cookies["idleguard"]
        assert whoami(client, "/public/whoami") == SIGNED_OUT
    assert store.ended == []  # idleguard did not look, so it ends nothing


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        pytest.param("/public/whoami", {}, id="exempt-path"),
        pytest.param("/whoami", {"x-api-key": "anything"}, id="api-key"),
        pytest.param("/async/whoami", {"x-api-key": "anything"}, id="api-key-async-view"),
    ],
)
def test_an_exempt_request_presenting_the_session_is_checked_and_served(
    serve: Serve, clock: SettableClock, path: str, headers: dict[str, str]
) -> None:
    store = SwitchableStore(clock)
    with serve(store=store, exempt_paths=["/public"]) as url, httpx.Client(base_url=url) as client:
        sign_in(client)
        assert whoami(client, path, **headers)["user"] == "ann"
    assert store.ended == []


@pytest.mark.parametrize("view", VIEWS)
def test_a_login_is_not_served_unguarded(
    serve: Serve, clock: SettableClock, events: EventCollector, view: str
) -> None:
    store = SwitchableStore(clock)
    with serve(store=store, fail_open=True) as url, httpx.Client(base_url=url) as client:
        sign_in(client)
        store.down = True
        assert whoami(client, view) == SIGNED_OUT
        assert store.ended == []  # no write for a session the store could not vouch for
        assert "idleguard" not in client.cookies  # but the browser forgets it
        store.down = False
        assert whoami(client, view) == SIGNED_OUT
    assert events.types() == ["session_started", "store_unavailable"]


# -- manage.py idleguard: purge, revoke, check ---------------------------------------------------


def idleguard_command(*arguments: str) -> str:
    """Run ``manage.py idleguard ...`` in this process, as the served app is; its output."""
    from django.core.management import call_command

    out = io.StringIO()
    call_command("idleguard", *arguments, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    "whose",
    [pytest.param("--username", id="by-username"), pytest.param("--subject", id="by-subject")],
)
def test_revoke_ends_every_session_of_the_user(
    serve: Serve, clock: SettableClock, events: EventCollector, whose: str
) -> None:
    from django.contrib.auth.models import User

    store = MemoryStore(clock=clock)
    with (
        serve(store=store) as url,
        httpx.Client(base_url=url) as laptop,
        httpx.Client(base_url=url) as phone,
        httpx.Client(base_url=url) as other,
    ):
        for browser, user in [(laptop, "ann"), (phone, "ann"), (other, "bob")]:
            sign_in(browser, user)
            assert browser.get("/api/me").json()["user"] == user
        ann = str(User.objects.get(username="ann").pk)
        dry = idleguard_command(
            "revoke", whose, "ann" if whose == "--username" else ann, "--dry-run"
        )
        assert dry.splitlines()[-1] == (
            f"would revoke 2 session(s) of subject {ann} (dry run: nothing was changed)"
        )
        assert laptop.get("/api/me").status_code == 200
        out = idleguard_command(
            "revoke", whose, "ann" if whose == "--username" else ann, "--actor", "admin@example"
        )
        assert out.splitlines()[-1] == f"revoked 2 session(s) of subject {ann}"
        for browser in (laptop, phone):
            refused = browser.get("/api/me")
            assert refused.status_code == 401
            assert refused.json() == {"error": "session_expired", "reason": "revoked"}
            assert whoami(browser) == SIGNED_OUT  # and Django's login went with it
        assert other.get("/api/me").json()["user"] == "bob"
    revoked = events.of_type("session_revoked")
    assert [(event.subject, event.reason) for event in revoked] == [(ann, "revoked")] * 2
    assert {event.session for event in revoked} <= {
        event.session for event in events.of_type("session_started")
    }
    assert revoked[0].metadata == {"actor": "admin@example", "via": "manage.py idleguard revoke"}


def test_purge_ends_and_reports_what_no_request_found(
    serve: Serve, clock: SettableClock, events: EventCollector
) -> None:
    store = MemoryStore(clock=clock)
    with serve(store=store) as url, httpx.Client(base_url=url) as client:
        sign_in(client)
        clock.advance(901)
        assert idleguard_command("purge") == (
            "ended 1 session(s) past their deadline (each reported through on_event)\n"
        )
        assert idleguard_command("purge").startswith("ended 0 session(s)")
        refused = client.get("/api/me")
        assert refused.status_code == 401
    (expired,) = events.of_type("session_expired_inactivity")
    assert expired.metadata == {"discovered_by": "sweep"}
    assert expired.subject is not None
    assert events.types() == ["session_started", "session_expired_inactivity"]  # reported once


def test_check_reports_a_typo_with_its_suggestion(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.conf import settings
    from django.core.management import CommandError, call_command

    with serve():
        assert idleguard_command("check").splitlines()[-1] == "OK"
        monkeypatch.setitem(settings.IDLEGUARD, "idle_timout", 600)
        out = io.StringIO()
        with pytest.raises(CommandError) as refused:
            call_command("idleguard", "check", stdout=out)
    assert refused.value.returncode == 1
    assert (
        "  problem: settings.IDLEGUARD['idle_timout']: unknown idleguard setting; "
        "did you mean 'idle_timeout'?"
    ) in out.getvalue().splitlines()


def manage(*arguments: str, store: str) -> subprocess.CompletedProcess[str]:
    """``python -m django idleguard ...`` over the example's settings, in a process of its own."""
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith("IDLEGUARD_")},
        "DJANGO_SETTINGS_MODULE": "examples.django_project.settings",
        "IDLEGUARD_STORE": store,
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    return subprocess.run(
        [sys.executable, "-m", "django", "idleguard", *arguments],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=60,
    )


def test_the_command_line(tmp_path: Path) -> None:
    import time

    from idleguard.core import SessionRecord
    from idleguard.stores import from_url

    url = f"sqlite:///{tmp_path / 'sessions.db'}"
    store = from_url(url)
    now = time.time()
    try:
        policy = Policy()
        for number in range(2):
            store.create(f"{number:064x}", SessionRecord("7", None, now, now, now), policy.limits)
        # Signed in a day ago and idle since: past both limits, found by no request.
        old = now - 86400
        store.create("f" * 64, SessionRecord("8", None, old, old, old), policy.limits)
    finally:
        store.close()

    revoked = manage("revoke", "--subject", "7", store=url)
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.splitlines()[-1] == "revoked 2 session(s) of subject 7"
    purged = manage("purge", store=url)
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout == "ended 1 session(s) past their deadline (no on_event is set)\n"

    checked = manage("check", store=url)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.splitlines()[-1] == "OK"
    down = manage("check", store="redis://127.0.0.1:1/0")
    assert down.returncode == 1
    assert "redis: ConnectionError:" in down.stdout
    assert "CommandError: the check found a problem" in down.stderr
    assert "Traceback" not in down.stderr
    broken = manage("purge", store="mongodb://db")
    assert broken.returncode == 2
    assert "unknown store URL scheme 'mongodb://'" in broken.stderr
    assert "Traceback" not in broken.stderr


def test_a_typo_in_the_settings_stops_every_command_with_its_suggestion(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.conf import settings
    from django.core.management import CommandError, call_command

    with serve():
        monkeypatch.setitem(settings.IDLEGUARD, "exempt_path", ["/health"])
        for arguments in (["purge"], ["revoke", "--subject", "1"]):
            with pytest.raises(CommandError) as refused:
                call_command("idleguard", *arguments)
            assert refused.value.returncode == 2
            assert str(refused.value) == (
                "settings.IDLEGUARD['exempt_path']: unknown idleguard setting; "
                "did you mean 'exempt_paths'?"
            )


def test_a_cookie_store_signs_in_and_reseals_its_record(serve: Serve, clock: SettableClock) -> None:
    # Two Set-Cookie headers on one response (the session's and the record's): Django keeps
    # one value per header name, so both must travel through its cookie jar.
    with serve(store="cookie://") as url, httpx.Client(base_url=url) as client:
        signed_in = sign_in(client)
        assert signed_in.status_code in (302, 303)
        assert {"idleguard", "idleguard_record"} <= set(client.cookies.keys())
        assert whoami(client)["user"] == "ann"
        sealed = client.cookies["idleguard_record"]
        clock.advance(100)  # past the touch interval: the record is written again
        assert whoami(client)["user"] == "ann"
        assert client.cookies["idleguard_record"] != sealed, "the touched record is re-sealed"
        clock.advance(850)  # idle only 850 s since that touch
        assert whoami(client)["user"] == "ann"


def test_an_async_tenant_resolver_with_an_in_process_store(serve: Serve) -> None:
    async def tenants(tenant: str) -> str:
        return "15m"

    with serve(tenants=tenants) as url, httpx.Client(base_url=url) as client:
        sign_in(client)
        assert whoami(client)["user"] == "ann", "no nested event loop, no store_unavailable"


@pytest.mark.parametrize(
    ("changes", "check", "message"),
    [
        pytest.param(
            {"idle_timout": 60},
            "idleguard.E001",
            "settings.IDLEGUARD['idle_timout']: unknown idleguard setting; "
            "did you mean 'idle_timeout'?",
            id="typo",
        ),
        pytest.param(
            {"idle_timeout": "soon"},
            "idleguard.E002",
            "settings.IDLEGUARD['idle_timeout']: 'soon' is not a duration: write seconds",
            id="not-a-duration",
        ),
        pytest.param(
            {"idle_timeout": "10h"},
            "idleguard.E002",
            "settings.IDLEGUARD['idle_timeout']: idle_timeout (36000 s) is longer than "
            "absolute_timeout (28800 s)",
            id="policy-refused",
        ),
        pytest.param(
            {"store": "mongodb://db/sessions"},
            "idleguard.E002",
            "settings.IDLEGUARD['store']: unknown store URL scheme 'mongodb://'",
            id="unknown-store",
        ),
        pytest.param(
            {"store": "redis://127.0.0.1:1/0", "check_store_at_start": True},
            "idleguard.E002",
            "settings.IDLEGUARD['store']: check_store_at_start: the store (RedisStore at "
            "redis://127.0.0.1:1/0) did not answer: redis: ConnectionError",
            id="store-down",
        ),
    ],
)
def test_manage_py_check_refuses_what_the_middleware_would(
    database: Path,
    monkeypatch: pytest.MonkeyPatch,
    changes: dict[str, object],
    check: str,
    message: str,
) -> None:
    from django.conf import settings
    from django.core import checks
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    assert checks.run_checks(tags=["idleguard"]) == []  # the example as it stands
    call_command("check", stdout=io.StringIO())
    monkeypatch.setattr(settings, "IDLEGUARD", {**settings.IDLEGUARD, **changes})
    (error,) = checks.run_checks(tags=["idleguard"])
    assert (error.id, error.level) == (check, checks.ERROR)
    assert error.msg.startswith(message)
    with pytest.raises(SystemCheckError, match=re.escape(f"({check}) {message}")):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())


def test_manage_py_check_names_the_django_secret(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.conf import settings
    from django.core import checks

    monkeypatch.setattr(settings, "SECRET_KEY", "dev")
    (error,) = checks.run_checks(tags=["idleguard"])
    assert error.msg.startswith(
        "settings.SECRET_KEY (it signs idleguard's cookie: settings.IDLEGUARD has no "
        "secret_key): every secret_key must be at least 32 characters"
    )
    monkeypatch.setitem(settings.IDLEGUARD, "secret_key", "s" * 32)
    assert checks.run_checks(tags=["idleguard"]) == []


def test_every_unknown_key_is_its_own_error(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.conf import settings
    from django.core import checks

    monkeypatch.setattr(
        settings, "IDLEGUARD", {**settings.IDLEGUARD, "idle_timout": 60, "exempt_path": ["/h"]}
    )
    errors = checks.run_checks(tags=["idleguard"])
    assert [(error.id, error.msg.rpartition("; ")[2]) for error in errors] == [
        ("idleguard.E001", "did you mean 'idle_timeout'?"),
        ("idleguard.E001", "did you mean 'exempt_paths'?"),
    ]
