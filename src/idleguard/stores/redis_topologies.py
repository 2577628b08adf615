"""How the Redis store reaches its servers: one server, a Sentinel set or a Cluster.

Each topology sends a batch of `Call`s in
one round trip per node and returns their replies in order. Under Cluster a
call goes to the node owning its key's slot, and redis-py's cluster client
follows `MOVED` and `ASK` while slots migrate.

A batch holding a tombstone (`confirm`) on a durable store ends with
`WAIT replicas timeout` on the same connection as the writes (a `WAIT` on
another connection would confirm nothing), so the ending is known to be on a
replica before it is reported done. Under Cluster that connection is one of
our own to the slot's primary, the only way to keep the write and its `WAIT`
together; a redirection is followed there too.

Only the declared failures of a server or of the network are outages
(`OUTAGES`, `is_outage`); a reply that says our own call was wrong stays
an error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Sequence
from typing import Any

import redis
import redis.cluster
import redis.sentinel
from redis.backoff import NoBackoff
from redis.exceptions import (
    AskError,
    ClusterError,
    ConnectionError,
    MovedError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    ResponseError,
    SlotNotCoveredError,
    TimeoutError,
    TryAgainError,
)
from redis.retry import Retry

from ..errors import ReplicationUnconfirmed
from .redis_scripts import Call
from .redis_urls import Durability, RedisTarget, Topology

__all__ = ["OUTAGES", "Clients", "SyncClients", "is_outage"]

# redis-py's Cluster and Sentinel modules carry no annotations: reached through
# these, their calls are not checked, rather than each silenced one by one.
_cluster: Any = redis.cluster
_sentinel: Any = redis.sentinel

#: The driver's declared failures of a server or the network: connection and
#: timeout (Sentinel's "no primary" and a server still loading are connection
#: errors), a cluster that is down or being resharded (`CLUSTERDOWN`,
#: `TRYAGAIN`, redirections past the client's limit), a demoted primary
#: (`READONLY`), a full server (`OOM`).
OUTAGES: tuple[type[Exception], ...] = (
    ConnectionError,
    TimeoutError,
    ClusterError,
    TryAgainError,
    ReadOnlyError,
    OutOfMemoryError,
    SlotNotCoveredError,
)
#: How the cluster client says it could not rebuild its map of the slots.
_MAP_GAPS = ("All slots are not covered", "startup_nodes could not agree")
#: Redirections followed for one tombstone before it counts as an outage.
_MAX_REDIRECTIONS = 5


#: Server replies redis-py leaves as a plain ResponseError that still mean "not now":
#: a script of someone else's running past its time, too few replicas for a write
#: (`min-replicas-to-write`), a replica that lost its primary.
_BUSY_REPLIES = ("BUSY ", "NOREPLICAS ", "MASTERDOWN ")


def is_outage(error: BaseException) -> bool:
    """Whether `error` is the store's own failure (an outage), not a wrong call."""
    if isinstance(error, OUTAGES):
        return True
    if isinstance(error, ResponseError) and str(error).startswith(_BUSY_REPLIES):
        return True
    # A cluster whose map cannot be rebuilt (no node answers, slots not yet
    # covered after a failover) is reported as RedisClusterException.
    if isinstance(error, RedisClusterException):
        return isinstance(error.__cause__, OUTAGES) or str(error).startswith(_MAP_GAPS)
    return False


def _connection_options(target: RedisTarget, options: dict[str, Any]) -> dict[str, Any]:
    """What every connection to a server of a Cluster or Sentinel set gets."""
    chosen = {
        "socket_timeout": options["socket_timeout"],
        "socket_connect_timeout": options["socket_connect_timeout"],
        "decode_responses": True,
        "username": target.username,
        "password": target.password,
        **{
            name: value
            for name, value in target.client_options.items()
            if not name.startswith("sentinel_")
        },
    }
    if target.tls:
        chosen["ssl"] = True
    return chosen


def queue_calls(pipe: Any, calls: Sequence[Call], sources: Sequence[bool], asking: bool) -> None:
    """Put calls on a pipeline: by SHA, or by source where the server lacked the script."""
    if asking:
        pipe.execute_command("ASKING")
    for call, source in zip(calls, sources, strict=True):
        if call.script is None:
            pipe.execute_command(*call.args)
        else:
            # As commands: the cluster pipeline refuses its evalsha() method but
            # routes the EVALSHA command by its key.
            pipe.execute_command(
                "EVAL" if source else "EVALSHA",
                call.script.source if source else call.script.sha,
                len(call.keys),
                *call.keys,
                *call.args,
            )


