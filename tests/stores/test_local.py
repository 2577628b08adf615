"""Local decisions over a real Redis: no round trip for a live session, every end heard.

Two `LocalDecisions` over one Redis stand for two processes: each has its own
copies and its own push connection, exactly as two workers would.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from idleguard.core import EndReason, Limits, SessionRecord, Verdict
from idleguard.errors import ConfigError
from idleguard.stores import from_url
from idleguard.stores.local import LocalDecisions
from idleguard.stores.push import RedisLink
from idleguard.stores.redis import RedisStore

from .conftest import wait_until_healthy

pytestmark = pytest.mark.redis

T0 = 1_800_000_000.0
LIMITS = Limits(idle_timeout=600, absolute_timeout=3600, touch_interval=30)
_prefixes = itertools.count()


def alice(at: float = T0) -> SessionRecord:
    return SessionRecord("alice", "acme", at, at, at)


def evalsha_calls(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


def eventually(condition: Callable[[], bool], timeout: float = 2.0) -> float:
    """Seconds until `condition()` held; fails after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.001)
    return time.monotonic() - started


MakeStore = Callable[..., LocalDecisions]


@pytest.fixture
def make_store(redis_url: str) -> Iterator[MakeStore]:
    """Stores over one Redis and one key prefix: each one stands for a process."""
    prefix = f"local{next(_prefixes)}:"
    made: list[LocalDecisions] = []

    def make(url: str = redis_url, **options: Any) -> LocalDecisions:
        inner = RedisStore(url, key_prefix=prefix)
        store = LocalDecisions(inner, **options)
        made.append(store)
        wait_until_healthy(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url, decode_responses=True)
    yield connection
    connection.close()


def test_a_live_session_is_decided_without_a_round_trip(
    make_store: MakeStore, client: redis.Redis
) -> None:
    store = make_store()
    store.create("k", alice(), LIMITS)
    before = evalsha_calls(client)
    for second in range(1, 30):
        decision, record = store.check("k", LIMITS, True, T0 + second)
        assert decision.verdict is Verdict.ALLOW
        assert decision.idle_remaining == 600 - second
        assert record is not None
        assert record.subject == "alice"
    assert evalsha_calls(client) == before, "29 requests, no script call"


def test_a_touch_due_goes_to_the_store_and_the_copy_follows(
    make_store: MakeStore, client: redis.Redis
) -> None:
    store = make_store()
    store.create("k", alice(), LIMITS)
    before = evalsha_calls(client)
    decision, _ = store.check("k", LIMITS, True, T0 + 30)  # touch_interval old
    assert decision.touch
    assert evalsha_calls(client) == before + 1
    stored = client.hget(f"{store.inner.key_prefix}{{k}}", "l")  # type: ignore[attr-defined]
    assert stored == str(round((T0 + 30) * 1e6))
    store.check("k", LIMITS, True, T0 + 31)
    assert evalsha_calls(client) == before + 1, "decided on the touched copy"


def test_a_passive_request_on_an_old_copy_reads_it_again(
    make_store: MakeStore, client: redis.Redis
) -> None:
    # Another process may have touched it: the copy is never trusted past touch_interval.
    here, elsewhere = make_store(), make_store()
    here.create("k", alice(), LIMITS)
    elsewhere.check("k", LIMITS, True, T0 + 100)  # writes last activity T0 + 100
    before = evalsha_calls(client)
    decision, record = here.check("k", LIMITS, False, T0 + 200)
    assert evalsha_calls(client) == before + 1
    assert record is not None
    assert record.last_activity == T0 + 100
    assert decision.idle_remaining == 500


def test_near_a_deadline_the_store_decides_and_one_process_reports_it(
    make_store: MakeStore, client: redis.Redis
) -> None:
    first, second = make_store(margin=5.0), make_store(margin=5.0)
    first.create("k", alice(), LIMITS)
    limits = Limits(idle_timeout=600, absolute_timeout=3600, touch_interval=1000)
    first.check("k", limits, True, T0 + 1)
    second.check("k", limits, True, T0 + 1)
    before = evalsha_calls(client)
    assert first.check("k", limits, True, T0 + 594)[0].verdict is Verdict.ALLOW
    assert evalsha_calls(client) == before, "6 s left: decided here"
    assert first.check("k", limits, True, T0 + 596)[0].verdict is Verdict.ALLOW
    assert evalsha_calls(client) == before + 1, "4 s left, within the margin: asked"
    verdicts = [store.check("k", limits, True, T0 + 600)[0].verdict for store in (first, second)]
    assert verdicts == [Verdict.EXPIRED_IDLE, Verdict.ENDED], "the expiry is found once"


