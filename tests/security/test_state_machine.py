"""A state machine over sign-ins, requests, sign-outs, revocations, clock moves and outages.

After every step the middleware's answer is compared with a small reference model: no session
outlives its limits, none comes back after it ended, and an outage never keeps one alive.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from idleguard import Policy
from idleguard.core import CLOCK_TOLERANCE
from idleguard.testing import EventCollector, SettableClock
from tests.apps import flask_app, starlette_app
from tests.harness import AsgiHarness, Harness, WsgiHarness
from tests.switchable import SwitchableStore

IDLE, ABSOLUTE, TOUCH = 900.0, 3600.0, 30.0
POLICY = Policy(idle_timeout=IDLE, absolute_timeout=ABSOLUTE, warn_before=60, touch_interval=TOUCH)


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


class SessionMachine(RuleBasedStateMachine):
    adapter = "wsgi"

    @initialize()
    def start(self) -> None:
        self.clock = SettableClock()
        self.events = EventCollector()
        self.store = SwitchableStore(self.clock)
        build = flask_app if self.adapter == "wsgi" else starlette_app
        self.app = build(self.clock, store=self.store, policy=POLICY, on_event=self.events)
        self.clients: list[tuple[Harness, ModelSession]] = []
        self.expected_expiries = 0

    def _client(self) -> Harness:
        return WsgiHarness(self.app) if self.adapter == "wsgi" else AsgiHarness(self.app)  # type: ignore[arg-type]

    @rule(user=st.sampled_from(["ann", "bob"]))
    def sign_in(self, user: str) -> None:
        client = self._client()
        response = client.post(f"/login?user={user}")
        if self.store.down:
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
        client.cookies = saved  # replay the same cookie next time, as a thief would
        if self.store.down:
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
        if self.store.down:
            return
        outcome = model.request(self.clock(), False)
        if outcome.startswith("expired:"):
            self.expected_expiries += 1
        elif outcome == "alive":
            model.ended = "signed_out"

    @rule(user=st.sampled_from(["ann", "bob"]))
    def revoke_everywhere(self, user: str) -> None:
        if self.store.down:
            return
        self.store.inner.revoke_subject(user, self.clock())
        for _, model in self.clients:
            if model.user == user and model.ended is None:
                # A session already past its deadline is revoked all the same.
                model.ended = "revoked"

    @rule(seconds=st.floats(0, 2000))
    def time_passes(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(seconds=st.floats(0, 250))
    def clock_steps_back(self, seconds: float) -> None:
        self.clock.advance(-seconds)

    @rule()
    def outage(self) -> None:
        self.store.down = not self.store.down

    @invariant()
    def expiries_are_reported_once(self) -> None:
        if hasattr(self, "events"):
            reported = self.events.types().count(
                "session_expired_inactivity"
            ) + self.events.types().count("session_expired_absolute")
            assert reported == self.expected_expiries


class AsgiSessionMachine(SessionMachine):
    adapter = "asgi"


@pytest.mark.parametrize(
    "machine",
    [pytest.param(SessionMachine, id="wsgi"), pytest.param(AsgiSessionMachine, id="asgi")],
)
def test_sessions_follow_the_model(machine: type[SessionMachine]) -> None:
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(
        machine, settings=settings(max_examples=50, stateful_step_count=40, deadline=None)
    )