def read_confirmed(replies: list[Any], wait: Durability | None, asking: bool) -> list[Any]:
    """The calls' replies, once `WAIT`'s count (the last reply) says enough replicas have them."""
    if asking:
        replies = replies[1:]
    if wait is not None:
        acknowledged = replies.pop()
        if isinstance(acknowledged, Exception):
            raise acknowledged
        # A round whose every script was missing wrote nothing: its WAIT has
        # nothing to confirm, and the round that sends them by source waits again.
        wrote = not all(isinstance(reply, NoScriptError) for reply in replies)
        if wrote and int(acknowledged) < wait.replicas:
            raise ReplicationUnconfirmed(
                f"redis: the tombstone reached {acknowledged} of {wait.replicas} replica(s) "
                f"in {wait.timeout:g} s (WAIT); with no replicas, set durable=0"
            )
    return replies


def wait_command(wait: Durability) -> tuple[str, str, str]:
    return ("WAIT", str(wait.replicas), str(max(1, round(wait.timeout * 1000))))


def _redirect(reply: Any) -> tuple[str, bool] | None:
    """Where a `MOVED` or `ASK` reply sends a call, and whether it must ask first."""
    if isinstance(reply, AskError):
        return f"{reply.host}:{reply.port}", not isinstance(reply, MovedError)
    return None


#: A plan of sends: yields what to send next, is sent the replies, returns the batch's.
_Plan = Generator[Any, Any, list[Any]]


