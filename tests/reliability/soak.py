"""The soak: uvicorn with two workers and Redis on 127.0.0.1, many sessions, real time.

``make soak`` runs it for 60 seconds (``python -m tests.reliability.soak --seconds 60``);
``make test`` runs a short form of the same code (``tests/reliability/test_soak.py``).

Limits are short (idle 2 s, absolute 6 s by default) so sessions come and go many times a
minute, and each worker runs a sweeper every half second. Every simulated user signs in
again and again, in one of four ways:

``active``       a request every 0.3 x idle, until the absolute limit ends the session
``passive``      a passive poll as often, until the idle limit ends it
``expiring``     one request, then silence: the sweeper ends it
``signing-out``  a few requests, then sign-out

At the end every user falls silent, the sweepers end what is left, the workers are stopped
(flushing their events), and the run is checked: no error (no answer other than 200 and the
expected 401, no active session ended early), every expiry reported exactly once and every
sign-out once, no event lost, and resident memory of each worker flat. The figures are
printed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from idleguard.events import session_tag
from idleguard.identity import SignedCookie

from ..servers import RedisServer
from ..stores.apps import SECRET
from .served import Http, read_events, uvicorn

ROLES = ("active", "passive", "expiring", "signing-out")
SWEEP = 0.5
#: Resident memory may grow this much from the first sample to the last: the first
#: sample is taken once the workers have warmed up, so more would be a leak.
MEMORY_SLACK = 16 * 1024 * 1024
EXPIRED = {"session_expired_inactivity", "session_expired_absolute"}


@dataclasses.dataclass
class Session:
    """One sign-in of one simulated user, and how it ended as the user saw it."""

    role: str
    cookie: str
    ended: str | None = None

    @property
    def tag(self) -> str:
        value = self.cookie.split("=", 1)[1]
        key = SignedCookie(SECRET).key_for(value)
        assert key is not None
        return session_tag(
            hashlib.sha256(b"idleguard.event-tag\x00" + SECRET.encode()).digest(), key
        )


@dataclasses.dataclass
class Report:
    """What the soak counted; ``problems`` says what went wrong, empty when all is well."""

    seconds: float
    requests: int = 0
    sessions: int = 0
    expiries: int = 0
    signed_out: int = 0
    errors: int = 0
    lost_events: int = 0
    memory_start: dict[int, int] = dataclasses.field(default_factory=dict)
    memory_end: dict[int, int] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)

    def lines(self) -> list[str]:
        def megabytes(sizes: dict[int, int]) -> str:
            return ", ".join(f"{size / 2**20:.1f} MB" for _, size in sorted(sizes.items()))

        return [
            f"soak: {self.seconds:.0f} s, uvicorn with 2 workers, Redis on 127.0.0.1",
            f"requests       {self.requests}",
            f"sessions       {self.sessions}",
            f"expiries       {self.expiries}",
            f"signed out     {self.signed_out}",
            f"errors         {self.errors}",
            f"lost events    {self.lost_events}",
            f"memory start   {megabytes(self.memory_start)}",
            f"memory end     {megabytes(self.memory_end)}",
            *(f"PROBLEM: {problem}" for problem in self.problems),
        ]


class Soak:
    def __init__(self, url: str, seconds: float, users: int, idle: float) -> None:
        self.url = url
        self.seconds = seconds
        self.users = users
        self.idle = idle
        self.http = Http(connections=users)
        self.sessions: list[Session] = []
        self.requests = 0
        self.errors: Counter[str] = Counter()

    async def get(
        self, path: str, cookie: str = "", passive: bool = False
    ) -> httpx.Response | None:
        self.requests += 1
        try:
            response = await self.http.get(
                self.url + path, cookie, {"x-idleguard-passive": "1"} if passive else None
            )
        except httpx.TransportError as error:
            self.errors[f"transport: {type(error).__name__}"] += 1
            return None
        if response.status_code not in {200, 401}:
            self.errors[f"status {response.status_code}"] += 1
        return response

    async def user(self, number: int, until: float) -> None:
        role = ROLES[number % len(ROLES)]
        pause = self.idle * 0.3
        # Users start spread over one idle period, so their deadlines do not all coincide.
        await asyncio.sleep(self.idle * number / self.users)
        while time.monotonic() < until:
            login = await self.get(f"/login?user=user{number}")
            if login is None or "idleguard" not in login.cookies:
                await asyncio.sleep(pause)
                continue
            session = Session(role, f"idleguard={login.cookies['idleguard']}")
            self.sessions.append(session)
            if role == "expiring":
                await self.get("/me", session.cookie)
                await asyncio.sleep(self.idle + 2 * SWEEP)
                continue
            if role == "signing-out":
                for _ in range(3):
                    await asyncio.sleep(pause)
                    await self.get("/me", session.cookie)
                await self.get("/logout", session.cookie)
                session.ended = "signed_out"
                continue
            while time.monotonic() < until:
                await asyncio.sleep(pause)
                answer = await self.get("/me", session.cookie, passive=role == "passive")
                if answer is None or answer.status_code != 401:
                    continue
                session.ended = answer.json().get("reason")
                expected = "absolute" if role == "active" else "idle"
                if session.ended != expected:
                    self.errors[f"{role} session ended by {session.ended}"] += 1
                break

    async def worker_stats(self) -> dict[int, dict[str, int]]:
        """``/stats`` of every worker: a new connection each time lands on either."""
        found: dict[int, dict[str, int]] = {}
        for _ in range(100):
            async with httpx.AsyncClient() as client:
                stats = (await client.get(self.url + "/stats")).json()
            found[stats["pid"]] = stats
            if len(found) == 2:
                break
        return found

    async def run(self) -> Report:
        report = Report(self.seconds)
        until = time.monotonic() + self.seconds
        users = [asyncio.ensure_future(self.user(number, until)) for number in range(self.users)]
        # Memory once the workers are warm: every kind of session has come and gone once.
        await asyncio.sleep(min(self.seconds / 3, self.idle * 3))
        report.memory_start = {pid: s["rss"] for pid, s in (await self.worker_stats()).items()}
        await asyncio.gather(*users)
        # Every user is silent now: the sweepers end what is left within idle + a sweep.
        await asyncio.sleep(self.idle + 3 * SWEEP)
        stats = await self.worker_stats()
        report.memory_end = {pid: s["rss"] for pid, s in stats.items()}
        report.lost_events = sum(s["lost"] for s in stats.values())
        await self.http.aclose()
        report.requests = self.requests
        report.sessions = len(self.sessions)
        report.errors = sum(self.errors.values())
        report.problems.extend(f"{count} x {what}" for what, count in self.errors.items())
        return report


def check(report: Report, sessions: list[Session], events: list[dict[str, object]]) -> None:
    """Every session's end reported exactly once, in the way it ended; memory flat."""
    by_tag: dict[str, Counter[str]] = {}
    for event in events:
        by_tag.setdefault(str(event.get("session")), Counter())[str(event["type"])] += 1
    report.expiries = sum(1 for event in events if event["type"] in EXPIRED)
    report.signed_out = sum(1 for event in events if event["type"] == "session_ended")
    wrong = 0
    for session in sessions:
        seen = by_tag.get(session.tag, Counter())
        expiries = sum(seen[kind] for kind in EXPIRED)
        ended = seen["session_ended"]
        expected = (0, 1) if session.ended == "signed_out" else (1, 0)
        if (expiries, ended) != expected:
            wrong += 1
    if wrong:
        report.errors += wrong
        report.problems.append(f"{wrong} sessions whose end was not reported exactly once")
    if report.lost_events:
        report.problems.append(f"{report.lost_events} events lost")
    if len(report.memory_start) != 2 or len(report.memory_end) != 2:
        report.problems.append("could not read the memory of both workers")
    for pid, start in report.memory_start.items():
        end = report.memory_end.get(pid, start)
        if end > start + MEMORY_SLACK:
            report.problems.append(f"worker {pid} grew from {start} to {end} bytes")


