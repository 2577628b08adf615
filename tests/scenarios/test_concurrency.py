"""Many requests at once at the expiry edge or racing a sign-out: zero resurrections."""

from __future__ import annotations

import asyncio
import threading

from idleguard.stores import MemoryStore
from idleguard.testing import EventCollector, SettableClock
from tests.apps import flask_app, starlette_app
from tests.harness import AsgiHarness, Response, WsgiHarness

REQUESTS = 200


def _statuses(responses: list[Response]) -> set[int]:
    return {response.status for response in responses}


def test_threads_at_the_expiry_edge_wsgi() -> None:
    clock, events = SettableClock(), EventCollector()
    client = WsgiHarness(flask_app(clock, on_event=events, store=MemoryStore(clock=clock)))
    client.post("/login")
    cookie = {"cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items())}
    clock.advance(900)  # exactly at the limit
    responses: list[Response] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def hammer() -> None:
        start.wait()
        for _ in range(REQUESTS // 20):
            response = client.request("GET", "/me", headers=cookie, cookies=False)
            with lock:
                responses.append(response)

    threads = [threading.Thread(target=hammer) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(responses) == REQUESTS
    assert _statuses(responses) == {401}, "no request at the edge got the session back"
    assert events.types().count("session_expired_inactivity") == 1, "reported exactly once"
    clock.advance(-100)  # even a clock stepping back does not revive it
    assert client.request("GET", "/me", headers=cookie, cookies=False).status == 401


def test_threads_racing_a_sign_out_wsgi() -> None:
    clock, events = SettableClock(), EventCollector()
    client = WsgiHarness(flask_app(clock, on_event=events))
    client.post("/login")
    cookie = {"cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items())}
    start = threading.Barrier(21)
    after_logout: list[Response] = []
    signed_out = threading.Event()

    def hammer() -> None:
        start.wait()
        for _ in range(10):
            seen_logout = signed_out.is_set()
            response = client.request("GET", "/me", headers=cookie, cookies=False)
            if seen_logout:
                after_logout.append(response)

    def logout() -> None:
        start.wait()
        client.request("POST", "/logout", headers=cookie, cookies=False)
        signed_out.set()

    threads = [threading.Thread(target=hammer) for _ in range(20)]
    threads.append(threading.Thread(target=logout))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(response.status == 401 for response in after_logout)
    assert client.request("GET", "/me", headers=cookie, cookies=False).status == 401
    assert events.types().count("session_ended") == 1


async def test_tasks_at_the_expiry_edge_asgi() -> None:
    clock, events = SettableClock(), EventCollector()
    client = AsgiHarness(starlette_app(clock, on_event=events))
    login = await client.send_async("POST", "/login", {}, [])
    cookie_value = login.all("set-cookie")[0].split(";")[0]
    clock.advance(900)
    responses = await asyncio.gather(
        *(client.send_async("GET", "/me", {"cookie": cookie_value}, []) for _ in range(REQUESTS))
    )
    assert _statuses(list(responses)) == {401}
    assert events.types().count("session_expired_inactivity") == 1


async def test_tasks_racing_a_sign_out_asgi() -> None:
    clock, events = SettableClock(), EventCollector()
    client = AsgiHarness(starlette_app(clock, on_event=events))
    login = await client.send_async("POST", "/login", {}, [])
    cookie = {"cookie": login.all("set-cookie")[0].split(";")[0]}
    requests = [client.send_async("GET", "/me", cookie, []) for _ in range(REQUESTS)]
    requests.insert(REQUESTS // 2, client.send_async("POST", "/logout", cookie, []))
    await asyncio.gather(*requests)
    after = await client.send_async("GET", "/me", cookie, [])
    assert after.status == 401
    assert after.json()["reason"] == "signed_out"
    assert events.types().count("session_ended") == 1
