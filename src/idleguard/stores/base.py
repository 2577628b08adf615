"""What every store offers, sync and async.

A store owns the atomic step of a request: read the record, decide, and write
the touch or the tombstone, with nothing in between that another request could
slip into. That is why [`Store.check`][idleguard.stores.Store.check] takes the limits
and `now` rather than handing the record out to be decided elsewhere: a
read-then-write from outside would let a request racing a sign-out bring the
session back.

Every method has an `a`-prefixed async twin. In-process stores inherit the
defaults below, which call the sync method directly (it never blocks); network
stores override both.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import ClassVar

from ..core import Decision, EndReason, Limits, SessionRecord
from ..errors import StoreUnavailable

__all__ = ["Check", "Store", "StoreUnavailable", "deadline"]

Check = tuple[Decision, SessionRecord | None]
"""What a check returns: the decision, and the record as it was read (`None`
when there was none). The record tells events who the session belonged to."""


def deadline(record: SessionRecord, limits: Limits) -> float:
    """When a live record's session is over, whichever limit comes first.

    Args:
        record: A live session's record.
        limits: The limits it lives under.

    Returns:
        The deadline in seconds since the epoch; `inf` when both limits are off.
    """
    deadlines = []
    if limits.idle_timeout is not None:
        deadlines.append(record.last_activity + limits.idle_timeout)
    if limits.absolute_timeout is not None:
        deadlines.append(record.created_at + limits.absolute_timeout)
    return min(deadlines) if deadlines else float("inf")


class Store(abc.ABC):
    """The interface of a session store. Keys are digests, never raw credentials.

    Every method has an `a`-prefixed async twin (`acheck`, `acreate`, ...); the
    defaults call the sync method, which is right for stores that never block.
    Times (`now`) are seconds since the epoch.

    Attributes:
        schemes: The URL schemes [`from_url`][idleguard.stores.from_url] maps to
            this class.
        carrier: For a client-side store, the name of the cookie the record
            rides in; `None` for stores that keep records on the server.
        remote: True for a store behind a network: the ASGI adapter awaits its
            async twins under `store_timeout`.
        tombstone_ttl: Seconds a tombstone is kept so a replayed credential is
            refused; after that the key is simply unknown.
    """

    schemes: ClassVar[tuple[str, ...]] = ()
    #: For a client-side store, the name of the cookie the record rides in.
    #: The flow then passes that cookie's value (or `None`) as one more,
    #: last argument to `check`, `end` and `reauthenticate`, and sets
    #: the cookie to `seal` of the record whenever the record changes.
    carrier: ClassVar[str | None] = None
    #: True for stores behind a network: the ASGI adapter awaits their async
    #: twins under `store_timeout`. In-process stores are called directly.
    remote: ClassVar[bool] = False
    tombstone_ttl: float = 24 * 3600.0

    @abc.abstractmethod
    def check(self, key: str, limits: Limits, activity: bool, now: float) -> Check:
        """Decide a request for `key` and apply the touch or the expiry atomically.

        Args:
            key: The session's store key.
            limits: The limits the session lives under.
            activity: Whether the request counts as activity (false: passive).
            now: The time of the request.

        Returns:
            The [`Decision`][idleguard.stores.Decision] (as
                [`decide`][idleguard.stores.decide] makes it), and the record as it
                was read (`None` when there was none), which tells events who the
                session belonged to.

        Raises:
            StoreUnavailable: The store could not answer.
        """

    @abc.abstractmethod
    def create(self, key: str, record: SessionRecord, limits: Limits) -> None:
        """Store a new session (overwriting nothing live: keys are fresh random digests).

        Args:
            key: The new session's store key.
            record: Its record.
            limits: The limits it lives under, for the store's own expiry.

        Raises:
            StoreUnavailable: The store could not answer.
        """

    @abc.abstractmethod
    def end(self, key: str, reason: EndReason, now: float) -> SessionRecord | None:
        """End a session, leaving a tombstone.

        Exactly one of several concurrent calls gets the record back, so exactly
        one event is reported.

        Args:
            key: The session's store key.
            reason: Why it ends, kept in the tombstone.
            now: The time it ends.

        Returns:
            The record if the session was live; `None` otherwise.

        Raises:
            StoreUnavailable: The store could not answer.
        """

    @abc.abstractmethod
    def reauthenticate(self, key: str, now: float) -> bool:
        """Record a fresh authentication: `authenticated_at` becomes `now`.

        Args:
            key: The session's store key.
            now: The time the user proved who they are.

        Returns:
            False if the session is not live.

        Raises:
            StoreUnavailable: The store could not answer.
        """

    @abc.abstractmethod
    def sessions_of(self, subject: str, now: float) -> Sequence[tuple[str, SessionRecord]]:
        """The live (not ended) sessions of a subject.

        Args:
            subject: Whose sessions.
            now: The time of the question.

        Returns:
            `(key, record)` pairs.

        Raises:
            StoreUnavailable: The store could not answer.
        """

    def revoke_subject(self, subject: str, now: float) -> list[tuple[str, SessionRecord]]:
        """End every session of a subject ("log out everywhere").

        Args:
            subject: Whose sessions.
            now: The time they end.

        Returns:
            `(key, record as it was)` for each session this call ended.

        Raises:
            StoreUnavailable: The store could not answer.
        """
        ended = []
        for key, _ in self.sessions_of(subject, now):
            record = self.end(key, EndReason.REVOKED, now)
            if record is not None:
                ended.append((key, record))
        return ended

    def seal(self, key: str, record: SessionRecord) -> str:
        """The cookie value that carries `record` (client-side stores only).

        Args:
            key: The session's store key.
            record: The record to carry.

        Returns:
            The cookie's value.

        Raises:
            NotImplementedError: The store keeps its records on the server.
        """
        raise NotImplementedError(f"{type(self).__name__} keeps its records on the server")

    def purge_expired(self, now: float) -> list[tuple[str, SessionRecord, EndReason]]:
        """End every session past its deadline that no request has discovered yet.

        The default, for stores that keep no server state, has nothing to end.

        Args:
            now: The time of the sweep.

        Returns:
            `(key, record as it was, reason)` for each session ended, so every
                expiry can be reported as an event even when the user never
                comes back.

        Raises:
            StoreUnavailable: The store could not answer.
        """
        return []

    def decided_here(self, key: str, limits: Limits, activity: bool, now: float) -> Check | None:
        """A check answered in-process, without I/O, or `None` to ask the store.

        The async driver tries this before it awaits `acheck` under `store_timeout`,
        so an answer that needs no waiting pays for no timer. The default answers
        nothing; a store that decides locally
        ([`LocalDecisions`][idleguard.stores.local.LocalDecisions]) answers what it can.
        """
        return None

    def close(self) -> None:  # noqa: B027 - optional for stores with nothing to release
        """Release connections; the default has nothing to release."""

    # Async twins: in-process stores never block, so calling through is right.
    async def acheck(self, key: str, limits: Limits, activity: bool, now: float) -> Check:
        return self.check(key, limits, activity, now)

    async def acreate(self, key: str, record: SessionRecord, limits: Limits) -> None:
        self.create(key, record, limits)

    async def aend(self, key: str, reason: EndReason, now: float) -> SessionRecord | None:
        return self.end(key, reason, now)

    async def areauthenticate(self, key: str, now: float) -> bool:
        return self.reauthenticate(key, now)

    async def asessions_of(self, subject: str, now: float) -> Sequence[tuple[str, SessionRecord]]:
        return self.sessions_of(subject, now)

    async def arevoke_subject(self, subject: str, now: float) -> list[tuple[str, SessionRecord]]:
        return self.revoke_subject(subject, now)

    async def apurge_expired(self, now: float) -> list[tuple[str, SessionRecord, EndReason]]:
        return self.purge_expired(now)

    async def aclose(self) -> None:
        self.close()
