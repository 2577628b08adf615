"""Reading the body of the few requests idleguard answers itself, bounded, for each adapter.

Only the identity provider's back-channel logout has one (a small form); the
app's own requests are never read here. A body past the limit is left unread
and reported as `None`, which the endpoint refuses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["read_asgi_body", "read_wsgi_body"]

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


async def read_asgi_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or `None` once it grows past `limit` bytes (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None  # the client went away
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def read_wsgi_body(environ: MutableMapping[str, Any], limit: int) -> bytes | None:
    """The request body by its `Content-Length`, or `None` when that is missing or past `limit`."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if not 0 <= length <= limit:
        return None
    body: bytes = environ["wsgi.input"].read(length)
    return body
