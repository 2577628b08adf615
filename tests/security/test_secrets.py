"""Secrets never leave: no raw session id or signed cookie in any event, log line (every
logger, at DEBUG, tracebacks included) or answer, and no store key in idleguard's own.

Representative flows run over ASGI and WSGI and every server-side store: sign-in, activity,
passive polls, idle expiry and its replay, sign-out and its replay, a tampered cookie, the
explain log, and a store that fails mid-request with a real driver error (the sessions
table dropped under a SQL store: the database's error message names the statement).
The only place a credential may appear is the ``Set-Cookie`` that hands it to its browser.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from idleguard import IdleGuard, IdleGuardWSGI, Policy
from idleguard.identity import SignedCookie
from idleguard.stores import Store
from idleguard.stores.sql import SQLStore
from idleguard.testing import EventCollector, SettableClock
from tests.reliability.load import Client
from tests.stores.apps import SECRET, asgi_app, wsgi_app
from tests.stores.conftest import BACKENDS, make_store

POLICY = Policy(idle_timeout=600, absolute_timeout=3600, touch_interval=30)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made = make_store(request.param, request, tmp_path)
    yield made
    made.close()


class Transcript:
    """Everything idleguard said, as text: log lines, events and answers."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        self.answers: list[str] = []
        self.issued: list[str] = []

    def keep(self, response: httpx.Response) -> None:
        for name, value in response.headers.multi_items():
            if name.lower() == "set-cookie" and "Max-Age=0" not in value:
                # The one place a credential belongs: handed to its own browser.
                self.issued.append(value.split(";", 1)[0].split("=", 1)[1])
                continue
            self.answers.append(f"{name}: {value}")
        self.answers.append(response.text)

    def logs(self, prefix: str = "") -> str:
        """Every log line (with its traceback) of the loggers whose name starts with ``prefix``."""
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        return "\n".join(
            formatter.format(record)
            for record in self.caplog.records
            if record.name.startswith(prefix)
        )


async def run_flows(
    client: Client, clock: SettableClock, store: Store, transcript: Transcript
) -> None:
    async def get(path: str, cookie: str = "") -> httpx.Response:
        response = await client.get(path, cookie)
        transcript.keep(response)
        return response

    login = await get("/login?user=alice")
    cookie = f"idleguard={login.cookies['idleguard']}"
    await get("/me", cookie)
    clock.advance(60)
    await get("/me", cookie)  # a touch
    await get("/poll", cookie)  # passive
    await get("/me", cookie + "x")  # tampered
    clock.advance(601)
    assert (await get("/me", cookie)).status_code == 401  # idle expiry
    assert (await get("/me", cookie)).status_code == 401  # its replay
    login = await get("/login?user=bob")
    cookie = f"idleguard={login.cookies['idleguard']}"
    await get("/logout", cookie)
    assert (await get("/me", cookie)).status_code == 401  # a copy after sign-out
    login = await get("/login?user=carol")
    cookie = f"idleguard={login.cookies['idleguard']}"
    if isinstance(store, SQLStore):
        # A real driver error mid-request: the table is gone.
        with store._engine.begin() as connection:
            connection.execute(sa.text(f"DROP TABLE {store.table.name}"))
        assert (await get("/me", cookie)).status_code == 503


@pytest.mark.parametrize("adapter", ["asgi", "wsgi"])
async def test_no_secret_in_any_event_log_line_or_answer(
    adapter: str, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clock, events = SettableClock(), EventCollector()
    options: dict[str, Any] = {
        "store": store,
        "secret_key": SECRET,
        "policy": POLICY,
        "clock": clock,
        "on_event": events,
        "https_only": False,
        "login_url": None,
        "explain_log": True,
        "passive_paths": ["/poll"],
    }
    guard: IdleGuard | IdleGuardWSGI = (
        IdleGuard(asgi_app, **options) if adapter == "asgi" else IdleGuardWSGI(wsgi_app, **options)
    )
    client = Client(guard)
    transcript = Transcript(caplog)
    try:
        await run_flows(client, clock, store, transcript)
    finally:
        await client.close()
        await store.aclose()
    assert len(transcript.issued) == 3
    answers_and_events = [*transcript.answers, *(event.to_json() for event in events.events)]
    said = "\n".join([transcript.logs(), *answers_and_events])
    said_by_idleguard = "\n".join([transcript.logs("idleguard"), *answers_and_events])
    assert "session_expired_inactivity" in said, "the flows ran and were recorded"
    assert "idleguard explain" in said
    for cookie in transcript.issued:
        session_id = cookie.rsplit(".", 1)[0]
        key = SignedCookie(SECRET).key_for(cookie)
        assert key is not None
        # The raw credential never reaches a driver, so no library's log has it either.
        assert cookie not in said, "the cookie leaked"
        assert session_id not in said, "the session id leaked"
        # Its digest is the store key: drivers log it at DEBUG (aiosqlite does), idleguard not.
        assert key not in said_by_idleguard, "the store key leaked"
