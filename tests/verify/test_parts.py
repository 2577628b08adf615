"""The parts of ``idleguard verify`` on their own: lengths, claims, the scheduler, credentials, redaction, output."""

from __future__ import annotations

import io
import time
from collections.abc import Generator

import pytest

from idleguard.durations import read_limit
from idleguard.testing import SettableClock
from idleguard.verify import ClockTime, Expectation, RealTime, Scheduler
from idleguard.verify.exchange import Answer, Exchange, answer_of, fingerprint, redact_headers
from idleguard.verify.progress import Progress
from idleguard.verify.recipes import SignInFailed, parse_credential
from idleguard.verify.render import to_html, to_markdown
from idleguard.verify.report import ProbeResult, Report, Verdict


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("900", 900.0, id="seconds"),
        pytest.param("2.5", 2.5, id="fraction"),
        pytest.param("15m", 900.0, id="minutes"),
        pytest.param("8h", 28800.0, id="hours"),
        pytest.param(" 1h30m ", 5400.0, id="hours-minutes"),
        pytest.param("1d", 86400.0, id="day"),
        pytest.param("OFF", None, id="off"),
    ],
)
def test_lengths_read_as_people_write_them(text: str, seconds: float | None) -> None:
    assert read_limit(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "is not a duration", id="empty"),
        pytest.param("15x", "is not a duration", id="unit"),
        pytest.param("30m1h", "is not a duration", id="order"),
        pytest.param("m", "is not a duration", id="no-number"),
        pytest.param("-5", "must not be negative", id="negative"),
        pytest.param("nan", "must be a finite number", id="nan"),
        pytest.param("inf", "must be a finite number", id="inf"),
    ],
)
def test_a_length_that_is_not_one_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_limit(text)


def test_a_claim_from_a_preset_with_an_override() -> None:
    claim = Expectation.build(preset="pci-dss", absolute=12 * 3600, absolute_given=True)
    assert (claim.idle_timeout, claim.absolute_timeout) == (900, 43200)
    assert claim.tolerance == 45  # 5 % of 15 minutes
    assert claim.source == "preset pci-dss (PCI DSS v4.0.1), --absolute"


def test_a_compressed_claim_is_the_claim_divided() -> None:
    claim = Expectation.build(preset="fedramp-moderate", compression=60)
    assert (claim.idle_timeout, claim.absolute_timeout) == (15, 720)
    assert claim.claimed(15) == 900


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({}, "say what to expect", id="nothing"),
        pytest.param({"preset": "pci-dds"}, "did you mean 'pci-dss'", id="typo"),
        pytest.param({"idle": None, "idle_given": True}, "claim at least one limit", id="all-off"),
        pytest.param({"idle": 0.0, "idle_given": True}, "more than 0", id="zero"),
        pytest.param(
            {"idle": 60.0, "idle_given": True, "tolerance": 0.0}, "tolerance", id="no-tolerance"
        ),
        pytest.param(
            {"idle": 60.0, "idle_given": True, "compression": 0.5}, "compress", id="stretch"
        ),
    ],
)
def test_a_claim_that_makes_no_sense_is_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Expectation.build(**options)  # type: ignore[arg-type]


def test_probes_wait_side_by_side_in_the_order_of_their_moments(clock: SettableClock) -> None:
    start = clock()
    seen: list[tuple[str, float]] = []

    def probe(name: str, waits: list[float]) -> Generator[float, None, str]:
        for wait in waits:
            yield start + wait
            seen.append((name, clock() - start))
        return name

    timeline = ClockTime(clock, clock.advance)
    results = Scheduler[str](timeline).run([probe("slow", [300, 900]), probe("quick", [60, 600])])
    assert results == ["slow", "quick"]
    assert seen == [("quick", 60), ("slow", 300), ("quick", 600), ("slow", 900)]
    # The run lasted as long as its longest probe, not the sum of their waits.
    assert clock() - start == 900


def test_a_moment_already_past_goes_on_at_once(clock: SettableClock) -> None:
    start = clock()

    def probe() -> Generator[float, None, float]:
        yield start + 10
        yield start - 100  # late: it does not move the clock back
        return clock() - start

    assert Scheduler[float](ClockTime(clock, clock.advance)).run([probe()]) == [10]


