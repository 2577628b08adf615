"""Concurrent requests against a guarded app while a fault comes and goes, every answer kept.

The same driver serves ASGI (each request a task on the loop) and WSGI (each request on a
worker thread). Every request is recorded with when it started and ended, so a test can
ask what the requests sent during an outage were answered, and those after it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from idleguard import IdleGuard, IdleGuardWSGI

JSON = {"accept": "application/json"}


@dataclasses.dataclass(frozen=True)
class Answer:
    """One request: which session sent it, when (monotonic seconds), and what came back."""

    session: int
    started: float
    ended: float
    status: int
    subject: str | None

    @property
    def seconds(self) -> float:
        return self.ended - self.started


def _subject(response: httpx.Response) -> str | None:
    try:
        payload: Any = response.json()
    except ValueError:
        return None
    return payload.get("subject") if isinstance(payload, dict) else None


class Client:
    """Requests to a guarded app, in-process, the same for ASGI and WSGI.

    Requests go straight to the transport: no cookie jar, so concurrent requests
    carry exactly the cookie they are given and nothing another one received.
    """

    def __init__(self, guard: IdleGuard | IdleGuardWSGI) -> None:
        self._async: httpx.ASGITransport | None = None
        self._sync: httpx.WSGITransport | None = None
        if isinstance(guard, IdleGuard):
            self._async = httpx.ASGITransport(app=guard)
        else:
            self._sync = httpx.WSGITransport(app=guard)

    async def get(self, path: str, cookie: str = "") -> httpx.Response:
        """``GET path`` with exactly ``cookie``."""
        headers = {**JSON, "cookie": cookie} if cookie else JSON
        request = httpx.Request("GET", "http://app" + path, headers=headers)
        if self._async is not None:
            response = await self._async.handle_async_request(request)
            response.request = request
            await response.aread()
            return response
        transport = self._sync
        assert transport is not None

        def send() -> httpx.Response:
            answer = transport.handle_request(request)
            answer.request = request
            answer.read()
            return answer

        # A worker thread per request, as a threaded WSGI server runs them.
        return await asyncio.to_thread(send)

    async def send(self, path: str, cookie: str) -> tuple[int, str | None]:
        response = await self.get(path, cookie)
        return response.status_code, _subject(response)

    async def sign_in(self, user: str) -> str:
        """Sign ``user`` in; the cookie header that carries the new session."""
        response = await self.get(f"/login?user={user}")
        assert response.status_code == 200, response.text
        cookies = httpx.Cookies()
        cookies.extract_cookies(response)
        return "; ".join(f"{name}={value}" for name, value in cookies.items())

    async def close(self) -> None:
        if self._async is not None:
            await self._async.aclose()
        if self._sync is not None:
            self._sync.close()


#: Sends ``GET path`` with a cookie header; returns (status, subject or None).
Send = Callable[[str, str], Awaitable[tuple[int, str | None]]]


async def hammer(
    send: Send,
    cookies: Sequence[str],
    fault: Callable[[], Awaitable[None]],
    *,
    concurrency: int = 6,
    path: str = "/me",
) -> list[Answer]:
    """Send requests for ``cookies`` in turn from ``concurrency`` tasks until ``fault`` returns."""
    answers: list[Answer] = []
    done = asyncio.Event()

    async def worker(first: int) -> None:
        index = first
        while not done.is_set():
            session = index % len(cookies)
            started = time.monotonic()
            status, subject = await send(path, cookies[session])
            answers.append(Answer(session, started, time.monotonic(), status, subject))
            index += concurrency

    workers = [asyncio.ensure_future(worker(number)) for number in range(concurrency)]
    try:
        await fault()
    finally:
        done.set()
        await asyncio.gather(*workers)
    return answers


def between(answers: Sequence[Answer], start: float, end: float) -> list[Answer]:
    """The requests sent at or after ``start`` and answered at or before ``end``."""
    return [answer for answer in answers if answer.started >= start and answer.ended <= end]
