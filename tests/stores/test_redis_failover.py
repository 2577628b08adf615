"""Real failovers: a primary of a Cluster or a Sentinel set killed under load.

While the replica is promoted, requests answer 503 (never 500), for a bounded
window; afterwards they work again without a restart, and a session signed out
just before the kill stays signed out: its tombstone was on a replica (`WAIT`)
before the sign-out answered. A slot moved between primaries under load loses
no session.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis

from idleguard import IdleGuardWSGI, Policy, StoreUnavailable
from idleguard.core import EndReason, Limits, SessionRecord, Verdict
from idleguard.stores import from_url
from idleguard.testing import EventCollector, SettableClock

from ..servers import RedisServer
from ..topologies import RedisCluster, SentinelSet
from .apps import SECRET, wsgi_app

pytestmark = [pytest.mark.failover, pytest.mark.slow]

JSON = {"accept": "application/json"}
USERS = 24
#: How long a promotion may take before the test calls it stuck (seconds).
PROMOTION_LIMIT = 20.0
FULL = os.environ.get("IDLEGUARD_TOPOLOGIES") == "full"
#: Failovers in a row: the whole run (CI) kills the new primary too, after the old one returns.
ROUNDS = 2 if FULL else 1


def _wait(ready: Any, limit: float = PROMOTION_LIMIT) -> None:
    deadline = time.monotonic() + limit
    while not ready():
        assert time.monotonic() < deadline, f"{ready.__name__} not reached in {limit:g} s"
        time.sleep(0.1)


class Deployment:
    """An app behind IdleGuard on one store URL, with one signed-in client per user."""

    def __init__(self, url: str) -> None:
        self.events = EventCollector()
        self.guard = IdleGuardWSGI(
            wsgi_app,
            store=url,
            secret_key=SECRET,
            policy=Policy(idle_timeout=600, touch_interval=30),
            clock=SettableClock(),
            on_event=self.events,
            https_only=False,
            login_url=None,
        )
        self.clients = [self.client() for _ in range(USERS)]
        for number, client in enumerate(self.clients):
            assert client.get(f"/login?user=u{number}").status_code == 200

    def client(self) -> httpx.Client:
        return httpx.Client(
            transport=httpx.WSGITransport(app=self.guard), base_url="http://app", headers=JSON
        )

    def key_of(self, client: httpx.Client) -> str:
        settings = self.guard.settings
        credential = client.cookies[settings.cookie_name]
        key = settings.identity.key_for(credential)
        assert key is not None
        return f"ig:{{{key}}}"

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.guard.store.close()


class Load:
    """Requests from every live client in turn, in a thread, each answer noted with its time."""

    def __init__(self, clients: list[httpx.Client]) -> None:
        self.clients = clients
        self.answers: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for client in self.clients:
                status = client.get("/me").status_code
                self.answers.append((time.monotonic(), status))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def recovered(self, since: float, streak: int = 2 * USERS) -> bool:
        """The last `streak` answers after `since` were all 200."""
        recent = [status for at, status in self.answers if at > since][-streak:]
        return len(recent) == streak and set(recent) == {200}


def _window(answers: list[tuple[float, int]]) -> float:
    unavailable = [at for at, status in answers if status == 503]
    return unavailable[-1] - unavailable[0] if unavailable else 0.0


def _fail_over(
    deployment: Deployment, kill: Any, healthy: Any, round_number: int = 0
) -> tuple[float, set[int]]:
    """Sign a user out, kill the primary at once, keep the others loaded until all is well."""
    signed_out = deployment.clients[round_number]
    others = deployment.clients[round_number + 1 :]
    name = deployment.guard.settings.cookie_name
    copied = signed_out.cookies[name]
    load = Load(others)
    time.sleep(0.3)
    assert signed_out.get("/logout").status_code == 200
    killed_at = time.monotonic()
    kill()
    deadline = killed_at + PROMOTION_LIMIT
    while time.monotonic() < deadline and not (healthy() and load.recovered(killed_at)):
        time.sleep(0.1)
    load.stop()
    assert load.recovered(killed_at), "requests did not recover after the promotion"
    statuses = {status for _, status in load.answers}
    window = _window(load.answers)
    print(f"\nfailover window: {window:.2f} s, answers: {len(load.answers)}")
    # A copy of the signed-out cookie stays refused on the promoted replica.
    with deployment.client() as replay:
        replay.cookies.set(name, copied)
        assert replay.get("/me").status_code == 401
    for client in others:
        assert client.get("/me").json()["subject"] is not None
    return window, statuses


def _failovers(
    deployment: Deployment,
    victim: Callable[[int], RedisServer],
    promoted: Callable[[RedisServer], bool],
    replicated: Callable[[], bool],
) -> set[int]:
    """`ROUNDS` failovers in a row: kill `victim(round)`, wait, bring it back as a replica."""
    seen: set[int] = set()
    for round_number in range(ROUNDS):
        killed = victim(round_number)
        window, statuses = _fail_over(
            deployment, killed.stop, functools.partial(promoted, killed), round_number
        )
        assert statuses <= {200, 503}
        assert window < PROMOTION_LIMIT
        seen |= statuses
        killed.start()
        _wait(replicated)
    return seen


@pytest.fixture
def cluster_deployment(own_cluster: RedisCluster) -> Iterator[tuple[RedisCluster, Deployment]]:
    deployment = Deployment(own_cluster.url + "?socket_timeout=0.5&connect_timeout=0.5")
    yield own_cluster, deployment
    deployment.close()


@pytest.mark.redis_cluster
def test_a_cluster_primary_killed_under_load(
    cluster_deployment: tuple[RedisCluster, Deployment],
) -> None:
    cluster, deployment = cluster_deployment

    def victim(round_number: int) -> RedisServer:
        return cluster.owner_of(deployment.key_of(deployment.clients[round_number]))

    statuses = _failovers(deployment, victim, lambda _: cluster.serving(), cluster.healthy)
    assert 503 in statuses, "no request reached the killed primary's slots"


@pytest.fixture
def sentinel_deployment(own_sentinel: SentinelSet) -> Iterator[tuple[SentinelSet, Deployment]]:
    deployment = Deployment(own_sentinel.url + "?socket_timeout=0.5&connect_timeout=0.5")
    yield own_sentinel, deployment
    deployment.close()


@pytest.mark.redis_sentinel
def test_a_sentinel_primary_killed_under_load(
    sentinel_deployment: tuple[SentinelSet, Deployment],
) -> None:
    sentinels, deployment = sentinel_deployment
    _failovers(
        deployment,
        lambda _: sentinels.current_primary(),
        lambda killed: sentinels.current_primary() is not killed,
        sentinels.replicated,
    )


@pytest.mark.redis_sentinel
def test_a_sign_out_no_replica_confirms_answers_503(
    sentinel_deployment: tuple[SentinelSet, Deployment],
) -> None:
    sentinels, deployment = sentinel_deployment
    replica = sentinels.replica if sentinels.current_primary() is sentinels.primary else None
    assert replica is not None
    name = deployment.guard.settings.cookie_name
    copied = deployment.clients[0].cookies[name]
    replica.pause()
    try:
        started = time.monotonic()
        answer = deployment.clients[0].get("/logout")
        took = time.monotonic() - started
    finally:
        replica.resume()
    # Not a silent success: the ending is on the primary alone, and the caller is told.
    assert answer.status_code == 503
    assert took < 0.5 + 0.25
    outage = [e for e in deployment.events.events if e.type.value == "store_unavailable"]
    assert outage[-1].metadata["error"] == "ReplicationUnconfirmed"
    # The browser was told to forget the session, and the primary refuses a copy of it.
    assert name not in deployment.clients[0].cookies
    with deployment.client() as replay:
        replay.cookies.set(name, copied)
        assert replay.get("/me").status_code == 401


@pytest.mark.redis_cluster
def test_a_slot_migrated_under_load_loses_no_session(
    cluster_deployment: tuple[RedisCluster, Deployment],
) -> None:
    cluster, deployment = cluster_deployment
    moved_key = deployment.key_of(deployment.clients[0])
    source = cluster.owner_of(moved_key)
    target = next(n for n in cluster.nodes[: cluster.primaries] if n.running and n is not source)
    load = Load(deployment.clients)
    time.sleep(0.3)
    cluster.migrate_slot_of(moved_key, source, target)
    time.sleep(0.5)
    load.stop()
    assert cluster.owner_of(moved_key) is target
    assert {status for _, status in load.answers} == {200}
    for number, client in enumerate(deployment.clients):
        assert client.get("/me").json() == {"subject": f"u{number}"}
    # A sign-out routed through the moved slot still lands, and is confirmed.
    name = deployment.guard.settings.cookie_name
    copied = deployment.clients[0].cookies[name]
    assert deployment.clients[0].get("/logout").status_code == 200
    with deployment.client() as replay:
        replay.cookies.set(name, copied)
        assert replay.get("/me").status_code == 401


@pytest.mark.redis_cluster
def test_one_request_is_one_evalsha_on_the_slot_owner(redis_cluster: RedisCluster) -> None:
    deployment = Deployment(redis_cluster.url)
    try:
        client = deployment.clients[3]
        key = deployment.key_of(client)
        owner = cluster_owner = redis_cluster.owner_of(key)
        # The session's key names its own slot: the digest between braces.
        with redis.Redis(port=owner.port, decode_responses=True) as inspector:
            digest = key[len("ig:{") : -1]
            slot = inspector.execute_command("CLUSTER", "KEYSLOT", key)
            assert slot == inspector.execute_command("CLUSTER", "KEYSLOT", digest)
        clients = {
            node: redis.Redis(port=node.port, decode_responses=True)
            for node in redis_cluster.nodes
            if node.running
        }
        for inspector in clients.values():
            inspector.config_resetstat()
        assert client.get("/me").status_code == 200
        calls = {
            node: int(inspector.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))
            for node, inspector in clients.items()
        }
        for inspector in clients.values():
            inspector.close()
        assert calls.pop(cluster_owner) == 1
        assert set(calls.values()) == {0}
    finally:
        deployment.close()


@pytest.mark.redis_cluster
def test_a_sign_out_after_a_failover_nobody_has_seen_yet(own_cluster: RedisCluster) -> None:
    # No request has run since the promotion: the client's map of the slots still names
    # the dead primary. The first tombstone may fail (503, never a false success); the
    # map is read again then, and the next one lands on the new primary.
    store = from_url(own_cluster.url + "?socket_timeout=0.5&connect_timeout=0.5")
    now = time.time()
    limits = Limits(600.0, None, 30.0)
    keys = ["a{same}", "b{same}", "c{same}"]
    for key in keys:
        store.create(key, SessionRecord("alice", None, now, now, now), limits)
    victim = own_cluster.owner_of("ig:{a{same}}")
    victim.stop()
    _wait(own_cluster.serving)
    outcomes = []
    for key in keys:
        try:
            outcomes.append(store.end(key, EndReason.SIGNED_OUT, now + 1) is not None)
        except StoreUnavailable:
            outcomes.append(False)
    assert outcomes[-1], outcomes
    for key in keys[1:]:
        assert store.check(key, limits, True, now + 2)[0].verdict is Verdict.ENDED
    store.close()
