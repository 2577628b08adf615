"""Every path that ends or changes a session emits exactly one event of the right type.

A store that counts its own transitions (each create, each expiry it applies,
each end that found a live session, each reauthentication) is the ledger; the
events must match it one for one under a randomized workload, through both
adapters: nothing lost, nothing doubled.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idleguard import EndReason, Policy
from idleguard.core import Verdict
from idleguard.events import EventType
from idleguard.policy import Limits
from idleguard.stores import MemoryStore, SessionRecord, StoreUnavailable
from idleguard.stores.base import Check
from idleguard.testing import EventCollector, SettableClock

from .harness import ADAPTERS, Client, make_client, share_app

POLICY = Policy(idle_timeout=600, absolute_timeout=3600, warn_before=60)
_ENDED_BY = {
    EndReason.SIGNED_OUT: EventType.SESSION_ENDED,
    EndReason.REVOKED: EventType.SESSION_REVOKED,
}


class LedgerStore(MemoryStore):
    """The memory store, also counting each transition it carries out."""

    def __init__(self, clock: SettableClock) -> None:
        super().__init__(clock=clock)
        self.ledger: Counter[str] = Counter()
        self.down = False

    def _guard(self) -> None:
        if self.down:
            raise StoreUnavailable("switched off by the test")

    def check(self, key: str, limits: Limits, activity: bool, now: float) -> Check:
        self._guard()
        decision, record = super().check(key, limits, activity, now)
        if decision.verdict is Verdict.EXPIRED_IDLE:
            self.ledger[EventType.SESSION_EXPIRED_INACTIVITY.value] += 1
        elif decision.verdict is Verdict.EXPIRED_ABSOLUTE:
            self.ledger[EventType.SESSION_EXPIRED_ABSOLUTE.value] += 1
        return decision, record

    def create(self, key: str, record: SessionRecord, limits: Limits) -> None:
        self._guard()
        super().create(key, record, limits)
        self.ledger[EventType.SESSION_STARTED.value] += 1

    def end(self, key: str, reason: EndReason, now: float) -> SessionRecord | None:
        self._guard()
        record = super().end(key, reason, now)
        if record is not None:
            self.ledger[_ENDED_BY.get(reason, EventType.SESSION_ENDED).value] += 1
        return record

    def reauthenticate(self, key: str, now: float) -> bool:
        self._guard()
        live = super().reauthenticate(key, now)
        if live:
            self.ledger[EventType.REAUTHENTICATED.value] += 1
        return live


USERS = ("ada", "bob", "cy")
STEPS = st.one_of(
    st.tuples(
        st.sampled_from(
            ("login", "logout", "page", "passive", "reauth", "forget", "replay", "outage")
        ),
        st.sampled_from(USERS),
    ),
    st.tuples(
        st.just("advance"), st.sampled_from((1.0, 15.0, 200.0, 599.0, 601.0, 1800.0, 3601.0))
    ),
)


def run_workload(adapter: str, steps: list[tuple[str, Any]]) -> tuple[Counter[str], EventCollector]:
    clock = SettableClock()
    store = LedgerStore(clock)
    events = EventCollector()
    first = make_client(adapter, store=store, clock=clock, on_event=events, policy=POLICY)
    browsers: dict[str, Client] = {"ada": first}
    for user in USERS[1:]:
        browsers[user] = share_app(first)
    old_cookies: dict[str, str] = {}
    for kind, argument in steps:
        if kind == "advance":
            clock.advance(argument)
            continue
        browser = browsers[argument]
        if kind == "login":
            if browser.cookie is not None:
                old_cookies[argument] = browser.cookie
            browser.request("POST", "/login", f"user={argument}&tenant=t-{argument}")
        elif kind == "logout":
            browser.request("POST", "/logout")
        elif kind == "page":
            browser.request("GET", "/page")
        elif kind == "passive":
            browser.request("GET", "/poll", headers=[("x-idleguard-passive", "1")])
        elif kind == "reauth":
            browser.request("POST", "/reauth")
        elif kind == "forget":
            if browser.cookie is not None:
                old_cookies[argument] = browser.cookie
            browser.cookie = None
        elif kind == "replay" and argument in old_cookies:
            current = browser.cookie
            browser.cookie = old_cookies[argument]
            browser.request("GET", "/page")
            browser.cookie = current if browser.cookie is not None else None
        elif kind == "outage":
            store.down = True
            browser.request("GET", "/page")
            store.down = False
    return store.ledger, events


@pytest.mark.parametrize("adapter", ADAPTERS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEPS, min_size=1, max_size=40))
def test_events_match_store_transitions_one_for_one(
    adapter: str, steps: list[tuple[str, Any]]
) -> None:
    ledger, events = run_workload(adapter, steps)
    emitted = Counter(kind for kind in events.types() if kind != EventType.STORE_UNAVAILABLE.value)
    assert emitted == ledger
    # Each session starts once and ends at most once.
    per_session: dict[str | None, list[str]] = {}
    for event in events.events:
        if event.type is not EventType.STORE_UNAVAILABLE:
            per_session.setdefault(event.session, []).append(event.type.value)
    for session, kinds in per_session.items():
        assert session is not None
        assert kinds.count(EventType.SESSION_STARTED.value) == 1, kinds
        endings = [
            kind for kind in kinds if kind.startswith("session_") and kind != "session_started"
        ]
        assert len(endings) <= 1, kinds


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_every_outage_is_reported_once(adapter: str) -> None:
    ledger, events = run_workload(
        adapter, [("login", "ada"), ("outage", "ada"), ("outage", "bob"), ("outage", "ada")]
    )
    # bob has no session, so his request never reaches the store.
    assert events.types().count(EventType.STORE_UNAVAILABLE.value) == 2
    assert ledger[EventType.SESSION_STARTED.value] == 1


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(
            [("login", "ada"), ("logout", "ada")],
            ["session_started", "session_ended"],
            id="sign-out",
        ),
        pytest.param(
            [("login", "ada"), ("advance", 601.0), ("page", "ada")],
            ["session_started", "session_expired_inactivity"],
            id="idle-expiry",
        ),
        pytest.param(
            [("login", "ada"), *[("advance", 500.0), ("page", "ada")] * 8],
            ["session_started", "session_expired_absolute"],
            id="absolute-expiry-while-active",
        ),
        pytest.param(
            [("login", "ada"), ("advance", 601.0), ("passive", "ada"), ("page", "ada")],
            ["session_started", "session_expired_inactivity"],
            id="passive-request-discovers-expiry-once",
        ),
        pytest.param(
            [("login", "ada"), ("login", "ada")],
            ["session_started", "session_ended", "session_started"],
            id="sign-in-over-live-session-ends-it",
        ),
        pytest.param(
            [("login", "ada"), ("reauth", "ada")],
            ["session_started", "reauthenticated"],
            id="reauthentication",
        ),
        pytest.param(
            [("login", "ada"), ("logout", "ada"), ("replay", "ada"), ("logout", "ada")],
            ["session_started", "session_ended"],
            id="replayed-cookie-reports-nothing-new",
        ),
        pytest.param(
            [("login", "ada"), ("outage", "ada")],
            ["session_started", "store_unavailable"],
            id="store-outage",
        ),
    ],
)
def test_each_path_emits_its_event(
    adapter: str, steps: list[tuple[str, Any]], expected: list[str]
) -> None:
    _ledger, events = run_workload(adapter, steps)
    assert events.types() == expected
    ended = [e for e in events.events if e.type is EventType.SESSION_EXPIRED_INACTIVITY]
    for event in ended:
        assert event.reason == "idle"
        assert event.idle_seconds is not None
        assert event.idle_seconds >= 600
        assert event.subject == "ada"
        assert event.tenant == "t-ada"
        assert event.policy is not None
        assert event.policy["idle_timeout"] == 600
