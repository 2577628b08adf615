"""The push connection of local decisions: one pub/sub subscriber per process, and its health.

A process may decide a session on its own copy only while it is sure to hear of
every end announced since that copy was read. Redis delivers a published
message to a subscriber in order with every reply on that connection, so a
`PONG` to a `PING` sent at time `S` proves that every announcement published
before `S` has been read. The channel is therefore *healthy until*
`S + ping_interval + ping_timeout` of the last answered ping, and at once not
healthy when the connection fails, when a ping goes unanswered for
`ping_timeout`, or when the process forks (the thread does not survive a fork).
Each time it stops or starts being healthy, `on_reset` is called, so the owner
drops every copy it holds: a copy read before a gap may have missed an end.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from redis.exceptions import RedisError

__all__ = ["PushChannel", "Subscriber"]

logger = logging.getLogger("idleguard")


class Subscriber(Protocol):
    """What the channel needs of a pub/sub connection (redis-py's `PubSub`)."""

    def subscribe(self, *channels: str) -> Any: ...

    def get_message(
        self, ignore_subscribe_messages: bool = False, timeout: float = 0.0
    ) -> dict[str, Any] | None: ...

    def ping(self, message: str | None = None) -> Any: ...

    def close(self) -> None: ...


class _Unhealthy(Exception):
    """The connection answered too late, or not as a subscriber does."""


class PushChannel:
    """Listens on `channel` in a thread of its own and says whether it can be trusted now.

    Args:
        connect: Opens a fresh, unsubscribed connection (each reconnection calls it).
        channel: The pub/sub channel to listen on.
        on_message: Called with each message's data (decoded from bytes), on the
            listening thread.
        on_reset: Called whenever the channel stops or starts being healthy.
        ping_interval: Seconds between pings.
        ping_timeout: Seconds a ping may take before the connection counts as lost.
        monotonic: The clock health is measured with.
    """

    def __init__(
        self,
        connect: Callable[[], Subscriber],
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
        self._healthy_until = 0.0
        self._pid: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        #: How many times the connection was (re)established and lost: for tests and metrics.
        self.connections = 0
        self.losses = 0

    def healthy(self) -> bool:
        """Whether every announcement made until a moment ago has been read.

        Starts the listening thread on first use in each process.
        """
        if self._pid != os.getpid():
            self._start()
            return False
        return self._monotonic() < self._healthy_until

    def close(self) -> None:
        """Stop listening: the channel is not healthy from now on.

        The thread (a daemon) ends by itself within `ping_interval`, when its wait for
        the next message is over; nothing waits for it here.
        """
        self._stop.set()
        self._healthy_until = 0.0

    def _start(self) -> None:
        with self._start_lock:
            if self._pid == os.getpid() or self._stop.is_set():
                return
            # After a fork, copies read by the parent were never covered by this
            # process's connection: they go before the thread starts.
            self._healthy_until = 0.0
            self._on_reset()
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="idleguard-push", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            subscriber: Subscriber | None = None
            try:
                subscriber = self._connect()
                self._listen(subscriber)
            except (RedisError, OSError, _Unhealthy) as error:
                self.losses += 1
                logger.warning(
                    "idleguard: local decisions paused, every request goes to the store: "
                    "the push connection on %r failed (%s: %s)",
                    self.channel,
                    type(error).__name__,
                    error,
                )
            finally:
                was_healthy = self._healthy_until > 0.0
                self._healthy_until = 0.0
                if was_healthy:
                    self._on_reset()
                if subscriber is not None:
                    # Already broken, most likely: there is nothing more to release.
                    with contextlib.suppress(RedisError, OSError):
                        subscriber.close()
            self._stop.wait(self.ping_interval)

    def _listen(self, subscriber: Subscriber) -> None:
        subscriber.subscribe(self.channel)
        started = self._monotonic()
        confirmed = subscriber.get_message(timeout=self.ping_timeout)
        if not confirmed or confirmed.get("type") != "subscribe":
            raise _Unhealthy(f"no subscription confirmed in {self.ping_timeout} s")
        # Copies read before this moment may predate an announcement missed while away.
        self._on_reset()
        self.connections += 1
        self._healthy_until = started + self._trust
        if self.connections > 1:
            logger.info("idleguard: local decisions resumed on %r", self.channel)
        ping_sent: float | None = None
        next_ping = started + self.ping_interval
        while not self._stop.is_set():
            now = self._monotonic()
            deadline = next_ping if ping_sent is None else ping_sent + self.ping_timeout
            wait = deadline - now
            message = subscriber.get_message(timeout=max(wait, 0.0))
            if message is not None:
                kind = message.get("type")
                if kind == "message":
                    data = message.get("data")
                    if isinstance(data, bytes):
                        self._on_message(data.decode("utf-8", "replace"))
                elif kind == "pong" and ping_sent is not None:
                    self._healthy_until = ping_sent + self._trust
                    ping_sent = None
            now = self._monotonic()
            if ping_sent is not None and now - ping_sent > self.ping_timeout:
                raise _Unhealthy(f"no answer to a ping in {self.ping_timeout} s")
            if ping_sent is None and now >= next_ping:
                subscriber.ping()
                ping_sent = now
                next_ping = now + self.ping_interval
