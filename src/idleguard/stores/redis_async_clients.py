"""The awaited twins of the Redis topologies' clients (ASGI).

The same plans as `redis_topologies`
(which call goes where, which missing scripts go again, where a redirection
points, what `WAIT` must confirm), driven with `redis.asyncio`.
"""

from __future__ import annotations

import contextlib
from typing import Any

import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.sentinel
from redis.exceptions import ConnectionError, NoScriptError, RedisClusterException, TimeoutError

from .redis_scripts import Call
from .redis_topologies import (
    OUTAGES,
    Clients,
    follow_slots,
    of_one_node,
    queue_calls,
    raise_first,
    read_confirmed,
    retry_missing_scripts,
    sentinel_options,
    wait_command,
)
from .redis_urls import Durability, RedisTarget, Topology

__all__ = ["AsyncClients"]

# redis-py's Cluster and Sentinel modules carry no annotations (see redis_topologies).
_async_cluster: Any = redis.asyncio.cluster
_async_sentinel: Any = redis.asyncio.sentinel


class AsyncClients(Clients):
    """The awaited twin of `SyncClients` (ASGI).

    Its connections belong to the event loop that opened them: the store
    builds one per loop.
    """

    def __init__(
        self, target: RedisTarget, options: dict[str, Any], durability: Durability
    ) -> None:
        super().__init__(target, options, durability)
        self._cluster: Any = None
        self._nodes: dict[str, redis.asyncio.Redis] = {}
        self._client: Any = None
        if target.topology is Topology.CLUSTER:
            nodes = [_async_cluster.ClusterNode(host, port) for host, port in target.nodes]
            self._cluster = _async_cluster.RedisCluster(
                startup_nodes=nodes, **self._cluster_options()
            )
        if target.topology is Topology.STANDALONE:
            self._client = redis.asyncio.Redis.from_pool(
                redis.asyncio.BlockingConnectionPool.from_url(target.url, **options)
            )
        elif target.topology is Topology.SENTINEL:
            self._sentinels = _async_sentinel.Sentinel(
                list(target.nodes), sentinel_kwargs=sentinel_options(target, options)
            )
            assert target.service_name is not None
            self._client = self._sentinels.master_for(target.service_name, **self._master_options())

    def client(self) -> Any:
        """The redis-py client: of the server, the Sentinel's primary, or the Cluster."""
        return self._client if self._client is not None else self._cluster

    async def cluster(self) -> Any:
        """The cluster client, its map of the slots read on first use (once, under its lock)."""
        return await self._cluster.initialize()

    async def primaries(self) -> list[str | None]:
        if self._client is not None:
            return [None]
        return [node.name for node in (await self.cluster()).get_primaries()]

    async def run(self, calls: list[Call]) -> list[Any]:
        """The awaited twin of `SyncClients.run`."""
        wait = self._wait(calls)
        if self._client is not None:
            if len(calls) == 1 and wait is None:
                return [await self._one(self._client, calls[0])]
            return raise_first(await self._pipelined(self._client, calls, wait, False))
        cluster = await self.cluster()
        if wait is not None:
            owners = [cluster.get_node_from_key(call.keys[0]).name for call in calls]
            plan = follow_slots(calls, owners)
            request = next(plan)
            while True:
                try:
                    sent = {
                        (name, asking): await self._pipelined(self._node(name), group, wait, asking)
                        for (name, asking), group in request.items()
                    }
                except (ConnectionError, TimeoutError):
                    # The map of the slots may be stale (a failover): read it again.
                    with contextlib.suppress(*OUTAGES, RedisClusterException):
                        await cluster.nodes_manager.initialize()
                    raise
                try:
                    request = plan.send(sent)
                except StopIteration as stop:
                    return list(stop.value)
        if len(calls) == 1:
            return [await self._one(cluster, calls[0])]
        pipe = cluster.pipeline()
        queue_calls(pipe, calls, [False] * len(calls), asking=False)
        replies = await pipe.execute(raise_on_error=False)
        return raise_first(
            [
                await self._one(cluster, call) if isinstance(reply, NoScriptError) else reply
                for call, reply in zip(calls, replies, strict=True)
            ]
        )

    async def _one(self, client: Any, call: Call) -> Any:
        if call.script is None:
            if call.node is not None:
                node = client.get_node(node_name=call.node)
                return of_one_node(await client.execute_command(*call.args, target_nodes=node))
            return await client.execute_command(*call.args)
        try:
            return await client.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
        except NoScriptError:
            return await client.eval(call.script.source, len(call.keys), *call.keys, *call.args)

    async def _pipelined(
        self, client: redis.asyncio.Redis, calls: list[Call], wait: Durability | None, asking: bool
    ) -> list[Any]:
        plan = retry_missing_scripts(calls)
        request = next(plan)
        while True:
            pipe: Any = client.pipeline(transaction=False)
            batch, sources = request
            queue_calls(pipe, batch, sources, asking)
            if wait is not None:
                pipe.execute_command(*wait_command(wait))
            replies = read_confirmed(await pipe.execute(raise_on_error=False), wait, asking)
            try:
                request = plan.send(replies)
            except StopIteration as stop:
                return list(stop.value)

    def _node(self, name: str) -> redis.asyncio.Redis:
        if name not in self._nodes:
            host, _, port = name.rpartition(":")
            self._nodes[name] = redis.asyncio.Redis(
                host=host, port=int(port), **self._cluster_options()
            )
        return self._nodes[name]

    async def aclose(self) -> None:
        for node in self._nodes.values():
            await node.aclose()
        if self._cluster is not None:
            await self._cluster.aclose()
        if self._client is not None:
            await self._client.aclose(close_connection_pool=True)
        for sentinel in self._sentinels.sentinels if self._sentinels is not None else ():
            await sentinel.aclose()
