"""A real OpenID Provider (node's oidc-provider) and the example app served on 127.0.0.1.

The provider is installed from the committed lockfile into ``tests/oidc/provider``
(``npm ci``, once, when ``node_modules`` is missing) and started per module with
clients registered for the app ports reserved here. Both clocks move together:
the app's is wall time plus an offset, the provider's the same offset
(``POST /__clock``), so ``auth_time`` and ``iat`` follow the time a test sets.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
import uvicorn
from werkzeug.serving import make_server

from tests.servers import ServerProcess, ServerUnavailable, free_port, unavailable

PROVIDER_DIR = Path(__file__).resolve().parent / "provider"
CLIENT_SECRET = "test-client-secret-test-client-secret"
SECRET_KEY = "oidc-test-secret-key-0123456789abcdef"
#: Ports reserved for the apps of a module, each registered as a client `app<n>`.
APP_SLOTS = 4


def install_provider() -> None:
    """`npm ci` from the committed lockfile, once; raises `ServerUnavailable` without node."""
    if (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        raise ServerUnavailable("node and npm are needed for the test OpenID Provider")
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=PROVIDER_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise ServerUnavailable(f"npm ci failed: {done.stderr[-800:]}")


class OpenIDProviderServer(ServerProcess):
    """node's oidc-provider on a free port, with a client for each app port."""

    name = "oidc-provider"

    def __init__(self, app_ports: Sequence[int]) -> None:
        super().__init__()
        self.app_ports = list(app_ports)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> Sequence[str]:
        return ["node", str(PROVIDER_DIR / "provider.mjs"), str(self.port)]

    def popen_options(self) -> dict[str, object]:
        clients = [client(index, port) for index, port in enumerate(self.app_ports)]
        # One more client whose back-channel URI is app 0's: its logout tokens are for
        # another audience.
        other = client(len(clients), self.app_ports[0])
        other["client_id"] = "other"
        other["redirect_uris"] = [f"http://127.0.0.1:{self.app_ports[0]}/other"]
        return {"env": {**os.environ, "IDLEGUARD_OP_CLIENTS": json.dumps([*clients, other])}}

    def set_offset(self, seconds: float) -> None:
        httpx.post(f"{self.url}/__clock", params={"offset": str(seconds)}).raise_for_status()

    def log(self) -> str:
        return self._log.read_text(errors="replace")


def client(index: int, port: int) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    return {
        "client_id": f"app{index}",
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [base + "/auth"],
        "post_logout_redirect_uris": [base + "/_idleguard/signed-out"],
        "backchannel_logout_uri": base + "/_idleguard/backchannel-logout",
        "backchannel_logout_session_required": True,
    }


class OffsetClock:
    """Wall time plus an offset the test moves (never back)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture(scope="module")
def app_ports() -> list[int]:
    return [free_port() for _ in range(APP_SLOTS)]


@pytest.fixture(scope="module")
def provider(app_ports: list[int]) -> Iterator[OpenIDProviderServer]:
    try:
        install_provider()
        server = OpenIDProviderServer(app_ports)
        server.start()
    except (ServerUnavailable, OSError, subprocess.SubprocessError) as error:
        unavailable("the OpenID Provider (node oidc-provider)", error)
    yield server
    server.close()


class LogoutRecorder:
    """Wraps an app: records each back-channel logout request's body and the answer's status."""

    PATH = "/_idleguard/backchannel-logout"

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, int]] = []

    def asgi(self, app: Any) -> Any:
        async def recorded(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http" or scope["path"] != self.PATH:
                await app(scope, receive, send)
                return
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            replayed = False

            async def replay() -> Any:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            async def watch(message: Any) -> None:
                if message["type"] == "http.response.start":
                    self.calls.append((body, message["status"]))
                await send(message)

            await app(scope, replay, watch)

        recorded.settings = app.settings  # type: ignore[attr-defined]
        return recorded

    def wsgi(self, app: Any) -> Any:
        def recorded(environ: Any, start_response: Any) -> Any:
            if environ.get("PATH_INFO") != self.PATH:
                return app(environ, start_response)
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)

            def watch(status: str, headers: Any, exc_info: Any = None) -> Any:
                self.calls.append((body, int(status.split()[0])))
                return start_response(status, headers, exc_info)

            return app(environ, watch)

        return recorded


def closing(app: Any, close: Callable[[], Awaitable[None]]) -> Any:
    """`app` with a lifespan that awaits `close()` at shutdown, in the server's own loop."""

    async def with_lifespan(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    return with_lifespan


@contextlib.contextmanager
def serving(app: Any, port: int, *, wsgi: bool) -> Iterator[str]:
    """Serve `app` on 127.0.0.1:`port` in a thread: uvicorn (ASGI) or werkzeug (WSGI).

    Under uvicorn the session store's async connections are closed in its loop at shutdown.
    """
    if wsgi:
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.shutdown()
            thread.join(10)
        return
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(
        closing(app, app.settings.store.aclose), log_level="warning", lifespan="on", ws="none"
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(10)
        sock.close()


class Browser:
    """An HTTP client that signs in through the provider as a person would (forms, redirects)."""

    def __init__(self) -> None:
        self.http = httpx.Client(timeout=10)

    def close(self) -> None:
        self.http.close()

    def follow(self, url: str, *, limit: int = 20) -> httpx.Response:
        """GET `url`, following redirects and the provider's self-submitting logout form."""
        response = self.http.get(url, headers={"accept": "text/html"})
        for _ in range(limit):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                response = self.http.get(target, headers={"accept": "text/html"})
                continue
            form = logout_form(response)
            if form is None:
                return response
            action, fields = form
            response = self.http.post(urljoin(str(response.url), action), data=fields)
        raise AssertionError("too many redirects")

    def sign_in(self, url: str, login: str = "alice") -> httpx.Response:
        """Follow `url` to the provider's sign-in form, submit it, follow back."""
        page = self.follow(url)
        assert is_sign_in_form(page), page.text[:300]
        return self.submit_sign_in(page, login)

    def submit_sign_in(self, page: httpx.Response, login: str = "alice") -> httpx.Response:
        action = re.search(r'action="([^"]+)"', page.text)
        assert action is not None
        response = self.http.post(
            urljoin(str(page.url), action.group(1)), data={"login": login, "password": "x"}
        )
        assert response.is_redirect, response.text[:300]
        return self.follow(urljoin(str(response.url), response.headers["location"]))


def is_sign_in_form(response: httpx.Response) -> bool:
    return '<input name="login"' in response.text


def logout_form(response: httpx.Response) -> tuple[str, dict[str, str]] | None:
    """The provider's logout confirmation form, as its script would submit it."""
    if 'id="op.logoutForm"' not in response.text and "<title>Submitting Callback" not in (
        response.text
    ):
        return None
    action = re.search(r'<form[^>]*action="([^"]+)"', response.text)
    assert action is not None
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', response.text))
    fields["logout"] = "yes"
    return action.group(1), fields


def wait_for(check: Any, what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)
