"""What every store must do, run over each backend (see ``conftest.py``)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from idleguard.core import EndReason, SessionRecord, Verdict, decide
from idleguard.policy import Policy
from idleguard.stores import Store

T0 = 1_800_000_000.25
POLICY = Policy(idle_timeout=600, absolute_timeout=3600, touch_interval=30)
LIMITS = POLICY.limits


def alice(at: float = T0, subject: str | None = "alice") -> SessionRecord:
    return SessionRecord(subject, "acme", at, at, at)


def test_round_trip_of_every_field(store: Store) -> None:
    record = SessionRecord("alice@example.com", "tenant-7", T0, T0 + 1.5, T0 + 0.75)
    store.create("k", record, LIMITS)
    decision, read = store.check("k", LIMITS, False, T0 + 2)
    assert decision.verdict is Verdict.ALLOW
    assert read is not None
    assert read.subject == "alice@example.com"
    assert read.tenant == "tenant-7"
    assert read.created_at == pytest.approx(T0, abs=1e-6)
    assert read.last_activity == pytest.approx(T0 + 1.5, abs=1e-6)
    assert read.authenticated_at == pytest.approx(T0 + 0.75, abs=1e-6)
    assert read.ended is None


def test_a_session_without_subject_or_tenant(store: Store) -> None:
    store.create("k", SessionRecord(None, None, T0, T0, T0), LIMITS)
    decision, read = store.check("k", LIMITS, True, T0)
    assert decision.alive
    assert read is not None
    assert (read.subject, read.tenant) == (None, None)


def test_an_unknown_key_is_no_session(store: Store) -> None:
    decision, read = store.check("nobody", LIMITS, True, T0)
    assert decision.verdict is Verdict.NO_SESSION
    assert read is None


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        pytest.param(599.999, Verdict.ALLOW, id="just-before-idle"),
        pytest.param(600.0, Verdict.EXPIRED_IDLE, id="exactly-idle"),
        pytest.param(900.0, Verdict.EXPIRED_IDLE, id="long-after-idle"),
    ],
)
def test_idle_expiry_at_the_edge(store: Store, elapsed: float, expected: Verdict) -> None:
    store.create("k", alice(), LIMITS)
    decision, _ = store.check("k", LIMITS, True, T0 + elapsed)
    assert decision.verdict is expected
    assert decision == decide(alice(), LIMITS, True, T0 + elapsed)


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        pytest.param(3599.999, Verdict.ALLOW, id="just-before-absolute"),
        pytest.param(3600.0, Verdict.EXPIRED_ABSOLUTE, id="exactly-absolute"),
    ],
)
def test_absolute_expiry_at_the_edge_however_active(
    store: Store, elapsed: float, expected: Verdict
) -> None:
    store.create("k", alice(), LIMITS)
    # Active every five minutes: the idle limit is never reached.
    for minute in range(5, 60, 5):
        assert store.check("k", LIMITS, True, T0 + minute * 60)[0].alive
    decision, _ = store.check("k", LIMITS, True, T0 + elapsed)
    assert decision.verdict is expected


def test_activity_moves_the_idle_deadline(store: Store) -> None:
    store.create("k", alice(), LIMITS)
    decision, _ = store.check("k", LIMITS, True, T0 + 500)
    assert decision.touch
    assert store.check("k", LIMITS, False, T0 + 1099)[0].alive
    assert store.check("k", LIMITS, False, T0 + 1100)[0].verdict is Verdict.EXPIRED_IDLE


def test_passive_requests_never_extend(store: Store) -> None:
    store.create("k", alice(), LIMITS)
    decision, _ = store.check("k", LIMITS, False, T0 + 500)
    assert decision.alive
    assert not decision.touch
    assert store.check("k", LIMITS, False, T0 + 600)[0].verdict is Verdict.EXPIRED_IDLE


def test_writes_only_once_per_touch_interval(store: Store) -> None:
    store.create("k", alice(), LIMITS)
    touches = [store.check("k", LIMITS, True, T0 + second)[0].touch for second in range(0, 91)]
    assert [second for second, touch in enumerate(touches) if touch] == [30, 60, 90]
    sessions = store.sessions_of("alice", T0 + 91)
    assert [record.last_activity for _, record in sessions] == [pytest.approx(T0 + 90)]


@pytest.mark.parametrize(
    "reason",
    [
        pytest.param(EndReason.IDLE, id="expired-idle"),
        pytest.param(EndReason.ABSOLUTE, id="expired-absolute"),
    ],
)
def test_an_expiry_leaves_a_tombstone(store: Store, reason: EndReason) -> None:
    limits = (
        LIMITS
        if reason is EndReason.IDLE
        else Policy(idle_timeout=None, absolute_timeout=1000).limits
    )
    store.create("k", alice(), limits)
    late = T0 + 3600
    first, record = store.check("k", limits, True, late)
    assert first.expired_now
    assert first.reason is reason
    assert record is not None
    assert record.subject == "alice"
    # Reported once: every later request sees the tombstone, however active.
    for moment in (late, late + 1, late + 10_000):
        again, _ = store.check("k", limits, True, moment)
        assert again.verdict is Verdict.ENDED
        assert again.reason is reason
    assert store.sessions_of("alice", late) == []


def test_sign_out_leaves_a_tombstone_and_reports_once(store: Store) -> None:
    store.create("k", alice(), LIMITS)
    ended = store.end("k", EndReason.SIGNED_OUT, T0 + 1)
    assert ended is not None
    assert ended.subject == "alice"
    assert store.end("k", EndReason.SIGNED_OUT, T0 + 2) is None
    decision, _ = store.check("k", LIMITS, True, T0 + 3)
    assert (decision.verdict, decision.reason) == (Verdict.ENDED, EndReason.SIGNED_OUT)
    assert store.reauthenticate("k", T0 + 4) is False


def test_ending_an_unknown_key_refuses_it_later(store: Store) -> None:
    assert store.end("stranger", EndReason.REVOKED, T0) is None
    decision, _ = store.check("stranger", LIMITS, True, T0 + 1)
    assert (decision.verdict, decision.reason) == (Verdict.ENDED, EndReason.REVOKED)


def test_reauthenticate_moves_authenticated_at_forward_only(store: Store) -> None:
    store.create("k", alice(), LIMITS)
    assert store.reauthenticate("k", T0 + 50) is True
    assert store.reauthenticate("k", T0 + 10) is True
    _, record = store.check("k", LIMITS, False, T0 + 60)
    assert record is not None
    assert record.authenticated_at == pytest.approx(T0 + 50)
    assert store.reauthenticate("missing", T0) is False


def test_revoke_every_session_of_a_subject(store: Store) -> None:
    for key in ("a1", "a2", "a3"):
        store.create(key, alice(), LIMITS)
    store.create("b1", alice(subject="bob"), LIMITS)
    store.end("a3", EndReason.SIGNED_OUT, T0 + 1)
    assert sorted(key for key, _ in store.sessions_of("alice", T0 + 2)) == ["a1", "a2"]
    revoked = store.revoke_subject("alice", T0 + 2)
    assert sorted(key for key, _ in revoked) == ["a1", "a2"]
    assert store.sessions_of("alice", T0 + 3) == []
    for key in ("a1", "a2"):
        decision, _ = store.check(key, LIMITS, True, T0 + 3)
        assert (decision.verdict, decision.reason) == (Verdict.ENDED, EndReason.REVOKED)
    assert store.check("b1", LIMITS, True, T0 + 3)[0].alive
    assert store.revoke_subject("alice", T0 + 4) == []


def test_purge_reports_each_undiscovered_expiry_once(store: Store) -> None:
    store.create("idle", alice(), LIMITS)
    store.create("busy", alice(), LIMITS)
    store.create("old", alice(), Policy(idle_timeout=None, absolute_timeout=700).limits)
    store.check("busy", LIMITS, True, T0 + 500)
    expired = store.purge_expired(T0 + 700)
    found = {key: (record.subject, reason) for key, record, reason in expired}
    assert found == {"idle": ("alice", EndReason.IDLE), "old": ("alice", EndReason.ABSOLUTE)}
    assert store.purge_expired(T0 + 701) == []
    assert store.check("idle", LIMITS, True, T0 + 702)[0].verdict is Verdict.ENDED
    assert store.check("busy", LIMITS, True, T0 + 702)[0].alive


def test_concurrent_requests_at_the_expiry_edge_report_one_expiry(store: Store) -> None:
    store.create("k", alice(), LIMITS)
    verdicts: list[Verdict] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def request() -> None:
        start.wait()
        decision, _ = store.check("k", LIMITS, True, T0 + 600)
        with lock:
            verdicts.append(decision.verdict)

    threads = [threading.Thread(target=request) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert verdicts.count(Verdict.EXPIRED_IDLE) == 1
    assert verdicts.count(Verdict.ENDED) == 15


def test_no_request_brings_back_a_session_signed_out_under_it(store: Store) -> None:
    store.create("k", alice(), Policy(idle_timeout=600, touch_interval=0).limits)
    limits = Policy(idle_timeout=600, touch_interval=0).limits
    outcomes: list[tuple[float, float, Verdict]] = []
    lock = threading.Lock()
    stop = threading.Event()
    ended_at: list[float] = []

    def active_user(offset: int) -> None:
        moment = T0 + offset
        while not stop.is_set():
            moment += 0.001
            began = time.monotonic()
            decision, _ = store.check("k", limits, True, moment)
            with lock:
                outcomes.append((began, time.monotonic(), decision.verdict))

    threads = [threading.Thread(target=active_user, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    assert store.end("k", EndReason.SIGNED_OUT, T0 + 1) is not None
    ended_at.append(time.monotonic())
    time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join()
    after = [verdict for began, _, verdict in outcomes if began > ended_at[0]]
    assert after, "no request ran after the sign-out"
    assert set(after) == {Verdict.ENDED}
    assert Verdict.ALLOW in {verdict for _, _, verdict in outcomes}
    assert store.check("k", limits, True, T0 + 10)[0].verdict is Verdict.ENDED


async def test_concurrent_tasks_at_the_expiry_edge_report_one_expiry(store: Store) -> None:
    store.create("k", alice(), LIMITS)
    results = await asyncio.gather(*(store.acheck("k", LIMITS, True, T0 + 600) for _ in range(32)))
    verdicts = [decision.verdict for decision, _ in results]
    assert verdicts.count(Verdict.EXPIRED_IDLE) == 1
    assert verdicts.count(Verdict.ENDED) == 31
    await store.aclose()


async def test_async_twins_agree_with_sync(store: Store) -> None:
    await store.acreate("k", alice(), LIMITS)
    decision, record = await store.acheck("k", LIMITS, True, T0 + 40)
    assert decision.touch
    assert record is not None
    assert record.subject == "alice"
    assert await store.areauthenticate("k", T0 + 41)
    assert [key for key, _ in await store.asessions_of("alice", T0 + 42)] == ["k"]
    assert await store.apurge_expired(T0 + 43) == []
    ended = await store.aend("k", EndReason.SIGNED_OUT, T0 + 44)
    assert ended is not None
    await store.acreate("k2", alice(), LIMITS)
    assert [key for key, _ in await store.arevoke_subject("alice", T0 + 45)] == ["k2"]
    await store.aclose()