@pytest.mark.parametrize(
    ("line", "cookies", "headers"),
    [
        pytest.param("Cookie: a=1; b=2", {"a": "1", "b": "2"}, {}, id="cookie-header"),
        pytest.param("sid=abc", {"sid": "abc"}, {}, id="bare-cookie"),
        pytest.param(
            "Authorization: Bearer x.y.z", {}, {"Authorization": "Bearer x.y.z"}, id="bearer"
        ),
        pytest.param("  X-Api-Session: 123\n", {}, {"X-Api-Session": "123"}, id="header"),
        pytest.param("token=a:b", {"token": "a:b"}, {}, id="colon-in-cookie-value"),
    ],
)
def test_a_printed_credential(line: str, cookies: dict[str, str], headers: dict[str, str]) -> None:
    credential = parse_credential(line)
    assert (credential.cookies, credential.headers) == (cookies, headers)


@pytest.mark.parametrize("line", ["", "   ", "just words", "Cookie: novalue"])
def test_a_printed_credential_that_is_not_one(line: str) -> None:
    with pytest.raises(SignInFailed):
        parse_credential(line)


@pytest.mark.parametrize(
    ("status", "answer"),
    [(200, Answer.ALIVE), (204, Answer.ALIVE), (303, Answer.REFUSED), (401, Answer.REFUSED),
     (403, Answer.REFUSED), (440, Answer.REFUSED), (404, Answer.ERROR), (500, Answer.ERROR),
     (None, Answer.ERROR)],
)  # fmt: skip
def test_what_an_answer_says(status: int | None, answer: Answer) -> None:
    assert answer_of(status) is answer


def test_secrets_in_requests_are_redacted() -> None:
    shown = redact_headers(
        {
            "Cookie": "sid=s3cr3t-session; theme=dark",
            "Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
            "X-Note": "password=hunter2",
        }
    )
    assert (
        shown["cookie"]
        == f"sid=[REDACTED]{fingerprint('s3cr3t-session')}; theme=[REDACTED]{fingerprint('dark')}"
    )
    assert shown["authorization"].startswith("Bearer [REDACTED]#")
    assert "hunter2" not in shown["x-note"]


def _report(exchange: Exchange) -> Report:
    result = ProbeResult(
        "sign-out-replay", "http://x", Verdict.FAILED, "it|broke\nhere", exchanges=[exchange]
    )
    claim = Expectation.build(idle=60, idle_given=True)
    return Report(["http://x"], claim, [result], 0.0, 1.0, "real", "0")


def test_hostile_answers_cannot_break_the_reports() -> None:
    hostile = Exchange(
        at=0.5,
        method="GET",
        url="http://x/a|b",
        request_headers={},
        form={},
        status=200,
        response_headers={"location": ["/x\n| forged | row |", "<script>alert(1)</script>"]},
        answer=Answer.ALIVE,
        note="`code` <b>",
    )
    markdown = to_markdown(_report(hostile))
    row = next(
        line for line in markdown.splitlines() if line.startswith("| 1970-01-01T00:00:00.500Z")
    )
    assert row.count(" | ") == 4  # five cells: nothing the server sent added one
    assert "\\n\\| forged \\| row \\|" in row
    assert "<script>" not in markdown
    assert "<b>" not in markdown
    page = to_html(_report(hostile))
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_progress_tells_of_long_waits_only(clock: SettableClock) -> None:
    stream = io.StringIO()
    progress = Progress(ClockTime(clock, clock.advance), stream)
    progress(clock() + 0.5, 3)
    progress(clock() + 14 * 60 + 52, 3)
    progress(clock() + 3 * 3600 + 59 * 60, 1)
    assert stream.getvalue().splitlines() == [
        f"idleguard verify: waiting 14m 52s (until {_clock_text(clock() + 892)}), 3 probe(s) running",
        f"idleguard verify: waiting 3h 59m (until {_clock_text(clock() + 14340)}), 1 probe(s) running",
    ]


def _clock_text(at: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(at, datetime.timezone.utc).strftime("%H:%M:%SZ")


def test_the_real_timeline_waits_on_the_monotonic_clock() -> None:
    timeline = RealTime()
    start, started = timeline.now(), time.monotonic()
    timeline.wait_until(start + 0.05)
    assert time.monotonic() - started >= 0.05
    assert abs(timeline.now() - time.time()) < 1  # and it still reads as the wall clock
    timeline.wait_until(start - 10)  # a moment past: no wait
