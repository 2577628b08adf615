"""A state machine over sign-ins, requests, sign-outs, revocations, clock moves and outages.

After every step the middleware's answer is compared with a small reference model: no session
outlives its limits, none comes back after it ended, and an outage never keeps one alive. It runs
over ASGI and WSGI and over every store: memory, Redis, SQLite and PostgreSQL (real servers), and
the signed-cookie store with a denylist. An outage is the store behind a switch that fails every
call as a dead server does (a real server killed and restarted is in ``tests/reliability``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from idleguard import Policy
from idleguard.core import CLOCK_TOLERANCE
from idleguard.stores import MemoryStore, Store
from idleguard.stores.cookie import CookieStore
from idleguard.testing import EventCollector, SettableClock
from tests.apps import SECRET, flask_app, starlette_app
from tests.harness import AsgiHarness, Harness, WsgiHarness
from tests.stores.conftest import BACKENDS, make_store
from tests.switchable import SwitchableStore, switchable

IDLE, ABSOLUTE, TOUCH = 900.0, 3600.0, 30.0
POLICY = Policy(idle_timeout=IDLE, absolute_timeout=ABSOLUTE, warn_before=60, touch_interval=TOUCH)
#: Clock moves in quarter seconds: exact in binary, so every store (Redis keeps
#: microseconds, SQL doubles) sees the very same instants as the model.
QUARTERS = 4
_runs = itertools.count()


@dataclasses.dataclass
class ModelSession:
    user: str
    created: float
    stored_last: float
    ended: str | None = None

    def request(self, now: float, active: bool) -> str:
        """What the server must answer: "alive", "expired:<reason>" or "ended:<reason>"."""
        if self.ended is not None:
            return "ended:" + self.ended
        if max(self.created, self.stored_last) > now + CLOCK_TOLERANCE:
            return "ended:invalid"  # times from the future are refused, and change nothing
        idle_deadline = self.stored_last + IDLE
        absolute_deadline = self.created + ABSOLUTE
        if now >= min(idle_deadline, absolute_deadline):
            self.ended = "absolute" if absolute_deadline <= idle_deadline else "idle"
            return "expired:" + self.ended
        if active and now - self.stored_last >= TOUCH:
            self.stored_last = max(self.stored_last, now)
        return "alive"


class LoopHarness(AsgiHarness):
    """An ASGI client on one event loop for the machine's life: a network store's
    async connections belong to the loop that opened them."""

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(app)
        self.loop = loop

    def _send(
        self, method: str, path: str, headers: dict[str, str], chunks: Any, between: Any
    ) -> Any:
        return self.loop.run_until_complete(self.send_async(method, path, headers, chunks, between))


class SessionMachine(RuleBasedStateMachine):
    """Subclassed per adapter and store by :func:`machine_for`."""

    adapter: ClassVar[str] = "wsgi"
    #: Builds the switchable store of one run: (clock) -> (store for the app, the switch).
    build_store: ClassVar[Callable[[SettableClock], tuple[Store, SwitchableStore]]]
    #: False for the cookie store: its records live in the browser, so a sign-in
    #: needs no server, revoking by user finds nothing, and a touch re-seals the cookie.
    server_side: ClassVar[bool] = True

    @initialize()
    def start(self) -> None:
        self.clock = SettableClock()
        self.events = EventCollector()
        self.loop = asyncio.new_event_loop()
        self.store, self.switch = type(self).build_store(self.clock)
        build = flask_app if self.adapter == "wsgi" else starlette_app
        self.app = build(self.clock, store=self.store, policy=POLICY, on_event=self.events)
        self.clients: list[tuple[Harness, ModelSession]] = []
        self.expected_expiries = 0
        # Users of this run alone: a shared server keeps earlier runs' sessions.
        self.users = {name: f"{name}-{next(_runs)}" for name in ("ann", "bob")}

    def teardown(self) -> None:
        if hasattr(self, "loop"):
            self.loop.run_until_complete(self.store.aclose())
            self.loop.close()

    def _client(self) -> Harness:
        if self.adapter == "wsgi":
            return WsgiHarness(self.app)  # type: ignore[arg-type]
        return LoopHarness(self.app, self.loop)

    @rule(name=st.sampled_from(["ann", "bob"]))
    def sign_in(self, name: str) -> None:
        user = self.users[name]
        client = self._client()
        response = client.post(f"/login?user={user}")
        if self.switch.down and self.server_side:
            assert not client.cookies, "no cookie without a stored session"
            return
        assert response.status == 200
        now = self.clock()
        self.clients.append((client, ModelSession(user, now, now)))

    @precondition(lambda self: bool(self.clients))
    @rule(index=st.integers(0, 50), passive=st.booleans())
    def request(self, index: int, passive: bool) -> None:
        client, model = self.clients[index % len(self.clients)]
        saved = dict(client.cookies)
        response = client.get("/poll" if passive else "/me")
        if self.server_side or len(client.cookies) < len(saved):
            # Replay the same cookie next time, as a thief would. The cookie store's
            # record cookie moves with each touch: it is replayed once it is refused.
            client.cookies = saved
        if self.switch.down:
            assert response.status == 503
            return
        expected = model.request(self.clock(), not passive)
        if expected == "alive":
            assert response.status == 200
            assert response.json()["user"] == model.user
        else:
            assert response.status == 401, (expected, response.status)
            assert response.json()["reason"] == expected.split(":")[1]
            if expected.startswith("expired:"):
                self.expected_expiries += 1

    @precondition(lambda self: bool(self.clients))
    @rule(index=st.integers(0, 50))
    def sign_out(self, index: int) -> None:
        client, model = self.clients[index % len(self.clients)]
        saved = dict(client.cookies)
        client.post("/logout")
        client.cookies = saved  # keep the old cookie: a replay must be refused
        if self.switch.down:
            return
        outcome = model.request(self.clock(), False)
        if outcome.startswith("expired:"):
            self.expected_expiries += 1
        elif outcome == "alive":
            model.ended = "signed_out"

    @rule(name=st.sampled_from(["ann", "bob"]))
    def revoke_everywhere(self, name: str) -> None:
        if self.switch.down or not self.server_side:
            return
        user = self.users[name]
        self.switch.inner.revoke_subject(user, self.clock())
        for _, model in self.clients:
            if model.user == user and model.ended is None:
                # A session already past its deadline is revoked all the same.
                model.ended = "revoked"

    @rule(quarters=st.integers(0, 2000 * QUARTERS))
    def time_passes(self, quarters: int) -> None:
        self.clock.advance(quarters / QUARTERS)

    @rule(quarters=st.integers(0, 250 * QUARTERS))
    def clock_steps_back(self, quarters: int) -> None:
        self.clock.advance(-quarters / QUARTERS)

    @rule()
    def outage(self) -> None:
        self.switch.down = not self.switch.down

    @invariant()
    def expiries_are_reported_once(self) -> None:
        if hasattr(self, "events"):
            reported = self.events.types().count(
                "session_expired_inactivity"
            ) + self.events.types().count("session_expired_absolute")
            assert reported == self.expected_expiries


def _store_builder(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[SettableClock], tuple[Store, SwitchableStore]]:
    def build(clock: SettableClock) -> tuple[Store, SwitchableStore]:
        if backend == "cookie":
            # The denylist is the only server state: the outage takes it away.
            denylist = SwitchableStore(clock, MemoryStore(clock=clock))
            return CookieStore(SECRET, denylist=denylist), denylist
        if backend == "memory":
            inner: Store = MemoryStore(clock=clock)
        else:
            folder = tmp_path / f"run{next(_runs)}"
            folder.mkdir()
            inner = make_store(backend, request, folder)
        switch = switchable(clock, inner)
        return switch, switch

    return build


#: (examples, steps) per store: the memory store is cheap, the servers are kept to
#: a few seconds each so ``make test`` stays quick.
BUDGET = {"memory": (50, 40), "cookie": (30, 30)}
SERVER_BUDGET = (25, 30)


@pytest.mark.parametrize("adapter", ["wsgi", "asgi"])
@pytest.mark.parametrize(
    "backend", [*BACKENDS, pytest.param("cookie", id="cookie", marks=pytest.mark.cookie)]
)
def test_sessions_follow_the_model(
    adapter: str, backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    machine = type(
        f"SessionMachine_{adapter}_{backend}",
        (SessionMachine,),
        {
            "adapter": adapter,
            "build_store": staticmethod(_store_builder(backend, request, tmp_path)),
            "server_side": backend != "cookie",
        },
    )
    examples, steps = BUDGET.get(backend, SERVER_BUDGET)
    run_state_machine_as_test(
        machine,
        settings=settings(max_examples=examples, stateful_step_count=steps, deadline=None),
    )
