"""What the Redis store sends: its Lua scripts, the calls built from them, and the replies read back.

Shared by every topology (one server, Sentinel, Cluster) and by the sync and
async clients: a call names its one key, so a cluster client can route it to
the node owning that key's slot.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Generator, Sequence
from importlib import resources
from typing import Any

from ..core import SessionRecord, record_from_mapping

__all__ = [
    "CHECK",
    "CREATE",
    "END",
    "INDEX",
    "REAUTHENTICATE",
    "SWEEP",
    "Call",
    "Script",
    "Step",
    "command",
    "float_or_none",
    "glob_escape",
    "micros",
    "optional",
    "record_from_fields",
    "seconds_or_blank",
]

_MICROS = re.compile(r"-?\d+\Z")


@dataclasses.dataclass(frozen=True, slots=True)
class Script:
    """A Lua script shipped with the package, known to Redis by its SHA1."""

    name: str
    source: str
    sha: str

    @classmethod
    def load(cls, name: str, *, with_decide: bool = True) -> Script:
        folder = resources.files("idleguard.stores").joinpath("lua")
        body = folder.joinpath(f"{name}.lua").read_text("utf-8")
        # The shared functions are prepended, so every script is self-contained.
        source = (
            folder.joinpath("decide.lua").read_text("utf-8") + "\n" + body if with_decide else body
        )
        return cls(name, source, hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest())


CHECK = Script.load("check")
CREATE = Script.load("create")
INDEX = Script.load("index", with_decide=False)
END = Script.load("end")
REAUTHENTICATE = Script.load("reauthenticate")
SWEEP = Script.load("sweep")


@dataclasses.dataclass(frozen=True, slots=True)
class Call:
    """One call in a batch: a script with its keys and arguments, or (no script) a command.

    Attributes:
        script: The script to run, or `None` for a plain command in `args`.
        keys: The keys it touches (one at most: each is its own hash slot).
        args: The script's arguments, or the command's words.
        confirm: Its write must reach a replica before it counts (a
            tombstone), when the store is durable.
        node: For a keyless command under Cluster (`SCAN`), the
            `host:port` of the primary it is for.
    """

    script: Script | None
    keys: Sequence[str]
    args: Sequence[str]
    confirm: bool = False
    node: str | None = None


def command(*words: str, node: str | None = None) -> Call:
    """A plain command (no script), sent to `node` under Cluster when it has no key."""
    return Call(None, (), words, node=node)


#: An operation: yields batches of calls (sent in one round trip), gets their replies.
Step = Generator[list[Call], list[Any], Any]


def micros(seconds: float) -> str:
    return str(round(seconds * 1_000_000))


def seconds_or_blank(value: float | None) -> str:
    if value is None:
        return ""
    # Whole seconds as an integer: Redis keeps integer-looking fields compactly.
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def optional(value: str | None) -> str:
    return "" if value is None else "=" + value


def record_from_fields(
    created: Any, last: Any, authenticated: Any, subject: Any, tenant: Any, ended: Any = None
) -> SessionRecord:
    """A record from stored fields; anything malformed reads as an `invalid` tombstone."""
    data: dict[str, Any] = {}
    for name, raw in (("c", created), ("l", last), ("a", authenticated)):
        if isinstance(raw, str) and _MICROS.match(raw):
            data[name] = int(raw) / 1e6
    for name, value in (("s", subject), ("t", tenant), ("e", ended)):
        if value is not None:
            data[name] = value
    return record_from_mapping(data)


def float_or_none(raw: Any) -> float | None:
    return None if raw is None else float(raw)


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)
