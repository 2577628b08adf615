"""The Redis store's URLs: each topology read right, and every bad one a clear start-up error."""

from __future__ import annotations

import pytest

from idleguard import ConfigError
from idleguard.stores import from_url
from idleguard.stores.redis_urls import Topology, durability, parse_url


@pytest.mark.parametrize(
    ("url", "topology", "nodes", "service", "db", "tls"),
    [
        pytest.param("redis://h:1/2", Topology.STANDALONE, (), None, 0, False, id="one-server"),
        pytest.param("valkeys://h:1/0", Topology.STANDALONE, (), None, 0, True, id="valkey-tls"),
        pytest.param(
            "redis+cluster://a:7000,b:7001/",
            Topology.CLUSTER,
            (("a", 7000), ("b", 7001)),
            None,
            0,
            False,
            id="cluster",
        ),
        pytest.param(
            "rediss+cluster://a,[::1]:7001",
            Topology.CLUSTER,
            (("a", 6379), ("::1", 7001)),
            None,
            0,
            True,
            id="cluster-tls-default-port-ipv6",
        ),
        pytest.param(
            "redis+sentinel://a:1,b:2/mymaster/3",
            Topology.SENTINEL,
            (("a", 1), ("b", 2)),
            "mymaster",
            3,
            False,
            id="sentinel",
        ),
        pytest.param(
            "valkeys+sentinel://a/mymaster",
            Topology.SENTINEL,
            (("a", 26379),),
            "mymaster",
            0,
            True,
            id="valkey-sentinel-tls",
        ),
    ],
)
def test_each_topology_is_read(
    url: str,
    topology: Topology,
    nodes: tuple[tuple[str, int], ...],
    service: str | None,
    db: int,
    tls: bool,
) -> None:
    target, _ = parse_url(url, {})
    assert (target.topology, target.nodes, target.service_name, target.db, target.tls) == (
        topology,
        nodes,
        service,
        db,
        tls,
    )


def test_credentials_and_options_ride_in_the_url() -> None:
    target, options = parse_url(
        "redis+sentinel://u:p%40ss@a:1/s?durable=2&durable_timeout=0.1&key_prefix=x:"
        "&sentinel_password=sp",
        {"key_prefix": "kept:"},
    )
    assert (target.username, target.password) == ("u", "p@ss")
    assert target.client_options == {"sentinel_password": "sp"}
    assert options == {"durable": 2, "durable_timeout": 0.1, "key_prefix": "kept:"}
    assert "p@ss" not in target.redacted()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("redis+cluster://", "has no host", id="no-host"),
        pytest.param("redis+cluster://a:7000,,b:7001/", "empty host", id="empty-host"),
        pytest.param("redis+cluster://a:70000/", "no valid port", id="port-range"),
        pytest.param("redis+cluster://a:x/", "no valid port", id="port-word"),
        pytest.param("redis+cluster://a:1/3", "only database 0", id="cluster-db"),
        pytest.param("redis+sentinel://a:1/", "needs the service name", id="no-service"),
        pytest.param("redis+sentinel://a:1/s/x", "is not a number", id="db-word"),
        pytest.param("redis+sentinel://a:1/s/0/9", "more parts", id="long-path"),
        pytest.param("redis+cluster://a:1/?durabel=1", "did you mean 'durable'", id="typo"),
        pytest.param("redis+cluster://a:1/?durable=maybe", "not on or off", id="durable-word"),
        pytest.param("redis+cluster://a:1/?socket_timeout=soon", "not a number", id="timeout"),
        pytest.param("redis+galaxy://a:1/", "unknown store URL scheme", id="scheme"),
        pytest.param(
            "redis+cluster://a:1/?durable_timeout=2", "shorter than socket_timeout", id="wait"
        ),
        pytest.param("redis+cluster://[::1/", "cannot be read", id="ipv6"),
    ],
)
def test_a_bad_url_fails_at_start_up_naming_the_problem(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        from_url(url)


@pytest.mark.parametrize(
    ("topology", "value", "replicas"),
    [
        pytest.param(Topology.STANDALONE, None, 0, id="one-server-off"),
        pytest.param(Topology.CLUSTER, None, 1, id="cluster-on"),
        pytest.param(Topology.SENTINEL, None, 1, id="sentinel-on"),
        pytest.param(Topology.CLUSTER, False, 0, id="turned-off"),
        pytest.param(Topology.STANDALONE, 2, 2, id="two-replicas"),
    ],
)
def test_durable_by_default_where_replicas_are_the_rule(
    topology: Topology, value: bool | int | None, replicas: int
) -> None:
    assert durability(topology, value, None).replicas == replicas


def test_a_cluster_url_builds_without_reaching_the_cluster() -> None:
    # Nothing listens there: the app still starts, and its requests get 503 until it does.
    store = from_url("redis+cluster://127.0.0.1:1/?connect_timeout=0.2&socket_timeout=0.5")
    store.close()
