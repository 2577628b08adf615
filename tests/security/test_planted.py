"""A pickle planted in the store is an invalid session, and is never deserialized.

Whoever can write to Redis or the sessions table could plant a pickle that runs code when
loaded. idleguard stores JSON-shaped fields and reads them as numbers and strings only, so
the payload below (which would create a directory when unpickled) must read as an ``invalid``
session: refused with 401, never a 500, never a 503 that fails the store for everyone, and
the directory never appears. Sign-out and the sweep go past it without error.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa

from idleguard import IdleGuard, IdleGuardWSGI, Policy
from idleguard.core import EndReason
from idleguard.identity import SignedCookie
from idleguard.stores import Store
from idleguard.stores.redis import RedisStore
from idleguard.stores.sql import SQLStore
from tests.stores.apps import SECRET, asgi_app, wsgi_app
from tests.stores.conftest import make_store

JSON = {"accept": "application/json"}
POLICY = Policy(idle_timeout=600, absolute_timeout=3600, touch_interval=30)


class Payload:
    """Creates the directory ``marker`` when unpickled: proof that something deserialized it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.marker),))


def plant_redis_hash(store: Store, key: str, payload: Payload) -> None:
    assert isinstance(store, RedisStore)
    with redis.Redis.from_url(store.url) as raw:
        raw.hset(
            f"{store.key_prefix}{{{key}}}", mapping=dict.fromkeys("clast", pickle.dumps(payload))
        )


def plant_redis_subject(store: Store, key: str, payload: Payload) -> None:
    assert isinstance(store, RedisStore)
    with redis.Redis.from_url(store.url) as raw:
        raw.hset(f"{store.key_prefix}{{{key}}}", "s", pickle.dumps(payload))


def plant_redis_string(store: Store, key: str, payload: Payload) -> None:
    assert isinstance(store, RedisStore)
    with redis.Redis.from_url(store.url) as raw:
        raw.set(f"{store.key_prefix}{{{key}}}", pickle.dumps(payload))


def plant_sql(store: Store, key: str, payload: Payload) -> None:
    assert isinstance(store, SQLStore)
    columns = store.table.c
    # The columns are typed (times are numbers): the pickle goes where text goes,
    # in the text form of protocol 0.
    text = pickle.dumps(payload, protocol=0).decode("ascii")
    values = {"subject": text[:255], "tenant": text[:255], "ended": text[:16]}
    with store._engine.begin() as connection:
        changed = connection.execute(
            sa.update(store.table).where(columns.key == key).values(**values)
        )
        assert changed.rowcount == 1


Plant = Callable[[Store, str, Payload], None]
PLANTS = [
    pytest.param("redis", plant_redis_hash, id="redis-every-field", marks=pytest.mark.redis),
    pytest.param("redis", plant_redis_subject, id="redis-subject", marks=pytest.mark.redis),
    pytest.param("redis", plant_redis_string, id="redis-whole-key", marks=pytest.mark.redis),
    pytest.param("sqlite", plant_sql, id="sqlite", marks=pytest.mark.sqlite),
    pytest.param("postgresql", plant_sql, id="postgresql", marks=pytest.mark.postgresql),
]


@pytest.fixture
def marker(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "unpickled"
    yield path
    assert not path.exists(), "the planted pickle was deserialized"


def _key(cookies: httpx.Cookies) -> str:
    key = SignedCookie(SECRET).key_for(cookies["idleguard"])
    assert key is not None
    return key


@pytest.mark.parametrize(("backend", "plant"), PLANTS)
async def test_a_planted_pickle_is_an_invalid_session_asgi(
    backend: str, plant: Plant, marker: Path, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    store = make_store(backend, request, tmp_path)
    guard = IdleGuard(
        asgi_app, store=store, secret_key=SECRET, policy=POLICY, https_only=False, login_url=None
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=guard), base_url="http://app", headers=JSON
    ) as client:
        await client.get("/login?user=alice")
        copied = dict(client.cookies)
        key = _key(client.cookies)
        plant(store, key, Payload(marker))
        answer = await client.get("/me")
        assert (answer.status_code, answer.json()) == (
            401,
            {"error": "session_expired", "reason": "invalid"},
        )
        # Sign-out and the sweep go past it, and it stays refused.
        assert await store.aend(key, EndReason.SIGNED_OUT, time.time()) is None
        assert await guard.apurge_expired() == []
        client.cookies = httpx.Cookies(copied)
        assert (await client.get("/me")).status_code == 401
    await store.aclose()


@pytest.mark.parametrize(("backend", "plant"), PLANTS)
def test_a_planted_pickle_is_an_invalid_session_wsgi(
    backend: str, plant: Plant, marker: Path, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    store = make_store(backend, request, tmp_path)
    guard = IdleGuardWSGI(
        wsgi_app, store=store, secret_key=SECRET, policy=POLICY, https_only=False, login_url=None
    )
    with httpx.Client(
        transport=httpx.WSGITransport(app=guard), base_url="http://app", headers=JSON
    ) as client:
        client.get("/login?user=alice")
        copied = dict(client.cookies)
        key = _key(client.cookies)
        plant(store, key, Payload(marker))
        answer = client.get("/me")
        assert (answer.status_code, answer.json()) == (
            401,
            {"error": "session_expired", "reason": "invalid"},
        )
        assert store.end(key, EndReason.SIGNED_OUT, time.time()) is None
        assert guard.purge_expired() == []
        client.cookies = httpx.Cookies(copied)
        assert client.get("/me").status_code == 401
    store.close()
