"""Faults on real servers under load, each bounded in time.

Redis or PostgreSQL killed mid-load and started again; Redis frozen or busy past the store
timeout; PostgreSQL holding a lock past it. During the fault every guarded request gets the
defined answer (fail-closed ``503``, or the app unguarded when ``fail_open`` is chosen), within
the timeout and never a ``500``; after it the very next request works with the same app; and
a session that had expired before the fault is still over after it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from idleguard import IdleGuard, IdleGuardWSGI, Policy
from idleguard.audit import CounterSet, QueuedSink, Sink
from idleguard.audit.counters import EVENTS_LOST
from idleguard.events import Event
from idleguard.stores import Store, from_url
from idleguard.stores.redis import RedisStore
from idleguard.stores.sql import SQLStore
from idleguard.testing import EventCollector, SettableClock
from tests.servers import PostgresServer, RedisServer
from tests.stores.apps import SECRET, asgi_app, wsgi_app

from .load import Answer, Client, between, hammer

POLICY = Policy(idle_timeout=600, absolute_timeout=3600, touch_interval=30)
USERS = 6
#: The store timeout the slow-store tests set, and the bound they hold answers to:
#: the timeout plus a generous allowance for a loaded 2-core machine.
TIMEOUT = 0.5
ANSWER_BOUND = TIMEOUT + 1.5


class World:
    """A guarded app over ``store_url``, with users signed in and one session left to expire."""

    def __init__(
        self,
        adapter: str,
        store: Store | str,
        *,
        fail_open: bool = False,
        store_timeout: float = TIMEOUT,
    ) -> None:
        self.clock = SettableClock()
        self.events = EventCollector()
        self.store = from_url(store) if isinstance(store, str) else store
        options: dict[str, Any] = {
            "store": self.store,
            "secret_key": SECRET,
            "policy": POLICY,
            "clock": self.clock,
            "on_event": self.events,
            "https_only": False,
            "login_url": None,
            "fail_open": fail_open,
            "store_timeout": store_timeout,
        }
        self.guard: IdleGuard | IdleGuardWSGI = (
            IdleGuard(asgi_app, **options)
            if adapter == "asgi"
            else IdleGuardWSGI(wsgi_app, **options)
        )
        self.client = Client(self.guard)
        self.cookies: list[str] = []
        self.expired = ""

    async def prepare(self) -> None:
        """Sign in; leave one session past its idle limit, undiscovered, the others alive."""
        self.expired = await self.client.sign_in("gone")
        self.clock.advance(500)
        self.cookies = [await self.client.sign_in(f"user{number}") for number in range(USERS)]
        self.clock.advance(200)  # "gone" is 700 s idle: over; the others 200 s

    def subject(self, answer: Answer) -> str:
        return f"user{answer.session}"

    async def close(self) -> None:
        await self.client.close()
        await self.store.aclose()


def assert_outage_answers(world: World, answers: list[Answer], fail_open: bool) -> None:
    assert answers, "no request was answered during the outage"
    for answer in answers:
        if fail_open:
            assert (answer.status, answer.subject) == (200, None), answer
        else:
            assert answer.status == 503, answer


async def assert_works_after(world: World, answers: list[Answer], since: float) -> None:
    after = [answer for answer in answers if answer.started >= since]
    assert after, "no request was sent after the store came back"
    for answer in after:
        assert (answer.status, answer.subject) == (200, world.subject(answer)), answer
    # The session that had expired before the outage is still over, and reported once.
    status, _ = await world.client.send("/me", world.expired)
    assert status == 401
    assert world.events.types().count("session_expired_inactivity") == 1


ADAPTERS = [pytest.param("asgi", id="asgi"), pytest.param("wsgi", id="wsgi")]
FAILURE_MODES = [pytest.param(False, id="fail-closed"), pytest.param(True, id="fail-open")]


async def run_kill_and_restart(
    world: World, server: RedisServer | PostgresServer, fail_open: bool
) -> None:
    marks: dict[str, float] = {}

    async def fault() -> None:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(server.stop)
        marks["down"] = time.monotonic()
        await asyncio.sleep(0.4)
        marks["restarting"] = time.monotonic()
        await asyncio.to_thread(server.start)
        marks["up"] = time.monotonic()
        await asyncio.sleep(0.4)

    await world.prepare()
    answers = await hammer(world.client.send, world.cookies, fault)
    assert {answer.status for answer in answers} <= {200, 503}, "no 500, no other answer"
    assert_outage_answers(
        world, between(answers, marks["down"], marks["restarting"]), fail_open=fail_open
    )
    await assert_works_after(world, answers, marks["up"])
    unavailable = len(world.events.of_type("store_unavailable"))
    assert unavailable == sum(answer.status == 503 or answer.subject is None for answer in answers)


@pytest.mark.redis
@pytest.mark.parametrize(
    "query",
    [
        pytest.param("", id="one-round-trip"),
        # A copy is never trusted once the push connection breaks with the server.
        pytest.param("?local_decisions=1", id="local-decisions"),
    ],
)
@pytest.mark.parametrize("fail_open", FAILURE_MODES)
@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_redis_killed_mid_load_and_restarted(
    adapter: str, fail_open: bool, query: str, persistent_redis: RedisServer
) -> None:
    world = World(adapter, persistent_redis.url + query, fail_open=fail_open)
    try:
        await run_kill_and_restart(world, persistent_redis, fail_open)
    finally:
        await world.close()


@pytest.mark.postgresql
@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_postgresql_restarted_mid_load(adapter: str, own_postgres: PostgresServer) -> None:
    world = World(adapter, own_postgres.url)
    try:
        await run_kill_and_restart(world, own_postgres, fail_open=False)
    finally:
        await world.close()


# -- slow stores: the answer comes within the timeout, not after ----------------------
#: Makes the store slow for HOLD seconds. It notes in the marks, as exactly as it can, when the
#: slowness began ("slow") and when it ended ("fast"), in ``time.monotonic()`` seconds.
Hold = Callable[[dict[str, float]], Awaitable[None]]
HOLD = 1.2


async def _in_thread(target: Callable[[], None]) -> None:
    # A thread of its own: the executor's threads may all be busy with requests.
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def run() -> None:
        try:
            target()
        finally:
            loop.call_soon_threadsafe(done.set)

    threading.Thread(target=run).start()
    await done.wait()


def redis_debug_sleep(server: RedisServer) -> Hold:
    """Redis busy in one command (``DEBUG SLEEP``): nothing else runs meanwhile."""

    async def hold(marks: dict[str, float]) -> None:
        def sleep() -> None:
            with redis.Redis.from_url(server.url, socket_timeout=10) as raw:
                raw.ping()  # connected: the command leaves at once
                sent = time.monotonic()
                # It reaches Redis within a few milliseconds, and sleeps from then.
                marks["slow"], marks["fast"] = sent + 0.05, sent + HOLD
                raw.execute_command("DEBUG", "SLEEP", str(HOLD))

        await _in_thread(sleep)

    return hold


def server_paused(server: RedisServer | PostgresServer) -> Hold:
    """The server's processes frozen: connections open, no answer at all."""

    async def hold(marks: dict[str, float]) -> None:
        server.pause()
        marks["slow"] = time.monotonic()
        try:
            await asyncio.sleep(HOLD)
        finally:
            marks["fast"] = time.monotonic()
            server.resume()

    return hold


