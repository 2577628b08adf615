"""The Redis store's URLs: one server, a Sentinel set or a Cluster, read once at start-up.

* `redis://[user:password@]host:port/db`, `rediss://` (TLS),
  `unix:///path/to/redis.sock?db=0`: one server (redis-py reads these itself).
* `redis+cluster://host1:port1,host2:port2/` (`rediss+cluster://`): a Redis
  Cluster; any of its nodes will do, the client finds the rest.
* `redis+sentinel://host1:port1,host2:port2/service_name/db`
  (`rediss+sentinel://`): the primary Sentinel names for `service_name`. The
  URL's password is the primary's; `sentinel_password=` is the Sentinels'.
* `valkey`, `valkeys`, `valkey+cluster`, `valkeys+cluster`, `valkey+sentinel`,
  `valkeys+sentinel`: the same, for Valkey, which speaks the same protocol.

The store's options may ride in the query string (`key_prefix`,
`socket_timeout`, `connect_timeout`, `tombstone_ttl`, `server_time`,
`max_connections`, `durable`, `durable_timeout`). A URL that cannot work
fails here, with a `ConfigError` that names what is wrong.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from ..errors import ConfigError

__all__ = ["SCHEMES", "Durability", "RedisTarget", "Topology", "durability", "parse_url"]


class Topology(str, enum.Enum):
    """How the Redis servers behind a URL are arranged."""

    STANDALONE = "standalone"
    CLUSTER = "cluster"
    SENTINEL = "sentinel"


_PLAIN = ("redis", "rediss", "unix", "valkey", "valkeys")
_FAMILIES = ("redis", "rediss", "valkey", "valkeys")
#: Every scheme the Redis store serves.
SCHEMES: tuple[str, ...] = (
    *_PLAIN,
    *(f"{family}+{kind}" for family in _FAMILIES for kind in ("cluster", "sentinel")),
)

_DEFAULT_PORT = {Topology.CLUSTER: 6379, Topology.SENTINEL: 26379}
_FLOATS = ("socket_timeout", "connect_timeout", "tombstone_ttl", "durable_timeout")
_INTEGERS = ("max_connections",)
_BOOLEANS = ("server_time",)
_STRINGS = ("key_prefix",)
_STORE_OPTIONS = (*_FLOATS, *_INTEGERS, *_BOOLEANS, *_STRINGS, "durable")
#: Options a Cluster or Sentinel URL may pass to redis-py's connections as they are.
_CLIENT_STRINGS = (
    "ssl_cert_reqs",
    "ssl_ca_certs",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_check_hostname",
    "client_name",
    "sentinel_password",
    "sentinel_username",
)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclasses.dataclass(frozen=True, slots=True)
class Durability:
    """Tombstones wait for replicas: `WAIT replicas timeout` after each.

    Attributes:
        replicas: How many replicas must hold the write; 0 turns the wait off.
        timeout: Seconds the wait may take before the write counts as
            unconfirmed.
    """

    replicas: int
    timeout: float

    @property
    def on(self) -> bool:
        return self.replicas > 0


@dataclasses.dataclass(frozen=True, slots=True)
class RedisTarget:
    """Where the servers are and how to speak to them.

    Attributes:
        topology: One server, a Sentinel set, or a Cluster.
        url: For one server, the URL redis-py reads (Valkey's scheme mapped to
            Redis's, the store's own options taken out).
        nodes: `(host, port)` of the Cluster's seed nodes or of the Sentinels.
        service_name: The name Sentinel knows the primary by.
        db: The database number (0 under Cluster, which has no other).
        tls: Whether connections use TLS.
        username: The servers' user, if any.
        password: The servers' password, if any.
        client_options: Connection options passed to redis-py as they are.
    """

    topology: Topology
    url: str
    nodes: tuple[tuple[str, int], ...] = ()
    service_name: str | None = None
    db: int = 0
    tls: bool = False
    username: str | None = None
    password: str | None = None
    client_options: dict[str, Any] = dataclasses.field(default_factory=dict)

    def redacted(self) -> str:
        """The URL without its password, for messages and logs."""
        if self.topology is Topology.STANDALONE:
            parts = urlsplit(self.url)
            if parts.password is None:
                return self.url.split("?", 1)[0]
            return self.url.split("?", 1)[0].replace(f":{parts.password}@", ":***@", 1)
        hosts = ",".join(f"{host}:{port}" for host, port in self.nodes)
        return f"{self.topology.value}://{hosts}"


def parse_url(url: str, options: dict[str, Any]) -> tuple[RedisTarget, dict[str, Any]]:
    """Read a Redis store URL.

    Args:
        url: The store's URL.
        options: The store's keyword arguments; they win over the URL's query
            string.

    Returns:
        Where to connect, and the store's options (the URL's merged under
            `options`).

    Raises:
        ConfigError: The URL names no host, a bad port or database, an
            option that does not exist, or a value that is not of its kind.
    """
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if not rest and scheme not in {"unix"}:
        raise ConfigError(f"store URL {url!r} has no host: write {scheme}://host:port/")
    base, _, query = rest.partition("?")
    family, _, kind = scheme.partition("+")
    merged = dict(options)
    passed: list[tuple[str, str]] = []
    client_options: dict[str, Any] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in _STORE_OPTIONS:
            merged.setdefault(name, _option(name, value))
        elif kind and name in _CLIENT_STRINGS:
            client_options[name] = value
        elif kind:
            close = difflib.get_close_matches(name, [*_STORE_OPTIONS, *_CLIENT_STRINGS], 1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"store URL option {name!r} is not known{hint}")
        else:
            passed.append((name, value))
    if not kind:
        plain = {"valkey": "redis", "valkeys": "rediss"}.get(family, family)
        target_url = f"{plain}://{base}" + ("?" + urlencode(passed) if passed else "")
        return RedisTarget(Topology.STANDALONE, target_url, tls=plain == "rediss"), merged
    try:
        topology = Topology(kind)
    except ValueError:
        raise ConfigError(f"unknown store URL scheme {scheme + '://'!r}") from None
    location, _, path = base.partition("/")
    user, password, hosts = _location(location, _DEFAULT_PORT[topology], url)
    segments = [unquote(segment) for segment in path.split("/") if segment]
    service_name: str | None = None
    if topology is Topology.SENTINEL:
        if not segments:
            raise ConfigError(
                f"store URL {scheme}:// needs the service name Sentinel monitors: "
                f"{scheme}://host:26379/service_name/0"
            )
        service_name, *segments = segments
    if len(segments) > 1:
        raise ConfigError(f"store URL path {'/' + path!r} has more parts than a database number")
    db = _database(segments[0] if segments else "0")
    if topology is Topology.CLUSTER and db != 0:
        raise ConfigError(f"Redis Cluster has only database 0; the URL asks for database {db}")
    target = RedisTarget(
        topology,
        url.split("?", 1)[0],
        hosts,
        service_name,
        db,
        family in {"rediss", "valkeys"},
        user,
        password,
        client_options,
    )
    return target, merged


def durability(topology: Topology, value: Any, timeout: Any) -> Durability:
    """The durability a store asks for: on (one replica) by default where replicas are the rule.

    Args:
        topology: The store's topology.
        value: `durable` as given: `None` (the default), a bool, or a number
            of replicas.
        timeout: `durable_timeout` in seconds, or `None` for the default.

    Returns:
        The durability.

    Raises:
        ConfigError: A negative replica count or a timeout that is not positive.
    """
    if value is None:
        replicas = 0 if topology is Topology.STANDALONE else 1
    elif isinstance(value, bool):
        replicas = int(value)
    elif isinstance(value, int) and value >= 0:
        replicas = value
    else:
        raise ConfigError(f"durable must be on, off or a number of replicas, not {value!r}")
    seconds = 0.25 if timeout is None else float(timeout)
    if not seconds > 0:
        raise ConfigError(f"durable_timeout must be a positive number of seconds, not {timeout!r}")
    return Durability(replicas, seconds)


def _option(name: str, value: str) -> Any:
    try:
        if name in _FLOATS:
            return float(value)
        if name in _INTEGERS:
            return int(value)
    except ValueError:
        raise ConfigError(f"store URL option {name}={value!r} is not a number") from None
    if name in _BOOLEANS or name == "durable":
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        if name == "durable" and lowered.isdigit():
            return int(lowered)
        raise ConfigError(f"store URL option {name}={value!r} is not on or off")
    return value


def _location(
    location: str, default_port: int, url: str
) -> tuple[str | None, str | None, tuple[tuple[str, int], ...]]:
    user = password = None
    credentials, at, hostlist = location.rpartition("@")
    if at:
        name, colon, secret = credentials.partition(":")
        user = unquote(name) or None
        password = unquote(secret) if colon else None
    hosts = []
    for entry in hostlist.split(","):
        if not entry:
            raise ConfigError(f"store URL {url.split('?', 1)[0]!r} has an empty host in its list")
        if entry.startswith("["):
            host, bracket, tail = entry[1:].partition("]")
            if not bracket or (tail and not tail.startswith(":")):
                raise ConfigError(f"store URL host {entry!r} is not [address]:port")
            port_text = tail[1:]
        else:
            host, _, port_text = entry.partition(":")
        hosts.append((host, _port(port_text, default_port, entry)))
    if not any(host for host, _ in hosts):
        raise ConfigError(f"store URL {url.split('?', 1)[0]!r} has no host")
    return user, password, tuple(hosts)


def _port(text: str, default: int, entry: str) -> int:
    if not text:
        return default
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"store URL host {entry!r} has no valid port (1-65535)")
    return int(text)


def _database(text: str) -> int:
    if not text.isdigit():
        raise ConfigError(f"store URL database {text!r} is not a number")
    return int(text)