def retry_missing_scripts(calls: list[Call]) -> _Plan:
    """Send by SHA; then only the calls whose script the server lacked, by source.

    Only those go again: a tombstone written twice would no longer return its
    record, and its event would be lost.
    """
    replies: list[Any] = yield calls, [False] * len(calls)
    missing = [n for n, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
    if missing:
        again = yield [calls[n] for n in missing], [True] * len(missing)
        for n, reply in zip(missing, again, strict=True):
            replies[n] = reply
    return replies


def follow_slots(calls: list[Call], owners: list[str]) -> _Plan:
    """Send each call to its slot's primary, and again where `MOVED` or `ASK` points.

    Yields `{(node, asking): [call numbers]}`, is sent the replies per group.
    """
    replies: list[Any] = [None] * len(calls)
    pending = {n: (owner, False) for n, owner in enumerate(owners)}
    for _ in range(_MAX_REDIRECTIONS):
        groups: dict[tuple[str, bool], list[int]] = {}
        for n, place in pending.items():
            groups.setdefault(place, []).append(n)
        sent: dict[tuple[str, bool], list[Any]] = yield {
            place: [calls[n] for n in numbers] for place, numbers in groups.items()
        }
        pending = {}
        for place, numbers in groups.items():
            for n, reply in zip(numbers, sent[place], strict=True):
                redirect = _redirect(reply)
                if redirect is None:
                    replies[n] = reply
                else:
                    pending[n] = redirect
        if not pending:
            return raise_first(replies)
    raise ClusterError(f"a tombstone was redirected more than {_MAX_REDIRECTIONS} times")


def of_one_node(reply: Any) -> Any:
    """A node-targeted reply as one server gives it.

    The cluster client wraps some in `{node: reply}`, and `SCAN`'s cursor
    as `({node: cursor}, keys)`.
    """
    if isinstance(reply, dict) and len(reply) == 1:
        return next(iter(reply.values()))
    if isinstance(reply, tuple) and len(reply) == 2 and isinstance(reply[0], dict):
        return [of_one_node(reply[0]), reply[1]]
    return reply


def raise_first(replies: Sequence[Any]) -> list[Any]:
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return list(replies)


class Clients:
    """What the sync and async clients share: the target, the options, the per-node cache."""

    def __init__(
        self, target: RedisTarget, options: dict[str, Any], durability: Durability
    ) -> None:
        self.target = target
        self.durability = durability
        self._options = options
        self._common = _connection_options(target, options)
        self._sentinels: Any = None

    def _wait(self, calls: list[Call]) -> Durability | None:
        return self.durability if self.durability.on and any(c.confirm for c in calls) else None

    def _cluster_options(self) -> dict[str, Any]:
        return {
            "retry": Retry(NoBackoff(), 0),
            "max_connections": self._options["max_connections"],
            **self._common,
        }

    def _master_options(self) -> dict[str, Any]:
        return {"db": self.target.db, **self._cluster_options()}


class SyncClients(Clients):
    """Blocking clients (WSGI) for one topology.

    Args:
        target: Where the servers are.
        options: Connection options (`socket_timeout`,
            `socket_connect_timeout`, `max_connections`, and redis-py's own
            for one server).
        durability: Whether tombstones wait for replicas.
    """

    def __init__(
        self, target: RedisTarget, options: dict[str, Any], durability: Durability
    ) -> None:
        super().__init__(target, options, durability)
        self._cluster: Any = None
        self._nodes: dict[str, redis.Redis] = {}
        self._client: Any = None
        if target.topology is Topology.STANDALONE:
            self._client = redis.Redis.from_pool(
                redis.BlockingConnectionPool.from_url(target.url, **options)
            )
        elif target.topology is Topology.SENTINEL:
            self._sentinels = _sentinel.Sentinel(
                list(target.nodes), sentinel_kwargs=sentinel_options(target, options)
            )
            assert target.service_name is not None
            self._client = self._sentinels.master_for(target.service_name, **self._master_options())

    def cluster(self) -> Any:
        """The cluster client, built on first use: building it asks a node for the slots."""
        if self._cluster is None:
            nodes = [_cluster.ClusterNode(host, port) for host, port in self.target.nodes]
            self._cluster = _cluster.RedisCluster(startup_nodes=nodes, **self._cluster_options())
        return self._cluster

    def client(self) -> Any:
        """The redis-py client: of the server, the Sentinel's primary, or the Cluster."""
        return self._client if self._client is not None else self.cluster()

    def primaries(self) -> list[str | None]:
        """The nodes a `SCAN` must visit: each primary's `host:port` under Cluster."""
        if self._client is not None:
            return [None]
        return [node.name for node in self.cluster().get_primaries()]

    def run(self, calls: list[Call]) -> list[Any]:
        """Send a batch, one round trip per node; the replies in order.

        Raises:
            ReplicationUnconfirmed: A tombstone in the batch reached fewer
                replicas than the store asks for in time.
        """
        wait = self._wait(calls)
        if self._client is not None:
            if len(calls) == 1 and wait is None:
                return [self._one(self._client, calls[0])]
            return raise_first(self._pipelined(self._client, calls, wait, False))
        cluster = self.cluster()
        if wait is not None:
            owners = [cluster.get_node_from_key(call.keys[0]).name for call in calls]
            plan = follow_slots(calls, owners)
            request = next(plan)
            while True:
                try:
                    sent = {
                        (name, asking): self._pipelined(self._node(name), group, wait, asking)
                        for (name, asking), group in request.items()
                    }
                except (ConnectionError, TimeoutError):
                    # The map of the slots may be stale (a failover): read it again for the
                    # next call, as the cluster client does on its own path, then fail this one.
                    with contextlib.suppress(*OUTAGES, RedisClusterException):
                        cluster.nodes_manager.initialize()
                    raise
                try:
                    request = plan.send(sent)
                except StopIteration as stop:
                    return list(stop.value)
        if len(calls) == 1:
            return [self._one(cluster, calls[0])]
        pipe = cluster.pipeline()
        queue_calls(pipe, calls, [False] * len(calls), asking=False)
        replies = pipe.execute(raise_on_error=False)
        return raise_first(
            [
                self._one(cluster, call) if isinstance(reply, NoScriptError) else reply
                for call, reply in zip(calls, replies, strict=True)
            ]
        )

    def _one(self, client: Any, call: Call) -> Any:
        if call.script is None:
            if call.node is not None:
                node = client.get_node(node_name=call.node)
                return of_one_node(client.execute_command(*call.args, target_nodes=node))
            return client.execute_command(*call.args)
        try:
            return client.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
        except NoScriptError:
            return client.eval(call.script.source, len(call.keys), *call.keys, *call.args)

    def _pipelined(
        self, client: redis.Redis, calls: list[Call], wait: Durability | None, asking: bool
    ) -> list[Any]:
        plan = retry_missing_scripts(calls)
        request = next(plan)
        while True:
            pipe: Any = client.pipeline(transaction=False)
            batch, sources = request
            queue_calls(pipe, batch, sources, asking)
            if wait is not None:
                pipe.execute_command(*wait_command(wait))
            replies = read_confirmed(pipe.execute(raise_on_error=False), wait, asking)
            try:
                request = plan.send(replies)
            except StopIteration as stop:
                return list(stop.value)

    def _node(self, name: str) -> redis.Redis:
        if name not in self._nodes:
            host, _, port = name.rpartition(":")
            self._nodes[name] = redis.Redis(host=host, port=int(port), **self._cluster_options())
        return self._nodes[name]

    def close(self) -> None:
        for node in self._nodes.values():
            node.close()
        if self._cluster is not None:
            self._cluster.close()
        if self._client is not None:
            self._client.close()
            # A Sentinel's primary client does not own its pool: closed here, by hand.
            self._client.connection_pool.disconnect()
        for sentinel in self._sentinels.sentinels if self._sentinels is not None else ():
            sentinel.close()


def sentinel_options(target: RedisTarget, options: dict[str, Any]) -> dict[str, Any]:
    chosen: dict[str, Any] = {
        "socket_timeout": options["socket_timeout"],
        "socket_connect_timeout": options["socket_connect_timeout"],
    }
    for name in ("sentinel_password", "sentinel_username"):
        if name in target.client_options:
            chosen[name.removeprefix("sentinel_")] = target.client_options[name]
    if target.tls:
        chosen["ssl"] = True
    return chosen
