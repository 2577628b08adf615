"""Real HTTP servers on 127.0.0.1 for the example apps, run in a thread of the test process.

In-process, so a test can move the app's :class:`~idleguard.testing.SettableClock`
while real requests travel over real sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

import uvicorn
from werkzeug.serving import make_server

__all__ = ["serve_asgi", "serve_wsgi"]

STARTUP_LIMIT = 10.0  # seconds a server may take to start listening


@contextlib.contextmanager
def serve_wsgi(app: Callable[..., Any]) -> Iterator[str]:
    """Serve a WSGI app with werkzeug's threaded server; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll interval: shutdown() waits up to one interval.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(STARTUP_LIMIT)


@contextlib.contextmanager
def serve_asgi(app: Callable[..., Any], lifespan: Literal["on", "off"] = "off") -> Iterator[str]:
    """Serve an ASGI app with uvicorn; yield its base URL.

    ``lifespan="on"`` runs the app's start-up and shut-down (an app that closes its
    store's connections there).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it, an answer written as headers then body
    # waits for the client's delayed ACK, 40 ms a request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan=lifespan)
    server = uvicorn.Server(config)

    def run() -> None:
        asyncio.run(server.serve(sockets=[sock]))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_LIMIT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STARTUP_LIMIT)
        sock.close()