def postgresql_locked(store_url: str, table: str) -> Hold:
    """Another client holds the sessions table locked."""

    async def hold(marks: dict[str, float]) -> None:
        engine = sa.create_engine(store_url)

        def lock() -> None:
            with engine.begin() as connection:
                connection.execute(sa.text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
                marks["slow"] = time.monotonic()
                time.sleep(HOLD)
                marks["fast"] = time.monotonic()

        await _in_thread(lock)
        engine.dispose()

    return hold


async def run_slow_store(world: World, hold: Hold) -> None:
    await world.prepare()
    marks: dict[str, float] = {}

    async def fault() -> None:
        await asyncio.sleep(0.2)
        await hold(marks)
        await asyncio.sleep(0.3)

    answers = await hammer(world.client.send, world.cookies, fault, concurrency=4)
    during = between(answers, marks["slow"], marks["fast"])
    assert during, "no request was answered while the store was slow"
    for answer in during:
        assert answer.status == 503, answer
    slowest = max(answer.seconds for answer in answers)
    assert slowest < ANSWER_BOUND, f"a request took {slowest:.2f} s, the timeout is {TIMEOUT} s"
    await assert_works_after(world, answers, marks["fast"] + 0.05)


SLOW_REDIS = [
    pytest.param(redis_debug_sleep, id="debug-sleep"),
    pytest.param(server_paused, id="sigstop"),
]


@pytest.mark.redis
@pytest.mark.parametrize("slow", SLOW_REDIS)
@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_redis_slower_than_the_timeout(
    adapter: str,
    slow: Callable[[RedisServer], Hold],
    own_redis: RedisServer,
) -> None:
    world = World(adapter, f"{own_redis.url}?socket_timeout={TIMEOUT}")
    try:
        await run_slow_store(world, slow(own_redis))
    finally:
        await world.close()


@pytest.mark.postgresql
@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_postgresql_lock_held_past_the_timeout(
    adapter: str, own_postgres: PostgresServer
) -> None:
    store = SQLStore(own_postgres.url, timeout=TIMEOUT)
    world = World(adapter, store)
    try:
        await run_slow_store(world, postgresql_locked(own_postgres.url, store.table.name))
    finally:
        await world.close()


# -- the audit trail failing or slow under load ---------------------------------------
class SlowSink(Sink):
    """A sink that takes 1.5 s a write, like a remote log on a bad day."""

    name = "slow"

    def __init__(self) -> None:
        self.written: list[Event] = []

    def write(self, events: Sequence[Event]) -> None:
        time.sleep(1.5)
        self.written.extend(events)


class BrokenSink(Sink):
    """A sink whose every write fails."""

    name = "broken"

    def __init__(self) -> None:
        self.written: list[Event] = []

    def write(self, events: Sequence[Event]) -> None:
        raise ConnectionError("the log server is down")


SINKS = [pytest.param(SlowSink, id="slow"), pytest.param(BrokenSink, id="failing")]


@pytest.mark.redis
@pytest.mark.parametrize("sink_class", SINKS)
@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_failing_or_slow_audit_sink_under_load(
    adapter: str, sink_class: type[SlowSink | BrokenSink], redis_url: str
) -> None:
    sink = sink_class()
    queued = QueuedSink(sink, maxsize=20, batch_size=5)
    counters = CounterSet()
    store = from_url(redis_url, key_prefix="audit-load:")
    options: dict[str, Any] = {
        "store": store,
        "secret_key": SECRET,
        "policy": POLICY,
        "on_event": queued,
        "counters": counters,
        "https_only": False,
        "login_url": None,
    }
    guard: IdleGuard | IdleGuardWSGI = (
        IdleGuard(asgi_app, **options) if adapter == "asgi" else IdleGuardWSGI(wsgi_app, **options)
    )
    client = Client(guard)
    try:
        # Every request signs someone in: one event each, far more than the sink keeps up with.
        answers = await hammer(client.send, [""], lambda: asyncio.sleep(0.5), path="/login?user=u")
    finally:
        await client.close()
        await store.aclose()
    assert {answer.status for answer in answers} == {200}
    slowest = max(answer.seconds for answer in answers)
    # Well under one write: a request that waited for the sink would take 1.5 s at least,
    # while a loaded machine can hold any request for half a second.
    assert slowest < 1.2, f"a request waited {slowest:.3f} s: it must never wait for a sink"
    queued.flush(10)
    lost = guard.settings.audit.reporter.total()
    assert lost > 0
    assert len(sink.written) + lost == len(answers), "every event delivered or counted as lost"
    assert (
        counters.value(EVENTS_LOST, sink=sink.name, cause="queue_full")
        + counters.value(EVENTS_LOST, sink=sink.name, cause="sink_failed")
        == lost
    )
    queued.close()


@pytest.mark.redis
@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_burst_beyond_the_connection_pool_waits_for_a_connection(
    adapter: str, redis_url: str
) -> None:
    # Fewer connections than concurrent requests: each waits its turn, none fails. The
    # bounds are wide: on a loaded machine the last of 200 turns can come after 0.5 s.
    store = RedisStore(redis_url, key_prefix="burst:", max_connections=2, socket_timeout=5.0)
    world = World(adapter, store, store_timeout=5.0)
    try:
        await world.prepare()
        answers = await asyncio.gather(
            *(world.client.send("/me", world.cookies[n % USERS]) for n in range(200))
        )
    finally:
        await world.close()
    assert {status for status, _ in answers} == {200}
