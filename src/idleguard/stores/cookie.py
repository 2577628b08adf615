"""The signed-cookie store (`cookie://`): no server state at all.

The session's record (times, subject, tenant) rides in a second cookie,
signed with the app's secret (itsdangerous, HMAC-SHA256) and bound to the
session id, and is re-signed whenever a touch moves the last activity. The
server decides every request from that cookie alone, so nothing needs to be
shared between workers.

What it cannot do, said plainly: a copy of the cookies taken before sign-out
stays valid until its idle or absolute limit, because there is no server
state to say otherwise. Sign-out clears the browser's cookies, and that is
all. Pass `denylist=` (any other store, e.g. `"redis://..."`) to keep a
small server-side list of ended sessions: sign-out and expiry then leave a
tombstone there, every request is checked against it (one store call), and a
copied cookie is refused at once. Listing or revoking all of a subject's
sessions needs server state too: it finds nothing here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar, cast

from itsdangerous import BadSignature, URLSafeSerializer

from ..core import (
    NO_SESSION,
    EndReason,
    Limits,
    SessionRecord,
    Verdict,
    decide,
    record_from_mapping,
)
from ..steps import Check as Checking
from ..steps import End, StepOf, drive_async, drive_sync
from .base import Check, Store
from .memory import MemoryStore

__all__ = ["CookieStore"]

#: How much of the store key the cookie repeats: enough that a record cannot
#: be moved onto another session, short enough to keep the cookie small.
_BINDING = 16
_Step = StepOf


class CookieStore(Store):
    """Session records in a signed cookie; optionally a server-side denylist for sign-out.

    The record rides in the `idleguard_record` cookie (`__Host-` is prefixed
    when cookies are secure).

    Args:
        secret_key: Signs the record cookie: a string, bytes, or a list to rotate
            keys (every key verifies, the first signs). The middleware passes its
            own `secret_key` when built with `store="cookie://"`.
        denylist: `None` (default: no server state), or a
            [`Store`][idleguard.stores.Store] or store URL that keeps tombstones
            of ended sessions so a copied cookie is refused. A memory store used
            so keeps its tombstones until their time.

    Raises:
        ValueError: `secret_key` is missing or empty.
    """

    schemes: ClassVar[tuple[str, ...]] = ("cookie",)
    carrier: ClassVar[str | None] = "idleguard_record"
    # The denylist, when there is one, may be remote: go through the async twins.
    remote: ClassVar[bool] = True

    def __init__(
        self,
        secret_key: str | bytes | Sequence[str | bytes] | None,
        *,
        denylist: Store | str | None = None,
    ) -> None:
        if secret_key is None:
            raise ValueError("the cookie:// store signs its records: it needs secret_key=")
        keys = [secret_key] if isinstance(secret_key, (str, bytes)) else list(secret_key)
        if not keys or any(not key for key in keys):
            raise ValueError("secret_key must be a non-empty string, or a list of them")
        as_bytes = [key.encode() if isinstance(key, str) else key for key in keys]
        # itsdangerous signs with the last key and verifies with all.
        self._serializer = URLSafeSerializer(
            list(reversed(as_bytes)),
            salt="idleguard.record",
            serializer=_CompactJSON,
        )
        if isinstance(denylist, str):
            from . import from_url

            denylist = from_url(denylist)
        if isinstance(denylist, MemoryStore):
            # A denylist entry dropped for room would bring a signed-out cookie back.
            denylist.keep_tombstones = True
        self.denylist = denylist

    @classmethod
    def from_url(cls, url: str, **options: Any) -> CookieStore:
        """`cookie://` takes nothing in the URL: the secret never belongs in one.

        Args:
            url: `cookie://`.
            **options: The constructor's arguments (`secret_key`, `denylist`).

        Returns:
            The store.
        """
        return cls(**options)

    # -- the cookie -----------------------------------------------------------
    def seal(self, key: str, record: SessionRecord) -> str:
        """The signed cookie value carrying `record` for session `key`."""
        return self._serializer.dumps({"k": key[:_BINDING], **record.to_mapping()})

    def _unseal(self, key: str, carried: str | None) -> SessionRecord | None:
        """The carried record, if it is signed by us and belongs to this session."""
        if not carried or len(carried) > 4096:
            return None
        try:
            data = self._serializer.loads(carried)
        except (BadSignature, ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or data.get("k") != key[:_BINDING]:
            return None
        return record_from_mapping(data)

    # -- the operations, written once (the denylist is the only I/O) ---------
    def _check(
        self, key: str, limits: Limits, activity: bool, now: float, carried: str | None
    ) -> _Step:
        if self.denylist is not None:
            listed, tombstone = yield Checking(key, limits, False, now)
            if listed.verdict is Verdict.ENDED:
                return listed, tombstone
        record = self._unseal(key, carried)
        if record is None:
            return NO_SESSION, None
        decision = decide(record, limits, activity, now)
        if decision.expired_now and self.denylist is not None:
            yield End(key, decision.reason or EndReason.IDLE, now)
        return decision, record

    def _end(self, key: str, reason: EndReason, now: float, carried: str | None) -> _Step:
        if self.denylist is not None:
            yield End(key, reason, now)
        record = self._unseal(key, carried)
        return record if record is not None and record.ended is None else None

    # The one driver pair of idleguard's steps carries the denylist's calls out.
    def _sync(self, step: _Step) -> Any:
        return drive_sync(cast(Store, self.denylist), step)

    async def _async(self, step: _Step) -> Any:
        return await drive_async(cast(Store, self.denylist), step, None)

    def check(
        self, key: str, limits: Limits, activity: bool, now: float, carried: str | None = None
    ) -> Check:
        result: Check = self._sync(self._check(key, limits, activity, now, carried))
        return result

    async def acheck(
        self, key: str, limits: Limits, activity: bool, now: float, carried: str | None = None
    ) -> Check:
        result: Check = await self._async(self._check(key, limits, activity, now, carried))
        return result

    def create(self, key: str, record: SessionRecord, limits: Limits) -> None:
        """Nothing to store: the middleware sets the record cookie.

        See [`seal`][idleguard.stores.cookie.CookieStore.seal].
        """

    async def acreate(self, key: str, record: SessionRecord, limits: Limits) -> None:
        """Nothing to store: the middleware sets the record cookie."""

    def end(
        self, key: str, reason: EndReason, now: float, carried: str | None = None
    ) -> SessionRecord | None:
        record: SessionRecord | None = self._sync(self._end(key, reason, now, carried))
        return record

    async def aend(
        self, key: str, reason: EndReason, now: float, carried: str | None = None
    ) -> SessionRecord | None:
        record: SessionRecord | None = await self._async(self._end(key, reason, now, carried))
        return record

    def reauthenticate(self, key: str, now: float, carried: str | None = None) -> bool:
        """True if the carried record is live; the middleware re-seals it with the new time."""
        record = self._unseal(key, carried)
        return record is not None and record.ended is None

    async def areauthenticate(self, key: str, now: float, carried: str | None = None) -> bool:
        return self.reauthenticate(key, now, carried)

    def sessions_of(self, subject: str, now: float) -> list[tuple[str, SessionRecord]]:
        """Always empty: the records live in browsers, not here."""
        return []

    async def asessions_of(self, subject: str, now: float) -> list[tuple[str, SessionRecord]]:
        return []

    async def arevoke_subject(self, subject: str, now: float) -> list[tuple[str, SessionRecord]]:
        return []

    def close(self) -> None:
        if self.denylist is not None:
            self.denylist.close()

    async def aclose(self) -> None:
        if self.denylist is not None:
            await self.denylist.aclose()


class _CompactJSON:
    """JSON without spaces: every byte of a cookie travels with every request."""

    @staticmethod
    def dumps(obj: Any) -> str:
        return json.dumps(obj, separators=(",", ":"))

    @staticmethod
    def loads(text: str | bytes) -> Any:
        return json.loads(text)
