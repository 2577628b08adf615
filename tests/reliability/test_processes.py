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
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import redis

from .served import Http, read_events, uvicorn

pytestmark = pytest.mark.redis

REQUESTS = 300  # at least this many requests in each race
AFTER = 50  # and at least this many after the session is over
TASKS = 50  # sent this many at a time
IN_THE_THICK = 100  # the sign-out goes once this many were answered
IDLE = 1.0
_prefixes = itertools.count()


@pytest.fixture(
    params=[
        pytest.param("", id="one-round-trip"),
        # Live sessions decided in each process, ends pushed (stores/local.py); a margin
        # under the 1 s idle limit, so most requests are decided locally.
        pytest.param("&local_decisions=1&local_margin=0.2", id="local-decisions"),
    ]
)
def two_servers(
    redis_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[list[str], Path]]:
    """Two uvicorn servers on one Redis; their events go to ``tmp_path``.

    With local decisions on, many of the requests of a race must not reach Redis at all,
    or the race would not be testing them.
    """
    environment = {
        "IDLEGUARD_TEST_STORE": f"{redis_url}?key_prefix=procs{next(_prefixes)}:{request.param}",
        "IDLEGUARD_TEST_EVENTS": str(tmp_path),
        "IDLEGUARD_TEST_LIMITS": f"{IDLE},60,0.1",
    }
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    before = script_calls(client)
    with uvicorn(environment) as first, uvicorn(environment) as second:
        yield [first, second], tmp_path
    scripts = script_calls(client) - before
    client.close()
    if request.param:
        # Not far fewer: with a 0.1 s touch interval and 50 requests in flight, each copy
        # is read again ten times a second by every request that finds it old at once.
        requests = RACED.pop()
        assert scripts < requests * 0.75, f"{scripts} script calls for {requests} requests"


#: How many requests each race sent, for the fixture that started the servers to read.
RACED: list[int] = []


def script_calls(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


def events_of(folder: Path, kind: str, expected: int) -> list[dict[str, object]]:
    """The events of ``kind``, once at least ``expected`` of them are written (5 s at most)."""
    deadline = time.monotonic() + 5
    while True:
        found = [event for event in read_events(folder) if event["type"] == kind]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


Outcome = tuple[float, float, int]  # sent, answered (monotonic seconds), status


async def race(
    http: Http,
    urls: list[str],
    cookie: str,
    *,
    passive: bool = False,
    event: Callable[[asyncio.Event], Awaitable[None]] | None = None,
) -> list[Outcome]:
    """Requests for ``cookie`` from ``TASKS`` tasks at once, alternating between the servers,
    until at least ``REQUESTS`` were sent and ``AFTER`` of them were refused (30 s at most).

    ``event``, when given, runs beside them: it is handed an event set once
    ``IN_THE_THICK`` requests have been answered.
    """
    outcomes: list[Outcome] = []
    thick = asyncio.Event()
    headers = {"x-idleguard-passive": "1"} if passive else None
    give_up = time.monotonic() + 30

    def enough() -> bool:
        refused = sum(1 for _, _, status in outcomes if status != 200)
        return (len(outcomes) >= REQUESTS and refused >= AFTER) or time.monotonic() > give_up

    async def task(number: int) -> None:
        while not enough():
            sent = time.monotonic()
            response = await http.get(f"{urls[number % 2]}/me", cookie, headers)
            outcomes.append((sent, time.monotonic(), response.status_code))
            if len(outcomes) >= IN_THE_THICK:
                thick.set()
            number += 1

    await asyncio.gather(
        *(task(number) for number in range(TASKS)), *([event(thick)] if event else [])
    )
    RACED.append(len(outcomes))
    return outcomes


def assert_never_alive_after_over(outcomes: list[Outcome], over_at: float) -> None:
    """Nothing sent after ``over_at`` found the session alive."""
    assert len(outcomes) >= REQUESTS
    assert {status for _, _, status in outcomes} <= {200, 401}, "no 500, no 503"
    assert any(status == 200 for _, _, status in outcomes), "the race began with a live session"
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
    signed_out: list[float] = []

    async def sign_out(thick: asyncio.Event) -> None:
        await thick.wait()
        response = await http.get(f"{urls[1]}/logout", cookie)
        assert response.status_code == 200
        signed_out.append(time.monotonic())

    outcomes = await race(http, urls, cookie, event=sign_out)
    for url in urls:  # over for good, on both
        answer = await http.get(f"{url}/me", cookie)
        assert (answer.status_code, answer.json()["reason"]) == (401, "signed_out")
    await http.aclose()
    assert_never_alive_after_over(outcomes, signed_out[0])
    assert len(events_of(folder, "session_ended", 1)) == 1


async def test_hundreds_of_requests_across_the_expiry_edge(
    two_servers: tuple[list[str], Path],
) -> None:
    urls, folder = two_servers
    http = Http()
    cookie = await http.sign_in(urls[0], "alice")
    # Passive requests never extend: the deadline stays where sign-in put it, one idle
    # period later, and the requests, sent from sign-in on, cross it.
    outcomes = await race(http, urls, cookie, passive=True)
    for url in urls:
        answer = await http.get(f"{url}/me", cookie)
        assert answer.status_code == 401
    await http.aclose()
    # Once one request was answered "expired", none sent after it found the session alive.
    first_refused = min(answered for _, answered, status in outcomes if status == 401)
    assert_never_alive_after_over(outcomes, first_refused)
    assert len(events_of(folder, "session_expired_inactivity", 1)) == 1
