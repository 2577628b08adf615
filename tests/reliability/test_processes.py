"""No resurrection across processes: two uvicorn servers sharing one real Redis.

Hundreds of concurrent requests, spread over both servers, race a sign-out sent to one of
them, or cross the idle deadline. Whatever the interleaving: once the session is seen to be
over, no request sent afterwards finds it alive, through either server; it is over for good;
and its end is reported exactly once between the two.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .served import Http, read_events, uvicorn

pytestmark = pytest.mark.redis

REQUESTS = 300
IDLE = 1.0
SPREAD = 0.6  # seconds over which the requests are sent
_prefixes = itertools.count()


@pytest.fixture
def two_servers(redis_url: str, tmp_path: Path) -> Iterator[tuple[list[str], Path]]:
    """Two uvicorn servers on one Redis; their events go to ``tmp_path``."""
    environment = {
        "IDLEGUARD_TEST_STORE": f"{redis_url}?key_prefix=procs{next(_prefixes)}:",
        "IDLEGUARD_TEST_EVENTS": str(tmp_path),
        "IDLEGUARD_TEST_LIMITS": f"{IDLE},60,0.1",
    }
    with uvicorn(environment) as first, uvicorn(environment) as second:
        yield [first, second], tmp_path


def events_of(folder: Path, kind: str, expected: int) -> list[dict[str, object]]:
    """The events of ``kind``, once at least ``expected`` of them are written (5 s at most)."""
    deadline = time.monotonic() + 5
    while True:
        found = [event for event in read_events(folder) if event["type"] == kind]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


Outcome = tuple[float, float, int]  # sent, answered (monotonic seconds), status


def assert_never_alive_after_over(outcomes: list[Outcome], over_at: float) -> None:
    """Nothing sent after ``over_at`` found the session alive."""
    assert {status for _, _, status in outcomes} <= {200, 401}, "no 500, no 503"
    late = [outcome for outcome in outcomes if outcome[0] > over_at]
    assert late, "no request was sent after the session was over"
    resurrected = [outcome for outcome in late if outcome[2] == 200]
    assert not resurrected, f"{len(resurrected)} requests found the session alive after its end"


async def test_hundreds_of_requests_racing_a_sign_out(
    two_servers: tuple[list[str], Path],
) -> None:
    urls, folder = two_servers
    http = Http()
    cookie = await http.sign_in(urls[0], "alice")
    outcomes: list[Outcome] = []
    signed_out: list[float] = []
    # Requests spread over 0.6 s, the sign-out sent in the middle of them.
    start = time.monotonic() + 0.05

    async def request(number: int) -> None:
        await asyncio.sleep(max(0.0, start + number * SPREAD / REQUESTS - time.monotonic()))
        sent = time.monotonic()
        response = await http.get(f"{urls[number % 2]}/me", cookie)
        outcomes.append((sent, time.monotonic(), response.status_code))

    async def sign_out() -> None:
        await asyncio.sleep(max(0.0, start + SPREAD / 2 - time.monotonic()))
        response = await http.get(f"{urls[1]}/logout", cookie)
        assert response.status_code == 200
        signed_out.append(time.monotonic())

    await asyncio.gather(sign_out(), *(request(number) for number in range(REQUESTS)))
    for url in urls:  # over for good, on both
        answer = await http.get(f"{url}/me", cookie)
        assert (answer.status_code, answer.json()["reason"]) == (401, "signed_out")
    await http.aclose()
    assert_never_alive_after_over(outcomes, signed_out[0])
    assert any(status == 200 for _, _, status in outcomes), "the race began with a live session"
    assert len(events_of(folder, "session_ended", 1)) == 1


async def test_hundreds_of_requests_across_the_expiry_edge(
    two_servers: tuple[list[str], Path],
) -> None:
    urls, folder = two_servers
    http = Http()
    signed_in = time.monotonic()
    cookie = await http.sign_in(urls[0], "alice")
    outcomes: list[Outcome] = []
    # Passive requests never extend: the deadline stays where sign-in put it, and the
    # requests, sent from 0.3 s before it to 0.3 s after it, cross it.
    passive = {"x-idleguard-passive": "1"}
    start = signed_in + IDLE - SPREAD / 2

    async def request(number: int) -> None:
        await asyncio.sleep(max(0.0, start + number * SPREAD / REQUESTS - time.monotonic()))
        sent = time.monotonic()
        response = await http.get(f"{urls[number % 2]}/me", cookie, passive)
        outcomes.append((sent, time.monotonic(), response.status_code))

    await asyncio.gather(*(request(number) for number in range(REQUESTS)))
    for url in urls:
        answer = await http.get(f"{url}/me", cookie)
        assert answer.status_code == 401
    await http.aclose()
    refused = [answered for _, answered, status in outcomes if status == 401]
    assert refused, "no request crossed the deadline"
    assert any(status == 200 for _, _, status in outcomes), "none was sent before the deadline"
    # Once one request was answered "expired", none sent after it found the session alive.
    assert_never_alive_after_over(outcomes, min(refused))
    assert len(events_of(folder, "session_expired_inactivity", 1)) == 1
