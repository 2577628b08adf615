"""The middleware over every store, cookie included: what a user of each would see."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from idleguard import IdleGuard, IdleGuardWSGI, Policy
from idleguard.stores import Store
from idleguard.stores.cookie import CookieStore
from idleguard.testing import EventCollector, SettableClock

from ..servers import PostgresServer, RedisServer
from .apps import SECRET, asgi_app, wsgi_app
from .conftest import BACKENDS, make_store

POLICY = Policy(idle_timeout=600, absolute_timeout=3600, touch_interval=30)
JSON = {"accept": "application/json"}


@pytest.fixture(params=[*BACKENDS, pytest.param("cookie", id="cookie", marks=pytest.mark.cookie)])
def guarded_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "cookie":
        yield CookieStore(SECRET)
        return
    store = make_store(request.param, request, tmp_path)
    yield store
    store.close()


class Guarded:
    """An ASGI app behind IdleGuard, a client with a cookie jar, the clock and the events."""

    def __init__(self, store: Store) -> None:
        self.clock = SettableClock()
        self.events = EventCollector()
        self.guard = IdleGuard(
            asgi_app,
            store=store,
            secret_key=SECRET,
            policy=POLICY,
            clock=self.clock,
            on_event=self.events,
            https_only=False,
            login_url=None,
        )
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.guard), base_url="http://app", headers=JSON
        )

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path)


@pytest.fixture
async def app(guarded_store: Store) -> AsyncIterator[Guarded]:
    guarded = Guarded(guarded_store)
    yield guarded
    await guarded.client.aclose()
    await guarded_store.aclose()


async def test_activity_keeps_a_session_alive_until_the_idle_limit(app: Guarded) -> None:
    assert (await app.get("/login?user=alice")).json() == {"signed_in": "alice"}
    for _ in range(5):
        app.clock.advance(500)
        assert (await app.get("/me")).json() == {"subject": "alice"}
    app.clock.advance(600)
    expired = await app.get("/me")
    assert expired.status_code == 401
    assert expired.json() == {"error": "session_expired", "reason": "idle"}
    assert app.events.types() == ["session_started", "session_expired_inactivity"]


async def test_the_absolute_limit_ends_even_an_active_session(app: Guarded) -> None:
    await app.get("/login?user=alice")
    for _ in range(7):
        app.clock.advance(500)
        assert (await app.get("/me")).status_code == 200
    app.clock.advance(100)
    assert (await app.get("/me")).json()["reason"] == "absolute"
    assert app.events.types()[-1] == "session_expired_absolute"


async def test_sign_out_ends_the_session(app: Guarded) -> None:
    await app.get("/login?user=alice")
    assert (await app.get("/logout")).json() == {"signed_out": True}
    assert (await app.get("/me")).json() == {"subject": None}
    assert app.events.types() == ["session_started", "session_ended"]


async def test_a_copied_cookie_after_sign_out(app: Guarded, guarded_store: Store) -> None:
    await app.get("/login?user=alice")
    copied = dict(app.client.cookies)
    await app.get("/logout")
    replay = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app.guard),
        base_url="http://app",
        headers=JSON,
        cookies=copied,
    )
    answer = await replay.get("/me")
    await replay.aclose()
    if isinstance(guarded_store, CookieStore):
        # Said plainly in the docs: with no server state, a copy lives to its idle limit.
        assert answer.json() == {"subject": "alice"}
    else:
        assert answer.status_code == 401
        assert answer.json()["reason"] == "signed_out"


async def test_the_sweep_reports_an_expiry_nobody_came_back_for(
    app: Guarded, guarded_store: Store
) -> None:
    await app.get("/login?user=alice")
    app.clock.advance(601)
    swept = await app.guard.apurge_expired()
    if isinstance(guarded_store, CookieStore):
        assert swept == []
        return
    assert [event.type.value for event in swept] == ["session_expired_inactivity"]
    assert swept[0].subject == "alice"
    assert swept[0].metadata == {"discovered_by": "sweep"}
    assert (await app.get("/me")).status_code == 401
    # Reported once: the request that finds the tombstone adds no second expiry.
    assert app.events.types() == ["session_started", "session_expired_inactivity"]


async def test_revoke_every_session_of_a_subject(app: Guarded, guarded_store: Store) -> None:
    await app.get("/login?user=alice")
    revoked = await guarded_store.arevoke_subject("alice", app.clock())
    answer = await app.get("/me")
    if isinstance(guarded_store, CookieStore):
        assert revoked == []
        assert answer.json() == {"subject": "alice"}
    else:
        assert len(revoked) == 1
        assert answer.json() == {"error": "session_expired", "reason": "revoked"}


@pytest.mark.cookie
async def test_the_cookie_store_with_a_denylist_refuses_a_copy() -> None:
    store = CookieStore(SECRET, denylist="memory://")
    app = Guarded(store)
    await app.get("/login?user=alice")
    copied = dict(app.client.cookies)
    await app.get("/logout")
    app.client.cookies = httpx.Cookies(copied)
    answer = await app.get("/me")
    assert answer.status_code == 401
    assert answer.json()["reason"] == "signed_out"
    await app.client.aclose()


@pytest.mark.cookie
async def test_the_cookie_store_reseals_only_when_touched() -> None:
    app = Guarded(CookieStore(SECRET))
    login = await app.get("/login?user=alice")
    assert "idleguard_record=" in login.headers["set-cookie"]
    app.clock.advance(10)
    assert "set-cookie" not in (await app.get("/me")).headers
    app.clock.advance(30)
    touched = await app.get("/me")
    assert "idleguard_record=" in touched.headers["set-cookie"]
    await app.client.aclose()


@pytest.mark.cookie
async def test_a_forged_record_cookie_is_no_session() -> None:
    app = Guarded(CookieStore(SECRET))
    await app.get("/login?user=alice")
    record = app.client.cookies["idleguard_record"]
    app.client.cookies.set("idleguard_record", record[:-2] + "xx")
    assert (await app.get("/me")).json() == {"subject": None}
    await app.client.aclose()


@pytest.mark.cookie
def test_the_cookie_store_under_wsgi() -> None:
    clock = SettableClock()
    guard = IdleGuardWSGI(
        wsgi_app,
        store="cookie://",
        secret_key=SECRET,
        policy=POLICY,
        clock=clock,
        https_only=False,
        login_url=None,
    )
    with httpx.Client(
        transport=httpx.WSGITransport(app=guard), base_url="http://app", headers=JSON
    ) as client:
        assert client.get("/login?user=bob").json() == {"signed_in": "bob"}
        clock.advance(500)
        assert client.get("/me").json() == {"subject": "bob"}
        clock.advance(599)
        assert client.get("/me").json() == {"subject": "bob"}
        clock.advance(600)
        assert client.get("/me").json() == {"error": "session_expired", "reason": "idle"}


# -- the store killed and restarted under a running app -------------------------------
FAULTS = [
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
]


def _own_server(
    kind: str, request: pytest.FixtureRequest
) -> tuple[RedisServer | PostgresServer, str]:
    if kind == "redis":
        redis_server: RedisServer = request.getfixturevalue("own_redis")
        return redis_server, redis_server.url
    postgres_server: PostgresServer = request.getfixturevalue("own_postgres")
    return postgres_server, postgres_server.url


@pytest.mark.parametrize("kind", FAULTS)
async def test_asgi_fails_closed_while_the_store_is_down_and_recovers(
    kind: str, request: pytest.FixtureRequest
) -> None:
    server, url = _own_server(kind, request)
    app = Guarded(make_url_store(url))
    await app.get("/login?user=alice")
    assert (await app.get("/me")).json() == {"subject": "alice"}
    server.stop()
    down = await app.get("/me")
    assert down.status_code == 503
    assert down.json() == {"error": "store_unavailable"}
    assert app.events.types()[-1] == "store_unavailable"
    server.start()
    # The same app, not rebuilt: it reconnects on its own.
    await app.get("/login?user=alice")
    assert (await app.get("/me")).json() == {"subject": "alice"}
    await app.client.aclose()
    await app.guard.store.aclose()


@pytest.mark.parametrize("kind", FAULTS)
def test_wsgi_fails_closed_while_the_store_is_down_and_recovers(
    kind: str, request: pytest.FixtureRequest
) -> None:
    server, url = _own_server(kind, request)
    events = EventCollector()
    guard = IdleGuardWSGI(
        wsgi_app, store=url, secret_key=SECRET, policy=POLICY, on_event=events,
        https_only=False, login_url=None,
    )  # fmt: skip
    with httpx.Client(
        transport=httpx.WSGITransport(app=guard), base_url="http://app", headers=JSON
    ) as client:
        client.get("/login?user=alice")
        assert client.get("/me").json() == {"subject": "alice"}
        server.stop()
        down = client.get("/me")
        assert (down.status_code, down.json()) == (503, {"error": "store_unavailable"})
        assert events.types()[-1] == "store_unavailable"
        server.start()
        client.get("/login?user=alice")
        assert client.get("/me").json() == {"subject": "alice"}
    guard.store.close()


def make_url_store(url: str) -> Store:
    from idleguard.stores import from_url

    return from_url(url)