def test_a_sign_out_here_refuses_the_copy_at_once(make_store: MakeStore) -> None:
    store = make_store()
    store.create("k", alice(), LIMITS)
    assert store.check("k", LIMITS, True, T0 + 1)[0].alive
    assert store.end("k", EndReason.SIGNED_OUT, T0 + 2) is not None
    decision, _ = store.check("k", LIMITS, True, T0 + 3)  # no waiting for the push
    assert (decision.verdict, decision.reason) == (Verdict.ENDED, EndReason.SIGNED_OUT)


@pytest.mark.parametrize(
    "end",
    [
        pytest.param(lambda store: store.end("k", EndReason.SIGNED_OUT, T0 + 2), id="sign-out"),
        pytest.param(lambda store: store.revoke_subject("alice", T0 + 2), id="revoke-all"),
        pytest.param(
            lambda store: store.check("k", Limits(1, None, 0), False, T0 + 2), id="expiry"
        ),
        pytest.param(lambda store: store.purge_expired(T0 + 4000), id="sweep"),
    ],
)
def test_an_end_in_another_process_reaches_this_one(
    make_store: MakeStore, end: Callable[[LocalDecisions], object]
) -> None:
    here, elsewhere = make_store(), make_store()
    here.create("k", alice(), LIMITS)
    elsewhere.check("k", LIMITS, True, T0 + 1)
    assert here.kept == elsewhere.kept == 1
    end(elsewhere)
    eventually(lambda: here.kept == 0)
    decision, _ = here.check("k", LIMITS, True, T0 + 3)
    assert decision.verdict is Verdict.ENDED


def test_a_fresh_sign_in_elsewhere_reaches_the_copy(make_store: MakeStore) -> None:
    here, elsewhere = make_store(), make_store()
    here.create("k", alice(), LIMITS)
    assert elsewhere.reauthenticate("k", T0 + 5)
    eventually(lambda: here.kept == 0)
    _, record = here.check("k", LIMITS, True, T0 + 6)
    assert record is not None
    assert record.authenticated_at == T0 + 5


def test_a_read_that_raced_an_announcement_keeps_no_copy(make_store: MakeStore) -> None:
    store = make_store()
    store.create("other", alice(), LIMITS)
    mark = store._mark()  # a read of "k" begins...
    answer = store.inner.check("k", LIMITS, True, T0)  # ...and finds nothing yet
    store.inner.create("k", alice(), LIMITS)
    read = store.inner.check("k", LIMITS, True, T0 + 1)
    assert read[0].alive
    store._announced(f"{store.inner.key_prefix}{{k}}")  # type: ignore[attr-defined]
    store._keep("k", mark, read, T0 + 1)  # ...and its answer arrives after the announcement
    assert store.kept == 1, "only 'other'"
    assert answer[0].verdict is Verdict.NO_SESSION


def test_the_copies_are_bounded(make_store: MakeStore) -> None:
    store = make_store(maxsize=3)
    for number in range(5):
        store.create(f"k{number}", alice(), LIMITS)
    assert store.kept == 3
    assert store.check("k0", LIMITS, True, T0 + 1)[0].alive, "a dropped copy is read again"


