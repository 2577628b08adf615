"""The request flow stepped by hand: no store, no server, no I/O.

The flow is a generator of typed store calls, so a test can play the store:
step it, look at each call it asks for, send an answer, and read what it
decides. This is what the sans-I/O design buys.
"""

from __future__ import annotations

from typing import Any

import pytest

from idleguard import AppCookie, Policy
from idleguard.core import NO_SESSION, Decision, EndReason, SessionRecord, Verdict
from idleguard.facts import RequestFacts
from idleguard.flow import Entry, Flow
from idleguard.identity import SignedCookie
from idleguard.settings import Settings
from idleguard.steps import Call, Check, Create, End, PurgeExpired, StoreCall
from idleguard.testing import SettableClock
from tests.apps import SECRET

POLICY = Policy(idle_timeout=900, absolute_timeout=3600, warn_before=60, touch_interval=0)


def _settings(clock: SettableClock, **options: Any) -> Settings:
    return Settings(secret_key=SECRET, clock=clock, policy=POLICY, **options)


def _cookie(settings: Settings) -> tuple[str, str]:
    credential, key = SignedCookie(SECRET).issue()
    return f"{settings.cookie_name}={credential}", key


def _facts(cookie: str | None = None, path: str = "/me", **headers: str) -> RequestFacts:
    sent = dict(headers)
    if cookie is not None:
        sent["cookie"] = cookie
    return RequestFacts("GET", path, sent)


def _run(step: Any, answers: list[Any]) -> tuple[list[StoreCall | Call], Any]:
    """Step ``step``, answering each call with the next of ``answers``; the calls and the result."""
    calls: list[StoreCall | Call] = []
    answer: Any = None
    try:
        call = step.send(None)
        while True:
            calls.append(call)
            answer = answers.pop(0)
            call = step.send(answer)
    except StopIteration as stop:
        return calls, stop.value


def test_a_request_without_a_credential_asks_the_store_nothing() -> None:
    flow = Flow(_settings(SettableClock()))
    calls, entry = _run(flow.check(_facts()), [])
    assert calls == []
    assert isinstance(entry, Entry)
    assert entry.reply is None
    assert entry.context.key is None


def test_a_live_session_is_one_check_with_the_policy_limits() -> None:
    clock = SettableClock()
    settings = _settings(clock)
    cookie, key = _cookie(settings)
    record = SessionRecord("ann", None, clock(), clock(), clock())
    calls, entry = _run(Flow(settings).check(_facts(cookie)), [(Decision(Verdict.ALLOW), record)])
    assert calls == [Check(key, POLICY.limits, True, clock(), None)]
    assert entry.reply is None
    assert entry.context.key == key


def test_an_api_key_beside_a_credential_is_checked_passively() -> None:
    clock = SettableClock()
    settings = _settings(clock)
    cookie, key = _cookie(settings)
    record = SessionRecord("ann", None, clock(), clock(), clock())
    flow = Flow(settings)
    calls, _ = _run(
        flow.check(_facts(cookie, **{"x-api-key": "k"})), [(Decision(Verdict.ALLOW), record)]
    )
    assert calls == [Check(key, POLICY.limits, False, clock(), None)], "checked, never extending"


def test_an_expired_session_is_refused_with_its_event() -> None:
    clock = SettableClock()
    settings = _settings(clock)
    cookie, _ = _cookie(settings)
    record = SessionRecord("ann", None, clock() - 1000, clock() - 1000, clock() - 1000)
    expired = Decision(Verdict.EXPIRED_IDLE, reason=EndReason.IDLE)
    calls, entry = _run(Flow(settings).check(_facts(cookie)), [(expired, record)])
    assert len(calls) == 1
    assert entry.reply is not None
    assert entry.reply.status == 401
    assert [event.type.value for event in entry.events] == ["session_expired_inactivity"]


@pytest.mark.parametrize(
    ("adopted", "status", "calls"),
    [
        pytest.param(None, 401, 2, id="the-app-refuses-it"),
        pytest.param("svc", None, 3, id="the-app-vouches-for-it"),
    ],
)
def test_an_unknown_app_credential_asks_the_app(
    adopted: str | None, status: int | None, calls: int
) -> None:
    clock = SettableClock()
    settings = _settings(clock, identity=AppCookie("sid", adopt=lambda credential: adopted))
    step = Flow(settings).check(_facts("sid=abc"))
    seen, entry = _run(step, [NO_SESSION_CHECK, adopted, None])
    assert len(seen) == calls
    assert isinstance(seen[0], Check)
    assert isinstance(seen[1], Call)
    assert seen[1].args == ("abc",)
    if adopted is None:
        assert entry.reply is not None
        assert entry.reply.status == status
    else:
        assert isinstance(seen[2], Create)
        assert seen[2].record.subject == "svc"
        assert entry.context.info().subject == "svc"


NO_SESSION_CHECK = (NO_SESSION, None)


def test_a_store_failure_thrown_into_the_step_is_a_503() -> None:
    from idleguard.errors import StoreUnavailable

    clock = SettableClock()
    settings = _settings(clock)
    cookie, _ = _cookie(settings)
    step = Flow(settings).check(_facts(cookie))
    assert isinstance(step.send(None), Check)
    with pytest.raises(StopIteration) as stop:
        step.throw(StoreUnavailable("down"))
    entry = stop.value.value
    assert entry.reply.status == 503


def test_a_sign_out_is_one_end_and_clears_the_cookie() -> None:
    clock = SettableClock()
    settings = _settings(clock)
    cookie, key = _cookie(settings)
    flow = Flow(settings)
    record = SessionRecord("ann", None, clock(), clock(), clock())
    _, entry = _run(flow.check(_facts(cookie)), [(Decision(Verdict.ALLOW), record)])
    entry.context.end()
    calls, departure = _run(flow.leave(entry.context), [record])
    assert calls == [End(key, EndReason.SIGNED_OUT, clock(), None)]
    assert any("Max-Age=0" in value for name, value in departure.headers if name == "set-cookie")
    assert departure.reply is None
    assert [event.type.value for event in departure.events] == ["session_ended"]


def test_the_sweep_asks_the_store_to_purge_and_reports_each_session() -> None:
    clock = SettableClock()
    flow = Flow(_settings(clock))
    record = SessionRecord("ann", None, clock() - 5000, clock() - 5000, clock() - 5000)
    calls, events = _run(flow.sweep(clock()), [[("k", record, EndReason.ABSOLUTE)]])
    assert calls == [PurgeExpired(clock())]
    assert [event.type.value for event in events] == ["session_expired_absolute"]
