"""The push connection of local decisions: one pub/sub subscriber per process, and its health.

A process may decide a session on its own copy only when it is sure to have heard
of every end announced before the request arrived. Two facts make that checkable:

* Redis writes an announcement to every subscriber's socket in the same event-loop
  turn as the reply to the script that made it, so by the time a sign-out is
  acknowledged, its announcement already sits in each subscribed process's socket.
* The listening thread here is the socket's only reader, and marks itself busy from
  the moment it is woken until everything it read is applied. A process is *quiet*
  when that thread is not busy and its socket has nothing waiting:
  [`PushChannel.quiet`][idleguard.stores.push.PushChannel.quiet] checks both, in the
  order that leaves no gap between them.

A local decision is also only made while the connection proves itself: a `PONG` to
a `PING` sent at time `S` shows that everything published before `S` was read, so
the channel is trusted until `S + ping_interval + ping_timeout`. A connection that
fails, a ping unanswered within `ping_timeout`, or a fork (the thread does not
survive one) ends the trust at once, and `on_reset` drops every copy: a copy read
before a gap may have missed an end.

The listener reads the protocol itself rather than through redis-py's `PubSub`,
because what a local decision must know (is a message half read?) lives inside
redis-py's buffers; redis-py still opens the connection, with its TLS, password and
database handling.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

__all__ = ["PushChannel", "RedisLink", "parse_frames"]

logger = logging.getLogger("idleguard")


class _Unhealthy(Exception):
    """The connection answered too late, or not as a subscriber does."""


class RedisLink:
    """A connection opened by redis-py, then read here byte by byte.

    Args:
        connection: An unconnected redis-py `Connection` (from a pool's
            `make_connection`): it connects, authenticates and selects the database.
    """

    @classmethod
    def to(cls, url: str, options: dict[str, Any]) -> RedisLink:
        """A link of its own to the server at `url`, with a store's connection options.

        Args:
            url: The store's Redis URL.
            options: The store's redis-py options (`RedisStore.connection_options`).

        Returns:
            The connected link.
        """
        own = {
            name: value
            for name, value in options.items()
            if name not in {"max_connections", "timeout", "decode_responses"}
        }
        own["protocol"] = 2  # RESP2, which every Redis and Valkey speaks, as read here
        return cls(redis.ConnectionPool.from_url(url, **own).make_connection())

    def __init__(self, connection: Any) -> None:
        connection.connect()
        sock = getattr(connection, "_sock", None)
        if sock is None:
            raise RedisConnectionError("the subscriber's connection has no socket")
        self._connection = connection
        self.socket = sock

    def send(self, *words: str) -> None:
        """Send one command; its reply arrives with the messages."""
        self._connection.send_packed_command(
            self._connection.pack_command(*words), check_health=False
        )

    def receive(self) -> bytes:
        """What the socket holds now (at least one byte: call it once it is readable).

        Raises:
            ConnectionError: The server closed the connection.
        """
        data: bytes = self.socket.recv(65536)
        if not data:
            raise RedisConnectionError("the push connection was closed by the server")
        # TLS may hold decrypted bytes beyond the record just returned.
        pending = getattr(self.socket, "pending", None)
        while pending is not None and pending():
            data += self.socket.recv(65536)
        return data

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(RedisError, OSError):
            self._connection.disconnect()


def parse_frames(buffer: bytearray) -> list[Any]:
    """Take every complete RESP2 reply off the front of `buffer`.

    A reply is a `str` (simple string), `bytes` (bulk string), `int`, `None`, an
    `Exception` (an error reply) or a `list` of those. What is left in `buffer` is
    the start of a reply not yet complete.
    """
    replies: list[Any] = []
    while True:
        parsed = _parse(buffer, 0)
        if parsed is None:
            return replies
        reply, end = parsed
        del buffer[:end]
        replies.append(reply)


def _parse(buffer: bytearray, start: int) -> tuple[Any, int] | None:
    line_end = buffer.find(b"\r\n", start)
    if line_end < 0:
        return None
    kind, line = buffer[start : start + 1], bytes(buffer[start + 1 : line_end])
    after = line_end + 2
    if kind == b"+":
        return line.decode("utf-8", "replace"), after
    if kind == b"-":
        return RedisError(line.decode("utf-8", "replace")), after
    if kind == b":":
        return int(line), after
    if kind == b"$":
        length = int(line)
        if length < 0:
            return None, after
        if len(buffer) < after + length + 2:
            return None
        return bytes(buffer[after : after + length]), after + length + 2
    if kind == b"*" or kind == b">":  # an array, or a RESP3 push frame read alike
        items: list[Any] = []
        position = after
        for _ in range(int(line)):
            parsed = _parse(buffer, position)
            if parsed is None:
                return None
            item, position = parsed
            items.append(item)
        return items, position
    raise _Unhealthy(f"not a reply Redis sends: {bytes(buffer[start:line_end])[:40]!r}")


class PushChannel:
    """Listens on `channel` in a thread of its own and says whether it can be trusted now.

    Args:
        connect: Opens a fresh link to the server (each reconnection calls it).
        channel: The pub/sub channel to listen on.
        on_message: Called with each message's data (decoded), on the listening thread.
        on_reset: Called whenever the channel stops or starts being trusted.
        ping_interval: Seconds between pings.
        ping_timeout: Seconds a ping may take before the connection counts as lost.
        monotonic: The clock health is measured with.
    """

    def __init__(
        self,
        connect: Callable[[], RedisLink],
        channel: str,
        *,
        on_message: Callable[[str], None],
        on_reset: Callable[[], None],
        ping_interval: float = 1.0,
        ping_timeout: float = 0.25,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if ping_interval <= 0 or ping_timeout <= 0:
            raise ValueError("ping_interval and ping_timeout must be positive seconds")
        self._connect = connect
        self.channel = channel
        self._on_message = on_message
        self._on_reset = on_reset
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self._monotonic = monotonic
        self._trust = ping_interval + ping_timeout
        self._trusted_until = 0.0
        self._busy = True
        self._socket: Any = None
        self._pid: int | None = None
        self._stop = threading.Event()
        self._start_lock = threading.Lock()
        #: How many times the connection was established, and lost, and the data of the
        #: last message applied: for tests and metrics.
        self.connections = 0
        self.losses = 0
        self.last_message: str | None = None

    def healthy(self) -> bool:
        """Whether the connection has proved itself within the last ping interval.

        Starts the listening thread on first use in each process.
        """
        if self._pid != os.getpid():
            self._start()
            return False
        return self._monotonic() < self._trusted_until

    def quiet(self) -> bool:
        """Healthy, and nothing the server sent is waiting to be applied."""
        if not self.healthy():
            return False
        sock = self._socket
        # The socket first, then the flag: the listener sets the flag before it reads,
        # so bytes are always seen in one place or the other.
        if sock is None:
            return False
        try:
            if select.select((sock,), (), (), 0)[0]:
                return False
        except (OSError, ValueError):  # closed by the listener meanwhile: not quiet
            return False
        return not self._busy

    def close(self) -> None:
        """Stop listening: the channel is not trusted from now on.

        The connection is shut down, which wakes the thread (a daemon) to end; nothing
        waits for it here.
        """
        self._stop.set()
        self._trusted_until = 0.0
        sock = self._socket
        if sock is not None:
            # Shut down, not closed: the thread still owns the descriptor, and a closed
            # one could be reused under it by another connection.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _start(self) -> None:
        with self._start_lock:
            if self._pid == os.getpid() or self._stop.is_set():
                return
            # After a fork, copies read by the parent were never covered by this
            # process's connection: they go before the thread starts.
            self._trusted_until = 0.0
            self._on_reset()
            self._pid = os.getpid()
            thread = threading.Thread(target=self._run, name="idleguard-push", daemon=True)
            thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            link: RedisLink | None = None
            try:
                link = self._connect()
                self._listen(link)
            except (RedisError, OSError, ValueError, _Unhealthy) as error:
                if self._stop.is_set():
                    break  # closed: the error is the shutdown itself
                self.losses += 1
                logger.warning(
                    "idleguard: local decisions paused, every request goes to the store: "
                    "the push connection on %r failed (%s: %s)",
                    self.channel,
                    type(error).__name__,
                    error,
                )
            finally:
                was_trusted = self._trusted_until > 0.0
                self._trusted_until = 0.0
                self._busy = True
                self._socket = None
                if was_trusted:
                    self._on_reset()
                if link is not None:
                    link.close()
            self._stop.wait(self.ping_interval)

    def _listen(self, link: RedisLink) -> None:
        buffer = bytearray()
        started = self._monotonic()
        link.send("SUBSCRIBE", self.channel)
        while True:  # the confirmation, within ping_timeout
            wait = started + self.ping_timeout - self._monotonic()
            if wait <= 0 or not select.select((link.socket,), (), (), wait)[0]:
                raise _Unhealthy(f"no subscription confirmed in {self.ping_timeout} s")
            buffer += link.receive()
            replies = parse_frames(buffer)
            if replies:
                break
        first = replies[0]
        if not (isinstance(first, list) and first[:1] == [b"subscribe"]):
            raise _Unhealthy(f"the subscription was refused: {first!r}")
        # Copies read before this moment may predate an announcement missed while away.
        self._on_reset()
        self.connections += 1
        self._socket = link.socket
        self._trusted_until = started + self._trust
        self._busy = False
        if self.connections > 1:
            logger.info("idleguard: local decisions resumed on %r", self.channel)
        self._apply(replies[1:], None)
        self._serve(link, buffer)

    def _serve(self, link: RedisLink, buffer: bytearray) -> None:
        ping_sent: float | None = None
        next_ping = self._monotonic() + self.ping_interval
        while not self._stop.is_set():
            deadline = next_ping if ping_sent is None else ping_sent + self.ping_timeout
            wait = max(deadline - self._monotonic(), 0.0)
            if select.select((link.socket,), (), (), wait)[0]:
                self._busy = True  # before reading: see quiet()
                buffer += link.receive()
                ping_sent = self._apply(parse_frames(buffer), ping_sent)
                # Half a reply still in the buffer keeps the process busy.
                self._busy = bool(buffer)
            now = self._monotonic()
            if ping_sent is not None and now - ping_sent > self.ping_timeout:
                raise _Unhealthy(f"no answer to a ping in {self.ping_timeout} s")
            if ping_sent is None and now >= next_ping:
                link.send("PING")
                ping_sent = now
                next_ping = now + self.ping_interval

    def _apply(self, replies: list[Any], ping_sent: float | None) -> float | None:
        """Apply what was read; returns when the ping still unanswered was sent."""
        for reply in replies:
            if isinstance(reply, list) and len(reply) == 3 and reply[0] == b"message":
                data = reply[2]
                if isinstance(data, bytes):
                    text = data.decode("utf-8", "replace")
                    self._on_message(text)
                    self.last_message = text
            elif reply == "PONG" or (isinstance(reply, list) and reply[:1] == [b"pong"]):
                if ping_sent is not None:
                    self._trusted_until = ping_sent + self._trust
                ping_sent = None
            elif isinstance(reply, Exception):
                raise _Unhealthy(f"the server answered {reply}")
        return ping_sent
