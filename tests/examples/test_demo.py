"""The demo that ``make demo`` serves, over HTTP: sign-in, the session pages, the audit log."""

from __future__ import annotations

import contextlib
import html
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from examples.demo import create_app
from examples.demo.accounts import USERS
from examples.demo.security import CONTENT_SECURITY_POLICY
from idleguard import Policy
from idleguard.audit.cli import main as idleguard_audit
from idleguard.settings import Settings
from idleguard.stores import MemoryStore
from idleguard.testing import EventCollector, SettableClock

HTML = {"accept": "text/html"}
ADMIN, MEMBER = USERS
SECURITY = "/organisation/session-security"
MY_SESSION = "/account/session"


@pytest.fixture
def app(clock: SettableClock, events: EventCollector) -> FastAPI:
    return create_app(
        clock=clock,
        on_event=events,
        policy=Policy(idle_timeout=900, absolute_timeout=3600, warn_before=60),
        https_only=False,
    )


@contextlib.asynccontextmanager
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        yield client


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(app) as client:
        yield client


@pytest.fixture
async def second(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser on the same app."""
    async with browser(app) as client:
        yield client


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/login", data={"email": email, "password": password})


async def limits(client: httpx.AsyncClient) -> dict[str, object]:
    response = await client.get("/api/session")
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


async def test_walk_through(
    client: httpx.AsyncClient, clock: SettableClock, events: EventCollector
) -> None:
    assert (await client.get("/", headers=HTML)).headers["location"] == "/login?next=/"
    page = await client.get("/login")
    assert '<h1 id="sign-in">Sign in</h1>' in page.text
    for user in USERS:  # the accounts are on the page, with their passwords
        assert user.email in page.text
        assert user.password in page.text
    wrong = await sign_in(client, MEMBER.email, "nope")
    assert wrong.status_code == 401
    assert "do not match an account" in wrong.text
    assert 'name="password"' in wrong.text  # the form again, with the email kept
    assert f'value="{MEMBER.email}"' in wrong.text
    signed_in = await sign_in(client, MEMBER.email, MEMBER.password)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/"
    home = await client.get("/")
    assert "Welcome, Max" in home.text
    assert re.search(r'id="idle-limit"[^>]*>15 minutes<', home.text)
    assert "tenant:acme" in home.text
    assert (await client.get("/api/me")).json()["user"] == MEMBER.email
    for _ in range(2):  # the passive polls never extend
        clock.advance(400)
        assert (await client.get("/api/notifications")).status_code == 200
        assert (await client.get("/api/session")).status_code == 200
    clock.advance(100)  # 900 s since the last real activity
    expired = await client.get("/", headers=HTML)
    assert expired.status_code == 303
    assert expired.headers["location"] == "/login?reason=idle&next=/"
    notice = (await client.get(expired.headers["location"])).text
    assert "You were signed out after 15 minutes without activity." in notice
    assert events.types() == ["session_started", "session_expired_inactivity"]


async def test_sign_out(client: httpx.AsyncClient, events: EventCollector) -> None:
    await sign_in(client, MEMBER.email, MEMBER.password)
    response = await client.post("/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?reason=signed_out"
    assert response.headers["clear-site-data"] == '"cookies"'
    assert "You signed out." in (await client.get(response.headers["location"])).text
    assert (await client.get("/api/me")).status_code == 401
    assert events.types() == ["session_started", "session_ended"]


@pytest.mark.parametrize(
    "reason", ["<script>alert(1)</script>", "session_expired", "idle&next=//evil.test"]
)
async def test_the_sign_in_page_never_echoes_the_reason(
    client: httpx.AsyncClient, reason: str
) -> None:
    page = (await client.get("/login", params={"reason": reason})).text
    assert "Your session has ended. Please sign in again." in page
    assert reason not in page
    assert html.escape(reason) not in page


async def test_after_sign_in_the_user_goes_back_but_never_elsewhere(
    client: httpx.AsyncClient,
) -> None:
    for target, landing in (("/account/session", "/account/session"), ("//evil.test/", "/")):
        response = await client.post(
            "/login",
            data={"email": MEMBER.email, "password": MEMBER.password, "next": target},
        )
        assert response.headers["location"] == landing


async def test_the_admin_changes_the_ladder_and_the_next_request_runs_under_it(
    client: httpx.AsyncClient, second: httpx.AsyncClient, events: EventCollector
) -> None:
    await sign_in(client, ADMIN.email, ADMIN.password)
    await sign_in(second, MEMBER.email, MEMBER.password)
    page = await client.get(SECURITY)
    for label in (
        "Disabled",
        "15 minutes",
        "30 minutes",
        "1 hour",
        "2 hours",
        "4 hours",
        "8 hours",
    ):
        assert f'<span class="option-label">{label}' in page.text
    assert 'value="15m" required checked' in page.text
    saved = await client.post(SECURITY, data={"inactivity": "1h", "absolute_hours": "4"})
    assert saved.headers["location"] == f"{SECURITY}?saved=1"
    assert await limits(second) == {
        "idle_timeout": 3600.0,
        "idle_limit": "1 hour",
        "idle_rule": "your organisation's setting",
        "idle_rule_code": "tenant:acme",
        "absolute_timeout": 14400.0,
        "absolute_limit": "4 hours",
        "absolute_rule": "your organisation's setting",
        "absolute_rule_code": "tenant:acme",
        "notes": [],
    }
    assert (await second.get("/api/me")).json()["idle_remaining"] == 3600
    (change,) = events.of_type("inactivity_timeout_updated")
    assert change.tenant == "acme"
    assert change.metadata["actor"] == ADMIN.email
    assert change.metadata["scope"] == "tenant"
    assert change.metadata["old"]["idle_timeout"] == 900
    assert change.metadata["new"]["idle_timeout"] == 3600
    assert change.metadata["new"]["absolute_timeout"] == 4 * 3600
    # Saving the same settings again changes nothing and records nothing.
    again = await client.post(SECURITY, data={"inactivity": "1h", "absolute_hours": "4"})
    assert again.headers["location"] == f"{SECURITY}?saved=unchanged"
    assert len(events.of_type("inactivity_timeout_updated")) == 1


@pytest.mark.parametrize(
    ("form", "message"),
    [
        pytest.param({"inactivity": "3m", "absolute_hours": "8"}, "from the list", id="off-ladder"),
        pytest.param({"inactivity": "30m", "absolute_hours": "0"}, "between 1 and 24", id="zero"),
        pytest.param({"inactivity": "30m", "absolute_hours": "25"}, "between 1 and 24", id="25h"),
        pytest.param({"inactivity": "30m", "absolute_hours": "x"}, "whole number", id="not-hours"),
        pytest.param(
            {"inactivity": "8h", "absolute_hours": "4"}, "can never be reached", id="8h>4h"
        ),
    ],
)
async def test_a_setting_that_cannot_apply_is_refused_in_words(
    client: httpx.AsyncClient, events: EventCollector, form: dict[str, str], message: str
) -> None:
    await sign_in(client, ADMIN.email, ADMIN.password)
    response = await client.post(SECURITY, data=form)
    assert response.status_code == 400
    assert message in response.text
    assert 'role="alert"' in response.text
    assert (await limits(client))["idle_timeout"] == 900
    assert events.of_type("inactivity_timeout_updated") == []


@pytest.mark.parametrize("path", [SECURITY, "/organisation/audit-log"])
async def test_only_the_admin_sees_the_organisation_pages(
    client: httpx.AsyncClient, events: EventCollector, path: str
) -> None:
    await sign_in(client, MEMBER.email, MEMBER.password)
    page = await client.get(path)
    assert page.status_code == 403
    assert "Administrators only" in page.text
    refused = await client.post(SECURITY, data={"inactivity": "8h", "absolute_hours": "8"})
    assert refused.status_code == 403
    assert events.of_type("inactivity_timeout_updated") == []
    assert (await client.get("/organisation/audit-log/report")).status_code == 403


async def test_a_users_own_choice_is_clamped_by_the_organisation(
    client: httpx.AsyncClient, second: httpx.AsyncClient, events: EventCollector
) -> None:
    await sign_in(client, MEMBER.email, MEMBER.password)
    await sign_in(second, ADMIN.email, ADMIN.password)
    page = (await client.get(MY_SESSION)).text
    assert 'value="never" required disabled' in page  # the organisation has an idle limit
    assert 'value="30" required disabled' in page  # longer than its 15 minutes
    assert (await client.post(MY_SESSION, data={"choice": "30"})).status_code == 400
    await second.post(SECURITY, data={"inactivity": "2h", "absolute_hours": "8"})
    saved = await client.post(MY_SESSION, data={"choice": "60"})
    assert saved.headers["location"] == f"{MY_SESSION}?saved=1"
    assert (await limits(client))["idle_limit"] == "1 hour"
    assert (await limits(client))["idle_rule"] == "your own choice"
    # The organisation tightens: the user's hour is cut down at the next request.
    await second.post(SECURITY, data={"inactivity": "15m", "absolute_hours": "8"})
    now = await limits(client)
    assert now["idle_limit"] == "15 minutes"
    assert now["idle_rule"] == "your organisation's limit"
    assert now["notes"] == ["Your own choice is cut to 15 minutes by your organisation's limit."]
    choice = events.of_type("inactivity_timeout_updated")[1]
    assert choice.subject == MEMBER.email
    assert choice.metadata["actor"] == MEMBER.email
    assert choice.metadata["scope"] == "user"
    assert choice.metadata["new"]["idle_timeout"] == 3600


async def test_the_audit_log_is_what_idleguard_audit_reports(
    client: httpx.AsyncClient,
    clock: SettableClock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await sign_in(client, ADMIN.email, ADMIN.password)
    await client.post(SECURITY, data={"inactivity": "30m", "absolute_hours": "8"})
    page = (await client.get("/organisation/audit-log")).text
    assert "Inactivity timeout changed <code>inactivity_timeout_updated</code>" in page
    assert f"<td>{ADMIN.email}</td>" in page
    assert (
        "Inactivity timeout: 15 minutes → 30 minutes; session expiration: 1 hour → 8 hours" in page
    )
    assert 'href="/organisation/audit-log/report"' in page
    report = await client.get("/organisation/audit-log/report")
    assert f"by {ADMIN.email}  idle 900 -> 1800" in report.text
    download = await client.get("/organisation/audit-log/events.jsonl")
    lines = download.text.splitlines()
    assert [json.loads(line)["type"] for line in lines] == [
        "session_started",
        "inactivity_timeout_updated",
    ]
    events_file = tmp_path / "events.jsonl"
    events_file.write_text(download.text, encoding="utf-8")
    assert idleguard_audit(["audit", str(events_file)]) == 0
    assert capsys.readouterr().out == report.text


async def test_a_long_upload_is_not_cut_off(
    client: httpx.AsyncClient, clock: SettableClock
) -> None:
    await sign_in(client, MEMBER.email, MEMBER.password)

    async def slow_body() -> AsyncIterator[bytes]:
        for _ in range(4):  # 4 x 600 s: far past the 900 s idle limit, bytes all along
            clock.advance(600)
            yield b"x" * 65536

    response = await client.post(
        "/api/upload", content=slow_body(), headers={"x-file-name": "big%20file.bin"}
    )
    assert response.json() == {"name": "big file.bin", "bytes": 4 * 65536}
    assert (await client.get("/api/me")).json()["user"] == MEMBER.email


async def test_every_page_has_a_strict_csp_and_forms_refuse_other_sites(
    client: httpx.AsyncClient, events: EventCollector
) -> None:
    page = await client.get("/login")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "<script>" not in page.text
    assert "style=" not in page.text
    cross = await client.post(
        "/login",
        data={"email": MEMBER.email, "password": MEMBER.password},
        headers={"origin": "https://evil.test"},
    )
    assert cross.status_code == 403
    assert events.types() == []
    same = await client.post(
        "/login",
        data={"email": MEMBER.email, "password": MEMBER.password},
        headers={"origin": "http://demo"},
    )
    assert same.status_code == 303


async def test_a_lost_browser_gets_a_page(client: httpx.AsyncClient) -> None:
    missing = await client.get("/no/such/page", headers=HTML)
    assert missing.status_code == 404
    assert "Page not found" in missing.text
    assert (await client.get("/no/such/api")).json() == {"detail": "Not Found"}


async def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDLEGUARD_IDLE_TIMEOUT", "300")
    monkeypatch.setenv("IDLEGUARD_WARN_BEFORE", "30")
    monkeypatch.setenv("IDLEGUARD_STORE", "memory://?maxsize=10")
    app = create_app(https_only=False)
    (settings,) = [
        entry.kwargs["settings"] for entry in app.user_middleware if "settings" in entry.kwargs
    ]
    assert isinstance(settings, Settings)
    assert isinstance(settings.store, MemoryStore)
    assert settings.store.maxsize == 10
    async with browser(app) as client:
        await sign_in(client, MEMBER.email, MEMBER.password)
        status = (await client.get("/_idleguard/status?path=/")).json()
    assert (status["idle_timeout"], status["warn_before"]) == (300, 30)
