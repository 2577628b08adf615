"""The scenarios every cell runs: idleguard deployed on a real server and framework.

The app's clock is moved by the test (:class:`~tests.matrix.deploy.ClockFile`), never
slept through; the policy is 900 s idle, 4 h absolute. Each test signs its own user in
on the cell's one server, at whatever time the clock shows by then.
"""

from __future__ import annotations

import secrets

import pytest
from websockets.exceptions import ConnectionClosed

from .apps.common import WEBSOCKET_RECHECK
from .client import BROWSER, IDLE, Visitor, closing, wait_for_events
from .deploy import AppServer

pytestmark = pytest.mark.matrix


def test_signed_in_user_is_current(deployed: AppServer) -> None:
    with Visitor(deployed) as visitor:
        assert visitor.user() is None
        visitor.sign_in("alice")
        assert visitor.user() == "alice"


def test_passive_poll_does_not_extend(deployed: AppServer) -> None:
    with Visitor(deployed) as visitor:
        visitor.sign_in()
        deployed.clock.advance(800)
        poll = visitor.http.get("/poll")
        assert poll.status_code == 200, poll.text
        assert poll.json()["user"] == "alice"
        deployed.clock.advance(200)
        expired = visitor.me()
        assert expired.status_code == 401
        assert expired.json() == {"error": "session_expired", "reason": "idle"}


def test_idle_expiry_answers_an_api_client_with_401(deployed: AppServer) -> None:
    with Visitor(deployed) as visitor:
        visitor.sign_in()
        deployed.clock.advance(IDLE)
        expired = visitor.me()
        assert expired.status_code == 401
        assert expired.headers["content-type"].startswith("application/json")
        assert expired.json() == {"error": "session_expired", "reason": "idle"}
        assert "max-age=0" in expired.headers.get("set-cookie", "").lower()
        assert visitor.user() is None  # the cookie is gone


def test_idle_expiry_sends_a_browser_to_sign_in(deployed: AppServer) -> None:
    with Visitor(deployed) as visitor:
        visitor.sign_in()
        alive = visitor.http.get("/page", headers=BROWSER)
        assert alive.status_code == 200
        assert "Signed in as alice" in alive.text
        deployed.clock.advance(IDLE + 1)
        expired = visitor.http.get("/page", headers=BROWSER)
        assert expired.status_code == 303
        assert expired.headers["location"] == "/login?reason=idle&next=/page"


def test_signed_out_cookie_is_refused_when_replayed(deployed: AppServer) -> None:
    with Visitor(deployed) as visitor:
        visitor.sign_in()
        copied = visitor.cookie()
        signed_out = visitor.http.post("/logout")
        assert signed_out.status_code == 200
        assert "max-age=0" in signed_out.headers.get("set-cookie", "").lower()
        assert visitor.user() is None
    with Visitor(deployed, cookie=copied) as replay:
        refused = replay.me()
        assert refused.status_code == 401
        assert refused.json() == {"error": "session_expired", "reason": "signed_out"}


def test_slow_upload(deployed: AppServer) -> None:
    with Visitor(deployed) as visitor:
        visitor.sign_in()
        upload = visitor.slow_upload()
    assert (upload.outcome, upload.streamed) == deployed.cell.upload, upload


def test_slow_download(deployed: AppServer) -> None:
    with Visitor(deployed) as visitor:
        visitor.sign_in()
        download = visitor.slow_download()
    assert download.streamed, "the server held the response back"
    assert download.outcome is deployed.cell.download, download


def test_client_script_is_served(deployed: AppServer) -> None:
    with Visitor(deployed) as visitor:
        script = visitor.http.get("/_idleguard/idleguard.js")
    if deployed.cell.app.serves_client:
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]
    else:
        assert script.status_code == 404


def test_expiry_is_reported_once(deployed: AppServer) -> None:
    user = f"audited-{secrets.token_hex(4)}"
    with Visitor(deployed) as visitor:
        visitor.sign_in(user)
        copied = visitor.cookie()
        deployed.clock.advance(IDLE)
        assert visitor.me().status_code == 401
    with Visitor(deployed, cookie=copied) as replay:
        # Refused again, by whichever worker: the tombstone answers, and reports nothing new.
        assert {replay.me().status_code for _ in range(5)} == {401}
    kinds = wait_for_events(deployed, user, "session_expired_inactivity")
    assert kinds.count("session_started") == 1, kinds
    assert kinds.count("session_expired_inactivity") == 1, kinds


@pytest.mark.stops_server
def test_server_shuts_down_cleanly(deployed: AppServer) -> None:
    with Visitor(deployed) as visitor:
        visitor.sign_in()
    status = deployed.terminate()
    assert status is not None, "the server was still running 20 s after SIGTERM"
    log = deployed.log()
    assert "Traceback" not in log, log


@pytest.mark.needs("workers")
def test_workers_share_the_session(deployed: AppServer) -> None:
    with Visitor(deployed) as visitor:
        visitor.sign_in()
        copied = visitor.cookie()
        answered: set[int] = set()
        for _ in range(200):
            # A new connection each time, so the requests spread over the workers.
            answered.add(visitor.me(connection="close").json()["pid"])
            if len(answered) == deployed.cell.workers:
                break
        assert len(answered) == deployed.cell.workers, "the requests did not reach every worker"
        assert visitor.http.post("/logout").status_code == 200
    with Visitor(deployed, cookie=copied) as replay:
        refusals = [replay.me() for _ in range(20)]
    assert {response.status_code for response in refusals} == {401}


@pytest.mark.needs("websockets")
def test_websocket_echoes_for_a_live_session(deployed: AppServer) -> None:
    with Visitor(deployed) as visitor:
        visitor.sign_in()
        with visitor.websocket() as socket:
            socket.send("hello")
            assert socket.recv(timeout=5) == "hello"


@pytest.mark.needs("websockets")
def test_websocket_refused_at_connect_for_an_expired_session(deployed: AppServer) -> None:
    with Visitor(deployed) as visitor:
        visitor.sign_in()
        deployed.clock.advance(IDLE)
        assert visitor.websocket_refusal() == deployed.cell.server.refusal


@pytest.mark.needs("websockets")
def test_websocket_closed_when_the_session_ends(deployed: AppServer) -> None:
    with Visitor(deployed) as visitor:
        visitor.sign_in()
        with visitor.websocket() as socket:
            socket.send("hello")
            assert socket.recv(timeout=5) == "hello"
            deployed.clock.advance(IDLE)
            # The server's own recheck ends it, with the socket silent.
            with pytest.raises(ConnectionClosed) as closed:
                socket.recv(timeout=WEBSOCKET_RECHECK * 25)
    assert closing(closed.value) == "close 4401"


@pytest.mark.needs("websockets")
def test_websocket_closed_on_sign_out(deployed: AppServer) -> None:
    with Visitor(deployed) as visitor:
        visitor.sign_in()
        with visitor.websocket() as socket:
            socket.send("hello")
            assert socket.recv(timeout=5) == "hello"
            # With several workers the sign-out may reach another process than the socket's.
            assert visitor.http.post("/logout").status_code == 200
            with pytest.raises(ConnectionClosed) as closed:
                socket.recv(timeout=WEBSOCKET_RECHECK * 25)
    assert closing(closed.value) == "close 4401"