class Blackhole:
    """A TCP relay to Redis that can stop relaying without closing: a hung connection."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.frozen = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                inbound, _ = self.listener.accept()
            except OSError:
                return
            outbound = socket.create_connection(self.target)
            self.sockets += [inbound, outbound]
            for source, sink in ((inbound, outbound), (outbound, inbound)):
                threading.Thread(target=self._relay, args=(source, sink), daemon=True).start()

    def _relay(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            if not self.frozen.is_set():
                try:
                    sink.sendall(data)
                except OSError:
                    return

    def close(self) -> None:
        for item in self.sockets:
            item.close()


def test_a_push_connection_that_hangs_stops_local_decisions(
    make_store: MakeStore, redis_url: str, redis_server: Any
) -> None:
    elsewhere = make_store()
    assert isinstance(elsewhere.inner, RedisStore)
    prefix = elsewhere.inner.key_prefix
    relay = Blackhole(("127.0.0.1", redis_server.port))
    # Only the push connection goes through the relay; requests go straight to Redis.
    hung = RedisStore(f"redis://127.0.0.1:{relay.port}/0", key_prefix=prefix)
    here = LocalDecisions(
        RedisStore(redis_url, key_prefix=prefix), ping_interval=0.1, ping_timeout=0.1
    )
    here.push._connect = lambda: RedisLink.to(hung.url, hung.connection_options)
    try:
        wait_until_healthy(here)
        here.create("k", alice(), LIMITS)
        assert here.check("k", LIMITS, True, T0 + 1)[0].alive
        relay.frozen.set()
        noticed = eventually(lambda: not here.push.healthy(), timeout=1.0)
        assert noticed <= 0.2 + 0.05, "within ping_interval + ping_timeout"
        elsewhere.end("k", EndReason.SIGNED_OUT, T0 + 2)  # its announcement never arrives
        decision, _ = here.check("k", LIMITS, True, T0 + 3)
        assert decision.verdict is Verdict.ENDED, "asked the store, not the stale copy"
    finally:
        here.close()
        hung.close()
        relay.close()


def test_a_killed_push_connection_under_load_allows_nothing_stale(
    make_store: MakeStore, client: redis.Redis
) -> None:
    here, elsewhere = make_store(), make_store()
    here.create("k", alice(), LIMITS)
    stop = threading.Event()
    signed_out = threading.Event()
    allowed_after: list[float] = []

    def load() -> None:
        while not stop.is_set():
            # Only a check that began after the sign-out was acknowledged must refuse.
            after = signed_out.is_set()
            if here.check("k", LIMITS, False, T0 + 1)[0].alive and after:
                allowed_after.append(time.monotonic())

    workers = [threading.Thread(target=load) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(0.05)
        client.client_kill_filter(_type="pubsub")
        eventually(lambda: not here.push.healthy(), timeout=1.5)
        elsewhere.end("k", EndReason.SIGNED_OUT, T0 + 1)
        signed_out.set()
        time.sleep(0.05)
        eventually(here.push.healthy, timeout=3.0)  # back without a restart
        time.sleep(0.05)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert allowed_after == [], "no request allowed once the sign-out was acknowledged"
    assert here.push.losses >= 1
    assert here.push.connections >= 2


def test_a_healthy_push_connection_stays_healthy(make_store: MakeStore) -> None:
    # Each answered ping extends the trust: a pong lost in parsing would drop every copy.
    store = make_store(ping_interval=0.05, ping_timeout=0.05)
    store.create("k", alice(), LIMITS)
    time.sleep(0.5)  # ten pings
    assert (store.push.connections, store.push.losses) == (1, 0)
    assert store.push.healthy()
    assert store.kept == 1


def test_a_forked_process_forgets_the_parents_copies(make_store: MakeStore) -> None:
    store = make_store()
    store.create("k", alice(), LIMITS)
    assert store.kept == 1
    store.push._pid = -1  # what a fork leaves: copies read under another process's connection
    assert not store.push.healthy()
    assert store.kept == 0
    wait_until_healthy(store)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param("local_decisions=1&server_time=1", "server_time", id="server-time"),
        pytest.param("local_margin=2", "need local_decisions=1", id="option-without-mode"),
    ],
)
def test_what_local_decisions_cannot_do_is_refused_at_start_up(
    redis_url: str, query: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        from_url(f"{redis_url}?{query}")


def test_the_url_turns_it_on(redis_url: str) -> None:
    store = from_url(f"{redis_url}?local_decisions=1&local_maxsize=10&local_margin=2.5")
    try:
        assert isinstance(store, LocalDecisions)
        assert (store.maxsize, store.margin) == (10, 2.5)
    finally:
        store.close()
    plain = from_url(redis_url)
    assert isinstance(plain, RedisStore)
    plain.close()


@pytest.mark.parametrize(
    "topology",
    [
        pytest.param("redis_cluster", marks=pytest.mark.redis_cluster, id="cluster"),
        pytest.param("redis_sentinel", marks=pytest.mark.redis_sentinel, id="sentinel"),
    ],
)
def test_on_cluster_and_sentinel_every_request_makes_its_round_trip(
    request: pytest.FixtureRequest, topology: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = request.getfixturevalue(topology).url
    separator = "&" if "?" in url else "?"
    with caplog.at_level("WARNING", logger="idleguard"):
        store = from_url(f"{url}{separator}local_decisions=1", key_prefix="fallback:")
    try:
        assert isinstance(store, RedisStore), "the one-round-trip store, not LocalDecisions"
        assert "every request makes its one round trip" in caplog.text
        store.create("k", alice(), LIMITS)
        assert store.check("k", LIMITS, True, T0 + 1)[0].alive
    finally:
        store.close()
