"""``shared-memory://NAME``: a memory store the ``idleguard`` command can reach in-process.

A ``memory://`` store lives inside one process, so a command given ``memory://`` builds a
new, empty one. Registered under its own scheme, this one is found by
`idleguard.stores.from_url` like any store, and every URL with the same name is the
same store: the app under test and the command run in the test's process share it.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

from idleguard.stores import MemoryStore, register

SCHEME = "shared-memory"


class SharedMemoryStore(MemoryStore):
    """One memory store per URL name, for the whole test process."""

    schemes = (SCHEME,)
    _named: ClassVar[dict[str, SharedMemoryStore]] = {}

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SharedMemoryStore:
        name = urlsplit(url).netloc
        if name not in cls._named:
            cls._named[name] = cls(**options)
        return cls._named[name]


register(SCHEME, __name__, "SharedMemoryStore")