async def soak(
    redis_url: str, *, seconds: float, users: int, idle: float = 2.0, absolute: float = 6.0
) -> Report:
    """Run the soak against a Redis at ``redis_url``; the report, with any problems in it."""
    with tempfile.TemporaryDirectory(prefix="idleguard-soak-") as folder:
        environment = {
            "IDLEGUARD_TEST_STORE": f"{redis_url}?key_prefix=soak{time.monotonic_ns()}:",
            "IDLEGUARD_TEST_EVENTS": folder,
            "IDLEGUARD_TEST_LIMITS": f"{idle},{absolute},{idle / 4}",
            "IDLEGUARD_TEST_SWEEP": str(SWEEP),
        }
        with uvicorn(environment, workers=2) as url:
            run = Soak(url, seconds, users, idle)
            report = await run.run()
        # The workers are stopped: every event they had is in the files.
        check(report, run.sessions, read_events(Path(folder)))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long (default 60)")
    parser.add_argument("--users", type=int, default=100, help="simulated users (default 100)")
    arguments = parser.parse_args(argv)
    server = RedisServer()
    server.start()
    try:
        report = asyncio.run(soak(server.url, seconds=arguments.seconds, users=arguments.users))
    finally:
        server.close()
    print("\n".join(report.lines()))
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
