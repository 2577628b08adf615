"""What every probe shares: the deployment's paths, the client, the recipe, the expectation."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Generator, Mapping, Sequence
from typing import TypeVar

from .exchange import Answer, Client, Exchange, Session
from .expectation import Expectation
from .recipes import NoMoreSessions, SignIn, SignInFailed
from .report import ProbeResult, Record, Verdict

__all__ = ["NEW_SESSION", "Bench", "Endpoint", "Inconclusive", "Target", "guarded"]

#: Why the first request of every session is sent: it says how many sessions a probe made.
NEW_SESSION = "the new session, at once"

Result = TypeVar("Result")


class Inconclusive(Exception):
    """An answer that says neither alive nor refused: the probe cannot conclude."""


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoint:
    """A request a probe makes: its method, its URL (absolute or relative) and extra headers."""

    method: str
    url: str
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """One deployment under test.

    Attributes:
        base: Its base URL.
        check: A request that answers 2xx to a live session: it counts as activity.
        passive: A request that must not count as activity (a background poll), if any.
        keepalive: A request that extends a session ("Stay signed in"), if any.
        logout: The sign-out request, if any.
        client_prefix: idleguard's endpoint prefix (`/_idleguard/`), for an idleguard
            deployment; `None` otherwise.
    """

    base: str
    check: Endpoint
    passive: Endpoint | None = None
    keepalive: Endpoint | None = None
    logout: Endpoint | None = None
    client_prefix: str | None = None


@dataclasses.dataclass
class Bench:
    """The tools a probe works with.

    Attributes:
        client: Sends requests, keeps evidence.
        recipe: Makes sessions.
        expectation: The claimed limits.
        parallel: How many sessions one round of a search uses at once.
    """

    client: Client
    recipe: SignIn
    expectation: Expectation
    parallel: int = 4
    _numbers: itertools.count[int] = dataclasses.field(default_factory=itertools.count)
    _reserved: int = 0
    _anonymous_refused: set[str] = dataclasses.field(default_factory=set)

    def reserve(self, count: int) -> None:
        """Claim `count` of the recipe's sessions before using any of them.

        Raises:
            NoMoreSessions: The recipe cannot give that many (cookies given on the command
                line): the probe is skipped and leaves the rest to the others.
        """
        supply = self.recipe.supply
        if supply is not None and self._reserved + count > supply:
            raise NoMoreSessions(
                f"{supply} credential(s) were given, and this probe needs {count} more than the "
                "others took: give more, or a sign-in recipe that makes sessions"
            )
        self._reserved += count

    def session(
        self,
        target: Target,
        record: Record,
        plant: Mapping[str, str] | None = None,
        *,
        reserved: bool = False,
    ) -> Session:
        """A fresh session on `target`, its sign-in kept in `record`.

        The session is asked for `target.check` at once and must be accepted. A recipe that
        makes no request (a command, a hook, a given cookie) hands out a session whose last
        activity is unknown: its clock starts at that request. A probe that needs several
        sessions reserves them first ([`reserve`][idleguard.verify.bench.Bench.reserve]); one
        that takes a single session reserves it here.
        """
        if not reserved:
            self.reserve(1)
        self._refuses_anonymous(target, record)
        session = self.recipe.sign_in(self.client, target.base, next(self._numbers), plant or {})
        for exchange in session.sign_in:
            record.add(exchange)
        # A sign-in can "succeed" without giving a live session (a form that answers 200 with
        # its own error): asked at once, the session must be accepted, or nothing the probe
        # measures would mean anything. A recipe that made no request has no sign-in time:
        # its session's clock starts here.
        exchange = self.request(target, target.check, session, record, NEW_SESSION, setup=True)
        if exchange.answer is not Answer.ALIVE:
            raise SignInFailed(
                f"{target.check.url} answered {exchange.status or exchange.error} to the session "
                "the sign-in gave, not 2xx"
            )
        if not self.recipe.makes_requests:
            session.signed_in_at = exchange.at
        return session

    def _refuses_anonymous(self, target: Target, record: Record) -> None:
        # A check request that answers 2xx without any session cannot tell a live session
        # from an expired one: every probe would read "alive" and report drift that is not.
        if target.base in self._anonymous_refused:
            return
        exchange = self.request(target, target.check, None, record, "without a session", setup=True)
        if exchange.answer is Answer.ALIVE:
            raise Inconclusive(
                f"{target.check.url} answered {exchange.status} without a session: give a "
                "--check-path that only a signed-in session may see"
            )
        self._anonymous_refused.add(target.base)

    def request(
        self,
        target: Target,
        endpoint: Endpoint,
        session: Session | None,
        record: Record,
        note: str,
        *,
        follow_cookies: bool = True,
        setup: bool = False,
    ) -> Exchange:
        """Send `endpoint` with `session`'s credential; the exchange is kept in `record`."""
        _, exchange = self.client.send(
            endpoint.method,
            endpoint.url,
            None if session is None else session.credential,
            note=note,
            headers=endpoint.headers,
            base=target.base,
            follow_cookies=follow_cookies,
            setup=setup,
        )
        return record.add(exchange)

    def record(self, probe: str, target: str) -> Record:
        """A new record for `probe` against `target`, started now."""
        return Record(probe, target, self.client.timeline.now())

    def conclude(
        self, record: Record, findings: list[str], passed: str, advice: Sequence[str] = ()
    ) -> ProbeResult:
        """`record` failed with its `findings` when there are any, else passed as `passed` says."""
        if findings:
            return self.finish(
                record, Verdict.FAILED, "; ".join(findings), findings=findings, advice=list(advice)
            )
        return self.finish(record, Verdict.PASSED, passed, advice=list(advice))

    def finish(
        self, record: Record, verdict: Verdict, summary: str, **lists: list[str]
    ) -> ProbeResult:
        """`record` finished now."""
        return record.finish(verdict, summary, self.client.timeline.now(), **lists)


def guarded(
    bench: Bench, record: Record, body: Generator[float, None, ProbeResult]
) -> Generator[float, None, ProbeResult]:
    """Run a probe's body; a failed sign-in or an unclear answer ends it without a verdict."""
    try:
        return (yield from body)
    except NoMoreSessions as error:
        return bench.finish(record, Verdict.SKIPPED, str(error))
    except SignInFailed as error:
        return bench.finish(record, Verdict.ERROR, f"could not sign in: {error}")
    except Inconclusive as error:
        return bench.finish(record, Verdict.ERROR, f"inconclusive: {error}")
