"""``idleguard sessions list`` and ``revoke`` against the store a running app uses.

The apps of ``tests/apps.py`` sign users in through the middleware; the command then reaches
the same store by its URL (a memory store shared in-process, SQLite, Redis, PostgreSQL),
lists and revokes, and the app refuses the revoked sessions on their next request.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from idleguard import IdleGuard, IdleGuardWSGI, Policy
from idleguard.asgi import ASGIApp
from idleguard.audit.cli import main as audit_main
from idleguard.stores import from_url
from idleguard.testing import EventCollector, SettableClock
from tests.apps import SECRET, flask_app, starlette_app
from tests.harness import AsgiHarness, BetweenChunks, Harness, Response, WsgiHarness

from .conftest import Idleguard

_numbers = itertools.count()
POLICY = Policy(idle_timeout=900, absolute_timeout=4 * 3600, warn_before=60)

BACKENDS = [
    pytest.param("memory", id="memory", marks=pytest.mark.memory),
    pytest.param("sqlite", id="sqlite", marks=pytest.mark.sqlite),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
]


def store_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store of ``backend`` that the app and the command both open."""
    number = next(_numbers)
    if backend == "memory":
        return f"shared-memory://cli-{number}"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'sessions.db'}"
    if backend == "redis":
        url: str = request.getfixturevalue("redis_url")
        return f"{url}?key_prefix=cli{number}:"
    # One table on the shared server: every test signs in subjects of its own.
    postgres: str = request.getfixturevalue("postgres_url")
    return postgres


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url(request.param, request, tmp_path)


@pytest.fixture
def now_clock() -> SettableClock:
    """The app's clock, at the real time: the command measures from the real time."""
    return SettableClock(time.time())


MakeApp = Callable[..., Harness]


