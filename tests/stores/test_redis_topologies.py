"""Which driver errors are outages, and what a durable store does when no replica confirms."""

from __future__ import annotations

import logging
import time

import pytest
from redis.exceptions import (
    ClusterDownError,
    ConnectionError,
    MovedError,
    ReadOnlyError,
    RedisClusterException,
    ResponseError,
    TimeoutError,
    TryAgainError,
)
from redis.sentinel import MasterNotFoundError

from idleguard.core import EndReason, Limits, SessionRecord, Verdict
from idleguard.stores import from_url
from idleguard.stores.redis_topologies import is_outage

from ..topologies import SentinelSet


def _caused(error: Exception, cause: Exception) -> Exception:
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        pytest.param(ConnectionError("refused"), True, id="connection"),
        pytest.param(TimeoutError("slow"), True, id="timeout"),
        pytest.param(ClusterDownError("CLUSTERDOWN"), True, id="cluster-down"),
        pytest.param(TryAgainError("TRYAGAIN"), True, id="try-again"),
        pytest.param(ReadOnlyError("READONLY"), True, id="demoted-primary"),
        pytest.param(MasterNotFoundError("no primary"), True, id="sentinel-no-primary"),
        pytest.param(
            _caused(RedisClusterException("Redis Cluster cannot be connected"), TimeoutError()),
            True,
            id="no-node-answers",
        ),
        pytest.param(
            RedisClusterException("All slots are not covered after query all startup_nodes."),
            True,
            id="slots-uncovered",
        ),
        pytest.param(ResponseError("BUSY Redis is busy running a script"), True, id="busy"),
        pytest.param(ResponseError("NOREPLICAS Not enough good replicas"), True, id="no-replicas"),
        # Our own mistakes stay loud: never mistaken for an outage (and never fail-open).
        pytest.param(ResponseError("WRONGTYPE Operation against a key"), False, id="wrong-type"),
        pytest.param(ResponseError("ERR Error running script"), False, id="script-error"),
        pytest.param(
            RedisClusterException("EVALSHA - all keys must map to the same key slot"),
            False,
            id="cross-slot-call",
        ),
        pytest.param(MovedError("3999 127.0.0.1:6381"), False, id="unfollowed-redirection"),
        pytest.param(ValueError("bug"), False, id="bug"),
    ],
)
def test_only_declared_server_failures_are_outages(error: Exception, outage: bool) -> None:
    assert is_outage(error) is outage


@pytest.mark.redis_sentinel
@pytest.mark.failover
def test_an_expiry_no_replica_confirms_is_still_refused_and_logged(
    own_sentinel: SentinelSet, caplog: pytest.LogCaptureFixture
) -> None:
    store = from_url(own_sentinel.url + "?socket_timeout=0.5&durable_timeout=0.2")
    limits = Limits(60.0, None, 1.0)
    now = time.time()
    store.create("k", SessionRecord("alice", None, now, now, now), limits)
    replica = own_sentinel.replica
    replica.pause()
    try:
        with caplog.at_level(logging.ERROR, logger="idleguard"):
            decision, _ = store.check("k", limits, True, now + 61)
    finally:
        replica.resume()
        store.close()
    # The request is refused as expired: an unconfirmed tombstone never lets a session through.
    assert decision.verdict is Verdict.EXPIRED_IDLE
    assert "not confirmed by a replica" in caplog.text


@pytest.mark.redis_sentinel
def test_a_durable_sign_out_waits_for_the_replica(redis_sentinel: SentinelSet) -> None:
    store = from_url(redis_sentinel.url, key_prefix="durable:")
    now = time.time()
    for key in ("warm", "k"):
        store.create(key, SessionRecord("alice", None, now, now, now), Limits(60.0, None, 1.0))
    store.end("warm", EndReason.SIGNED_OUT, now + 1)  # the script is cached from here on
    client = store._client  # type: ignore[attr-defined]
    client.config_resetstat()
    assert store.end("k", EndReason.SIGNED_OUT, now + 1) is not None
    stats = client.info("commandstats")
    store.close()
    # The tombstone and its WAIT, sent together on one connection.
    assert int(stats["cmdstat_evalsha"]["calls"]) == 1
    assert int(stats["cmdstat_wait"]["calls"]) == 1
