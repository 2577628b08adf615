"""The WSGI adapter: environ in, request facts to the guard, the guard's answer out.

It decides nothing; see `idleguard.flow` for what happens to a request
and `idleguard.guard` for what every adapter shares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from typing import Any

from .bodies import read_wsgi_body
from .context import SessionContext
from .events import Event
from .facts import HEADER_NAMES, RequestFacts, readings
from .flow import Entry
from .guard import Guard, merge_headers
from .provider import MAX_LOGOUT_BODY
from .replies import Reply
from .settings import Settings
from .shared import keyword_settings

__all__ = ["IdleGuardWSGI", "merge_headers", "read_headers", "wsgi_facts"]

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

#: environ key -> header name, for the headers idleguard reads.
_ENVIRON_KEYS = {"HTTP_" + name.upper().replace("-", "_"): name for name in HEADER_NAMES}
# WSGI (PEP 3333) keeps Content-Type under its CGI name, without the HTTP_ prefix.
_ENVIRON_KEYS["CONTENT_TYPE"] = _ENVIRON_KEYS.pop("HTTP_CONTENT_TYPE")


def read_headers(environ: Environ) -> dict[str, str]:
    """The headers idleguard reads, from a WSGI environ (or Django's `request.META`)."""
    return {name: environ[key] for key, name in _ENVIRON_KEYS.items() if key in environ}


def wsgi_facts(environ: Environ, path_info: str | None = None) -> RequestFacts:
    """The request facts of a WSGI environ; `path_info` when a framework has decoded its own.

    `PATH_INFO` is already relative to where the app is mounted (`SCRIPT_NAME`).
    """
    path, routed = readings(path_info if path_info is not None else environ.get("PATH_INFO") or "/")
    return RequestFacts(
        environ.get("REQUEST_METHOD", "GET"),
        path,
        read_headers(environ),
        False,
        environ.get("QUERY_STRING", ""),
        environ.get("REMOTE_ADDR"),
        routed,
        (environ.get("SCRIPT_NAME") or "").rstrip("/"),
    )


class IdleGuardWSGI:
    """WSGI middleware that enforces idle and absolute session timeouts on every request.

    Wrap any WSGI app: `app.wsgi_app = IdleGuardWSGI(app.wsgi_app, ...)` for
    Flask.

    Args:
        app: The WSGI app to guard.
        settings: A [`Settings`][idleguard.settings.Settings] built once and shared,
            instead of the options.
        **options: The same keyword options as [`IdleGuard`][idleguard.IdleGuard]
            (WebSockets do not exist in WSGI, so there is no `websocket_recheck`).

    Raises:
        TypeError: Both `settings` and the options it is built from were given.
        ConfigError: An option makes no sense; the message says which and how to
            fix it.
    """

    def __init__(self, app: WSGIApp, *, settings: Settings | None = None, **options: Any) -> None:
        self.app = app
        if settings is None:
            settings = keyword_settings(options, type(self).__name__)
        elif options:
            raise TypeError("pass either settings= or the options it is built from, not both")
        self.settings = settings
        self.guard = Guard(settings)
        self.flow = self.guard.flow
        self.store = settings.store
        #: The policy engine: runtime changes with `guard.policies.update(...)`.
        self.policies = settings.policies

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        guard = self.guard
        facts = wsgi_facts(environ)
        if guard.wants_body(facts):
            facts.body = read_wsgi_body(environ, MAX_LOGOUT_BODY)
        entry: Entry = guard.run_sync(guard.enter(facts))
        guard.emit_sync(entry.events)
        if entry.reply is not None:
            return _send_reply(start_response, entry.reply)
        context: SessionContext = entry.context
        environ["idleguard"] = context
        # Set when the flow must replace the app's answer (a sign-in or
        # sign-out the store did not record); started: start_response was called.
        replacement: list[Reply] = []
        started: list[bool] = []

        def guarded_start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            started.append(True)
            if context.has_headers:
                added, events, failed = guard.run_sync(guard.flow.leave(context))
                guard.emit_sync(events)
                if failed is not None:
                    replacement.append(failed)
                    return _start(start_response, failed, exc_info)
                if added:
                    headers = merge_headers(headers, added)
            return start_response(status, headers, exc_info)

        if context.key is None or not context.activity:
            body = self.app(environ, guarded_start_response)
        else:
            environ["wsgi.input"] = _ActiveInput(environ["wsgi.input"], guard, context)
            body = _ActiveBody(self.app(environ, guarded_start_response), guard, context)
        if replacement:
            _close(body)
            return [replacement[0].body]
        if not started:
            return _Replaceable(body, replacement)  # start_response may come with the first chunk
        return body

    def purge_expired(self) -> list[Event]:
        """End the sessions past their deadline that no request discovered, and report them.

        Each becomes a `session_expired_inactivity` or `session_expired_absolute`
        event through `on_event`, as if a request had found it. Run it from a
        scheduler, or let [`Sweeper`][idleguard.Sweeper] run it.

        Returns:
            The events it reported, one per session ended.
        """
        return self.guard.purge_expired()

    def touch_if_due(self, context: SessionContext) -> None:
        """Count a streamed chunk as activity, at most once per `touch_interval`."""
        self.guard.touch_if_due_sync(context)


def _start(
    start_response: StartResponse, reply: Reply, exc_info: Any = None
) -> Callable[[bytes], object]:
    headers = [*reply.headers, ("content-length", str(len(reply.body)))]
    return start_response(f"{reply.status} {HTTPStatus(reply.status).phrase}", headers, exc_info)


def _send_reply(start_response: StartResponse, reply: Reply) -> list[bytes]:
    _start(start_response, reply)
    return [reply.body]


def _close(body: Iterable[bytes]) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()


class _Replaceable:
    """A body whose app calls `start_response` lazily: replaced if the flow says so."""

    def __init__(self, body: Iterable[bytes], replacement: list[Reply]) -> None:
        self._body = body
        self._replacement = replacement

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            if self._replacement:
                break
            yield chunk
        if self._replacement:
            yield self._replacement[0].body

    def close(self) -> None:
        _close(self._body)


class _ActiveInput:
    """`wsgi.input` that counts a long upload as activity while it is read."""

    def __init__(self, stream: Any, guard: Guard, context: SessionContext) -> None:
        self._stream = stream
        self._guard = guard
        self._context = context

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._stream.read(size)
        self._guard.touch_if_due_sync(self._context)
        return data

    def readline(self, size: int = -1) -> bytes:
        data: bytes = self._stream.readline(size)
        self._guard.touch_if_due_sync(self._context)
        return data

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(self._stream.readlines(hint))

    def __iter__(self) -> Iterator[bytes]:
        for line in self._stream:
            self._guard.touch_if_due_sync(self._context)
            yield line


class _ActiveBody:
    """A response body that counts a long download as activity while it flows."""

    def __init__(self, body: Iterable[bytes], guard: Guard, context: SessionContext) -> None:
        self._body = body
        self._guard = guard
        self._context = context

    def __iter__(self) -> Iterator[bytes]:
        first = True
        for chunk in self._body:
            if not first:
                self._guard.touch_if_due_sync(self._context)
            first = False
            yield chunk

    def close(self) -> None:
        _close(self._body)