class OneLoopHarness(AsgiHarness):
    """Every request on one event loop: a network store's connections belong to the loop
    that opened them, and are closed on it when the test ends."""

    def __init__(self, app: ASGIApp, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(app)
        self.loop = loop

    def _send(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        chunks: list[bytes],
        between: BetweenChunks | None,
    ) -> Response:
        return self.loop.run_until_complete(self.send_async(method, path, headers, chunks, between))


@pytest.fixture(params=["asgi", "wsgi"])
def make_browser(
    request: pytest.FixtureRequest, now_clock: SettableClock, events: EventCollector, url: str
) -> Iterator[MakeApp]:
    """Browsers over one Starlette (ASGI) or Flask (WSGI) app on the store at ``url``."""
    options = {"store": url, "on_event": events, "policy": POLICY}
    loop = asyncio.new_event_loop()
    if request.param == "asgi":
        asgi = starlette_app(now_clock, **options)
        assert isinstance(asgi, IdleGuard)
        store = asgi.store
    else:
        wsgi = flask_app(now_clock, **options)
        assert isinstance(wsgi, IdleGuardWSGI)
        store = wsgi.store

    def make() -> Harness:
        return OneLoopHarness(asgi, loop) if request.param == "asgi" else WsgiHarness(wsgi)

    try:
        yield make
    finally:
        loop.run_until_complete(store.aclose())
        loop.close()


def unique(name: str) -> str:
    """A subject no other test signs in (the PostgreSQL table is shared)."""
    return f"{name}-{next(_numbers)}-{time.monotonic_ns()}"


def sign_in(browser: Harness, subject: str, tenant: str | None = None) -> None:
    query = f"user={quote(subject)}" + (f"&tenant={quote(tenant)}" if tenant else "")
    assert browser.post(f"/login?{query}").status == 200
    assert browser.get("/me").json()["user"] == subject


def test_list_and_revoke_then_the_app_refuses_the_session(
    make_browser: MakeApp,
    url: str,
    events: EventCollector,
    idleguard: Idleguard,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice, bob = unique("alice"), unique("bob")
    laptop, phone, other = make_browser(), make_browser(), make_browser()
    sign_in(laptop, alice, tenant="acme")
    sign_in(phone, alice, tenant="acme")
    sign_in(other, bob)
    # The app's configuration, as its environment would give it to the command.
    for name, value in [
        ("SECRET_KEY", SECRET),
        ("IDLE_TIMEOUT", "900"),
        ("ABSOLUTE_TIMEOUT", str(4 * 3600)),
        ("WARN_BEFORE", "60"),
    ]:
        monkeypatch.setenv(f"IDLEGUARD_{name}", value)

    listed = idleguard("sessions", "list", "--store", url, "--subject", alice, "--format", "json")
    assert listed.status == 0, listed.err
    report = listed.json()
    assert report["tags_match_audit_trail"] is True
    sessions = report["sessions"]
    assert [(row["subject"], row["tenant"], row["expired"]) for row in sessions] == [
        (alice, "acme", None),
        (alice, "acme", None),
    ]
    # Each session is named by the tag its events carry, never by its key or credential.
    started = {event.session for event in events.of_type("session_started")}
    assert {row["session"] for row in sessions} <= started
    for row in sessions:
        assert 0 < row["idle_remaining"] <= 900
        assert 4 * 3600 - 60 < row["absolute_remaining"] <= 4 * 3600

    text = idleguard("sessions", "list", "--store", url, "--subject", alice)
    assert text.status == 0
    header, *rows, summary = text.out.splitlines()
    assert header.split()[:3] == ["SESSION", "SUBJECT", "TENANT"]
    assert len(rows) == 2
    assert all(alice in row and "acme" in row for row in rows)
    assert summary.startswith("2 live session(s); time left under idle 15m 00s")
    store = from_url(url)
    try:
        keys = [key for key, _ in store.sessions_of(alice, time.time())]
    finally:
        store.close()
    credentials = [value for browser in (laptop, phone) for value in browser.cookies.values()]
    for secret in [*keys, *credentials]:
        assert secret not in text.out
        assert secret not in listed.out

    dry = idleguard("sessions", "revoke", "--store", url, "--subject", alice, "--dry-run")
    assert dry.status == 0
    assert (
        dry.out.splitlines()[-1]
        == f"would revoke 2 session(s) of {alice} (dry run: nothing was changed)"
    )
    assert laptop.get("/me").json()["user"] == alice

    revoked = idleguard("sessions", "revoke", "--store", url, "--subject", alice)
    assert revoked.status == 0, revoked.err
    assert revoked.out.splitlines()[-1] == f"revoked 2 session(s) of {alice}"
    for browser in (laptop, phone):
        refused = browser.get("/me")
        assert refused.status == 401
        assert refused.json() == {"error": "session_expired", "reason": "revoked"}
    assert other.get("/me").json()["user"] == bob  # another subject's session goes on

    again = idleguard("sessions", "revoke", "--store", url, "--subject", alice, "--format", "json")
    assert again.status == 0
    assert again.json()["revoked"] == 0
    after = idleguard("sessions", "list", "--store", url, "--subject", alice, "--subject", bob)
    assert after.out.splitlines()[-1].startswith("1 live session(s)")


@pytest.mark.parametrize(
    ("preset", "expired"),
    [
        pytest.param("15m", "idle", id="past-the-idle-limit"),
        pytest.param("30m", None, id="within-the-idle-limit"),
        pytest.param(None, None, id="the-configuration-policy"),
    ],
)
@pytest.mark.memory
def test_time_left_is_measured_under_the_policy_asked_for(
    events: EventCollector,
    idleguard: Idleguard,
    monkeypatch: pytest.MonkeyPatch,
    preset: str | None,
    expired: str | None,
) -> None:
    url = f"shared-memory://left-{next(_numbers)}"
    clock = SettableClock(time.time() - 1000)  # signed in 1000 s ago, idle since
    browser = AsgiHarness(starlette_app(clock, store=url, on_event=events, policy=POLICY))
    sign_in(browser, "carol")
    monkeypatch.setenv("IDLEGUARD_IDLE_TIMEOUT", "3600")  # the configuration's own policy
    options = ["--policy", preset] if preset else []
    ran = idleguard(
        "sessions", "list", "--store", url, "--subject", "carol", "--format", "json", *options
    )
    assert ran.status == 0, ran.err
    (row,) = ran.json()["sessions"]
    policy = Policy.preset(preset) if preset else Policy(idle_timeout=3600)
    assert ran.json()["policy"] == policy.as_dict()
    assert row["expired"] == expired
    if expired is None:
        assert policy.idle_timeout is not None
        assert row["idle_remaining"] == pytest.approx(policy.idle_timeout - 1000, abs=30)
    else:
        assert row["idle_remaining"] is None
        text = idleguard("sessions", "list", "--store", url, "--subject", "carol", *options)
        assert "expired (idle)" in text.out
    # Without the app's secret the tags are this run's own, and the command says so.
    assert ran.json()["tags_match_audit_trail"] is False
    assert "not as the audit trail does" in ran.err


@pytest.mark.memory
def test_subjects_and_tenants_cannot_forge_table_lines(
    events: EventCollector, idleguard: Idleguard, now_clock: SettableClock
) -> None:
    url = f"shared-memory://hostile-{next(_numbers)}"
    browser = AsgiHarness(starlette_app(now_clock, store=url, on_event=events))
    subject = "mallory\n4f2c  eve  acme\x1b[2J"
    sign_in(browser, subject, tenant="acme\u202e")
    ran = idleguard("sessions", "list", "--store", url, "--subject", subject)
    assert ran.status == 0
    assert "\x1b" not in ran.out
    assert "\u202e" not in ran.out
    _, row, _ = ran.out.splitlines()  # the header, one line for the one session, the summary
    assert "mallory\\n4f2c  eve  acme\\x1b[2J" in row
    assert "acme\\u202e" in row
    revoked = idleguard("sessions", "revoke", "--store", url, "--subject", subject)
    assert (
        revoked.out.splitlines()[-1] == "revoked 1 session(s) of mallory\\n4f2c  eve  acme\\x1b[2J"
    )


@pytest.mark.memory
def test_revocations_are_written_to_the_audit_trail(
    tmp_path: Path,
    events: EventCollector,
    idleguard: Idleguard,
    now_clock: SettableClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"shared-memory://trail-{next(_numbers)}"
    app = starlette_app(now_clock, store=url, on_event=events)
    for _ in range(3):
        sign_in(AsgiHarness(app), "dave", tenant="acme")
    trail = tmp_path / "sessions.jsonl"
    arguments = ["sessions", "revoke", "--store", url, "--subject", "dave", "--events", str(trail)]

    untagged = idleguard(*arguments)
    assert untagged.status == 2
    assert "--events needs the app's secret_key" in untagged.err
    assert not trail.exists()

    monkeypatch.setenv("IDLEGUARD_SECRET_KEY", SECRET)
    ran = idleguard(*arguments, "--actor", "ops@example")
    assert ran.status == 0, ran.err
    written = [json.loads(line) for line in trail.read_text().splitlines()]
    assert [event["type"] for event in written] == ["session_revoked"] * 3
    assert {event["session"] for event in written} == {
        event.session for event in events.of_type("session_started")
    }
    assert {(event["subject"], event["tenant"], event["reason"]) for event in written} == {
        ("dave", "acme", "revoked")
    }
    assert {json.dumps(event["metadata"], sort_keys=True) for event in written} == {
        json.dumps({"actor": "ops@example", "via": "idleguard sessions revoke"}, sort_keys=True)
    }
    # The assessor's report counts them with every other ending.
    assert audit_main(["audit", str(trail), "--format", "json"]) == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(["list"], "the following arguments are required: --subject", id="no-subject"),
        pytest.param(["list", "--subject", "a"], "which store? Give --store URL", id="no-store"),
        pytest.param(
            ["list", "--subject", "a", "--store", "mongodb://db"],
            "unknown store URL scheme 'mongodb://'",
            id="unknown-scheme",
        ),
        pytest.param(
            ["list", "--subject", "a", "--store", "memory://", "--policy", "pci-dsss"],
            "did you mean 'pci-dss'?",
            id="bad-preset",
        ),
        pytest.param(
            ["revoke", "--subject", "a", "--store", "memory://", "--config", "missing.toml"],
            "cannot read missing.toml",
            id="missing-config",
        ),
        pytest.param(["erase"], "invalid choice: 'erase'", id="unknown-action"),
        pytest.param(
            ["list", "--subject", "a", "--store", "sqlite:///no/such/sessions.db"],
            "no SQLite database at no/such/sessions.db",
            id="mistyped-sqlite-path",
        ),
    ],
)
def test_mistakes_are_one_line_with_status_2(
    idleguard: Idleguard, arguments: list[str], message: str
) -> None:
    ran = idleguard("sessions", *arguments)
    assert ran.status == 2
    assert message in ran.err
    assert len(ran.err.strip().splitlines()) == 1
    assert "Traceback" not in ran.err


def test_a_configuration_problem_is_named_with_a_pointer_to_check(
    idleguard: Idleguard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDLEGUARD_IDLE_TIMOUT", "600")
    monkeypatch.setenv("IDLEGUARD_FAIL_OPEN", "maybe")
    ran = idleguard("sessions", "list", "--store", "memory://", "--subject", "a")
    assert ran.status == 2
    (line,) = ran.err.strip().splitlines()
    assert "IDLEGUARD_FAIL_OPEN: 'maybe' is not true or false" in line
    assert "(and 1 more: idleguard check lists them)" in line


@pytest.mark.redis
def test_a_store_that_is_down_is_status_1_with_the_drivers_message(idleguard: Idleguard) -> None:
    ran = idleguard("sessions", "revoke", "--store", "redis://127.0.0.1:1/0", "--subject", "a")
    assert ran.status == 1
    (line,) = ran.err.strip().splitlines()
    assert line.startswith("idleguard sessions revoke: the store did not answer: redis:")
    assert "Connection refused" in line or "Error 111" in line


@pytest.mark.memory
def test_events_that_cannot_be_written_are_status_1_and_the_sessions_still_end(
    tmp_path: Path,
    events: EventCollector,
    idleguard: Idleguard,
    now_clock: SettableClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"shared-memory://lost-{next(_numbers)}"
    browser = AsgiHarness(starlette_app(now_clock, store=url, on_event=events))
    sign_in(browser, "erin")
    monkeypatch.setenv("IDLEGUARD_SECRET_KEY", SECRET)
    trail = tmp_path / "no-such-directory" / "sessions.jsonl"
    ran = idleguard(
        "sessions", "revoke", "--store", url, "--subject", "erin", "--events", str(trail)
    )
    assert ran.status == 1
    assert ran.out.splitlines()[-1] == "revoked 1 session(s) of erin"
    assert "1 session_revoked event(s) could not be written" in ran.err
    assert browser.get("/me").status == 401
