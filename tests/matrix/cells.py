"""The compatibility matrix: which app runs on which server, and what each cell should show.

A cell is one framework's app (:mod:`tests.matrix.apps`) on one server, started the way
that server's users start it. What a cell should show follows from what its server and
framework are known to do with a request body and a WebSocket refusal, declared once
here for each of them; ``docs/compatibility.md`` tells the same in prose.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
from collections.abc import Callable, Mapping, Sequence

__all__ = [
    "CELLS",
    "App",
    "Bug",
    "Cell",
    "Guard",
    "Interface",
    "Outcome",
    "Server",
    "markdown_table",
]


class Interface(enum.Enum):
    ASGI = "asgi"
    WSGI = "wsgi"


class Guard(enum.Enum):
    """Where idleguard sits in the app."""

    MIDDLEWARE = "middleware"
    """Around the app: ``IdleGuard``/``IdleGuardWSGI`` (or the Flask extension, which wraps
    ``app.wsgi_app``): it sees every byte of a request and its response as they flow."""
    DJANGO_MIDDLEWARE = "django-middleware"
    """Inside Django's handler (``MIDDLEWARE``): it runs after Django has its request and
    never sees a body flow, as ``idleguard.integrations.django`` documents."""


class Outcome(enum.Enum):
    """What a request slower than the idle limit (an upload, a download) comes to."""

    KEPT_ALIVE = "kept alive"
    """It succeeds, and the session is alive after it: its bytes counted as activity."""
    NOT_EXTENDED = "served, session not extended"
    """It succeeds, but the session ended meanwhile: its bytes did not count."""
    REFUSED = "refused: idle"
    """``401 idle``: the app got the request only once the body was all there, by which
    time the session had been idle longer than the limit."""


#: A server command for an app target (``module:factory``), a port and a worker count.
Command = Callable[[str, int, int], list[str]]
PYTHON = sys.executable


def _uvicorn(target: str, port: int, workers: int) -> list[str]:
    return [
        PYTHON, "-m", "uvicorn", "--factory", target,
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip


def _hypercorn(worker_class: str) -> Command:
    def command(target: str, port: int, workers: int) -> list[str]:
        return [
            PYTHON, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--worker-class", worker_class,
            f"{target}()",  # hypercorn evaluates the attribute: a call builds the app
        ]  # fmt: skip

    return command


def _granian(interface: Interface) -> Command:
    def command(target: str, port: int, workers: int) -> list[str]:
        return [
            PYTHON, "-m", "granian", "--interface", interface.value, "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--log-level", "warning", target,
        ]  # fmt: skip

    return command


def _daphne(target: str, port: int, workers: int) -> list[str]:
    # Daphne imports an object; tests.matrix.apps.entry builds it from IDLEGUARD_TEST_APP.
    assert workers == 1, "daphne runs one process"
    return [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "tests.matrix.apps.entry:application"]  # fmt: skip


def _gunicorn(worker_class: str, *extra: str) -> Command:
    def command(target: str, port: int, workers: int) -> list[str]:
        return [
            PYTHON, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--worker-class", worker_class, *extra,
            "--log-level", "warning", f"{target}()",  # gunicorn calls a factory written as a call
        ]  # fmt: skip

    return command


def _waitress(target: str, port: int, workers: int) -> list[str]:
    assert workers == 1, "waitress runs one process"
    return [PYTHON, "-m", "waitress", f"--listen=127.0.0.1:{port}", "--call", target]


@dataclasses.dataclass(frozen=True)
class Server:
    """A server, and what it is known to do."""

    name: str
    interface: Interface
    command: Command
    #: Modules that must import for the server to run (its package, its worker class).
    requires: tuple[str, ...]
    #: Whether it reads a whole request body before it calls the app.
    buffers_uploads: bool
    #: What a client sees when idleguard refuses a WebSocket handshake for an ended session:
    #: an HTTP 401 where the server offers the ``websocket.http.response`` extension, else
    #: the socket accepted and closed with 4401; ``None``: no WebSockets.
    refusal: str | None = None
    #: Whether the server hands the app one variable for the app target (daphne).
    imports_object: bool = False


UVICORN = Server("uvicorn", Interface.ASGI, _uvicorn, ("uvicorn",), False, "HTTP 401")
HYPERCORN = Server(
    "hypercorn", Interface.ASGI, _hypercorn("asyncio"), ("hypercorn",), False, "HTTP 401"
)
HYPERCORN_TRIO = Server(
    "hypercorn-trio", Interface.ASGI, _hypercorn("trio"), ("hypercorn", "trio"), False, "HTTP 401"
)
GRANIAN = Server(
    "granian", Interface.ASGI, _granian(Interface.ASGI), ("granian",), False, "HTTP 401"
)
DAPHNE = Server(
    "daphne", Interface.ASGI, _daphne, ("daphne",), True, "close 4401", imports_object=True
)
GUNICORN_UVICORN = Server(
    "gunicorn-uvicorn",
    Interface.ASGI,
    _gunicorn("uvicorn_worker.UvicornWorker"),
    ("gunicorn", "uvicorn_worker"),
    False,
    "HTTP 401",
)
GUNICORN_SYNC = Server("gunicorn-sync", Interface.WSGI, _gunicorn("sync"), ("gunicorn",), False)
GUNICORN_GTHREAD = Server(
    "gunicorn-gthread", Interface.WSGI, _gunicorn("gthread", "--threads", "4"), ("gunicorn",), False
)
WAITRESS = Server("waitress", Interface.WSGI, _waitress, ("waitress",), True)
GRANIAN_WSGI = Server("granian-wsgi", Interface.WSGI, _granian(Interface.WSGI), ("granian",), False)

ASGI_SERVERS = (UVICORN, HYPERCORN, HYPERCORN_TRIO, GRANIAN, DAPHNE, GUNICORN_UVICORN)
WSGI_SERVERS = (GUNICORN_SYNC, GUNICORN_GTHREAD, WAITRESS, GRANIAN_WSGI)


@dataclasses.dataclass(frozen=True)
class App:
    """A framework's app: ``tests.matrix.apps.<module>:<factory>``."""

    name: str
    module: str
    factory: str
    interface: Interface
    requires: tuple[str, ...]
    #: How the app adds idleguard, as its users write it.
    wiring: str
    websockets: bool = False
    guard: Guard = Guard.MIDDLEWARE
    #: Whether the framework reads the whole body before the view runs.
    buffers_uploads: bool = False
    #: Whether idleguard's own endpoints (``/_idleguard/...``) are reachable in it.
    serves_client: bool = True

    @property
    def target(self) -> str:
        return f"tests.matrix.apps.{self.module}:{self.factory}"


ASGI, WSGI = Interface.ASGI, Interface.WSGI
STARLETTE = App(
    "starlette", "starlette_app", "asgi", ASGI, ("starlette",), "`Middleware(IdleGuard, ...)`", True
)
FASTAPI = App(
    "fastapi",
    "fastapi_app",
    "asgi",
    ASGI,
    ("fastapi",),
    "`app.add_middleware(IdleGuard, ...)`",
    True,
)
LITESTAR = App(
    "litestar",
    "litestar_app",
    "asgi",
    ASGI,
    ("litestar",),
    "`DefineMiddleware(IdleGuard, store=URL)`",
    True,
    # Litestar runs an app's middleware for the routes it has, never for a path it does not
    # route: idleguard's endpoints behind DefineMiddleware answer Litestar's 404.
    serves_client=False,
)
LITESTAR_ONE_STORE = dataclasses.replace(
    LITESTAR,
    name="litestar-one-store",
    factory="asgi_one_store",
    wiring="`DefineMiddleware(IdleGuard, store=one_store_object)`",
)
LITESTAR_WRAPPED = dataclasses.replace(
    LITESTAR,
    name="litestar-wrapped",
    factory="asgi_wrapped",
    wiring="`IdleGuard(Litestar(...))`",
    serves_client=True,
)
QUART = App(
    "quart",
    "quart_app",
    "asgi",
    ASGI,
    ("quart",),
    "`app.asgi_app = IdleGuard(app.asgi_app, ...)`",
    True,
)
FALCON_ASGI = App(
    "falcon-asgi", "falcon_app", "asgi", ASGI, ("falcon",), "`IdleGuard(falcon.asgi.App())`", True
)
FALCON_WSGI = App(
    "falcon-wsgi", "falcon_app", "wsgi", WSGI, ("falcon",), "`IdleGuardWSGI(falcon.App())`"
)
FLASK = App(
    "flask", "flask_app", "wsgi", WSGI, ("flask",), "`idleguard.integrations.flask.IdleGuard(app)`"
)
PYRAMID = App(
    "pyramid", "pyramid_app", "wsgi", WSGI, ("pyramid",), "`IdleGuardWSGI(config.make_wsgi_app())`"
)
BOTTLE = App(
    "bottle",
    "bottle_app",
    "wsgi",
    WSGI,
    ("bottle",),
    "`IdleGuardWSGI(bottle.Bottle())`",
    buffers_uploads=True,  # request.body reads the whole input into a buffer on first use
)
DJANGO_MIDDLEWARE_WSGI = App(
    "django-middleware",
    "django_app",
    "wsgi_middleware",
    WSGI,
    ("django",),
    "`IdleGuardMiddleware` in `MIDDLEWARE`",
    guard=Guard.DJANGO_MIDDLEWARE,
)
DJANGO_MIDDLEWARE_ASGI = dataclasses.replace(
    DJANGO_MIDDLEWARE_WSGI,
    factory="asgi_middleware",
    interface=ASGI,
    buffers_uploads=True,  # Django's ASGI handler reads the body before anything else runs
)
DJANGO_WSGI = App(
    "django-wsgi",
    "django_app",
    "wsgi_wrapped",
    WSGI,
    ("django",),
    "`IdleGuardWSGI(get_wsgi_application())`",
)
DJANGO_ASGI = App(
    "django-asgi",
    "django_app",
    "asgi_wrapped",
    ASGI,
    ("django",),
    "`IdleGuard(get_asgi_application())`",
    buffers_uploads=True,
)


@dataclasses.dataclass(frozen=True)
class Bug:
    """An idleguard bug a cell shows: a short name for the table, and what goes wrong."""

    name: str
    reason: str


WEBSOCKET_TESTS = (
    "test_websocket_echoes_for_a_live_session",
    "test_websocket_refused_at_connect_for_an_expired_session",
    "test_websocket_closed_when_the_session_ends",
    "test_websocket_closed_on_sign_out",
)
#: The tests that sign a user in, for a bug that breaks every one of them.
SIGNING_IN = (
    "test_signed_in_user_is_current",
    "test_passive_poll_does_not_extend",
    "test_idle_expiry_answers_an_api_client_with_401",
    "test_idle_expiry_sends_a_browser_to_sign_in",
    "test_signed_out_cookie_is_refused_when_replayed",
    "test_slow_upload",
    "test_slow_download",
    "test_expiry_is_reported_once",
    "test_server_shuts_down_cleanly",
    *WEBSOCKET_TESTS,
)


@dataclasses.dataclass(frozen=True)
class Cell:
    """One app on one server; ``quick`` cells run in every test run, the rest in ``make matrix``."""

    server: Server
    app: App
    quick: bool = False
    workers: int = 1
    redis: bool = False
    #: Test name -> the idleguard bug that makes it fail in this cell (a strict xfail).
    bugs: Mapping[str, Bug] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        assert self.server.interface is self.app.interface, self

    @property
    def id(self) -> str:
        suffix = f"-{self.workers}workers" if self.workers > 1 else ""
        return f"{self.server.name}-{self.app.name}{suffix}{'-redis' if self.redis else ''}"

    @property
    def requires(self) -> tuple[str, ...]:
        return (*self.server.requires, *self.app.requires)

    @property
    def websockets(self) -> bool:
        return self.server.refusal is not None and self.app.websockets

    def bug_in(self, test: str) -> str | None:
        """Why ``test`` fails in this cell, when an idleguard bug makes it."""
        bug = self.bugs.get(test)
        return bug.reason if bug is not None else None

    @property
    def upload(self) -> tuple[Outcome, bool]:
        """What a slow upload comes to, and whether the app read it while it arrived."""
        server_buffers = self.server.buffers_uploads
        streamed = not (server_buffers or self.app.buffers_uploads)
        if server_buffers:
            return Outcome.REFUSED, streamed
        if self.app.guard is Guard.DJANGO_MIDDLEWARE:
            # Under ASGI Django has read the body before its middleware runs.
            if self.app.interface is Interface.ASGI:
                return Outcome.REFUSED, streamed
            return Outcome.NOT_EXTENDED, streamed
        return Outcome.KEPT_ALIVE, streamed

    @property
    def download(self) -> Outcome:
        """What a slow download comes to."""
        if self.app.guard is Guard.DJANGO_MIDDLEWARE:
            return Outcome.NOT_EXTENDED
        return Outcome.KEPT_ALIVE


def _failing(bug: Bug, *tests: str) -> dict[str, Bug]:
    return dict.fromkeys(tests, bug)


def _cells() -> Sequence[Cell]:
    return [
        # The reference apps on every server.
        Cell(UVICORN, STARLETTE, quick=True),
        Cell(HYPERCORN, STARLETTE),
        Cell(
            HYPERCORN_TRIO,
            STARLETTE,
        ),
        Cell(GRANIAN, STARLETTE),
        Cell(DAPHNE, STARLETTE),
        Cell(GUNICORN_UVICORN, STARLETTE),
        Cell(GUNICORN_SYNC, FLASK, quick=True),
        Cell(GUNICORN_GTHREAD, FLASK),
        Cell(WAITRESS, FLASK),
        Cell(GRANIAN_WSGI, FLASK),
        # Several processes on one Redis, sync (Flask) and async (Starlette, with WebSockets).
        Cell(GUNICORN_SYNC, FLASK, workers=2, redis=True),
        Cell(GUNICORN_UVICORN, STARLETTE, workers=2, redis=True),
        Cell(HYPERCORN_TRIO, STARLETTE, redis=True),
        # Each ASGI framework on uvicorn and on one more server, in rotation.
        Cell(UVICORN, FASTAPI),
        Cell(HYPERCORN, FASTAPI),
        Cell(UVICORN, LITESTAR),
        Cell(UVICORN, LITESTAR_ONE_STORE),
        Cell(GRANIAN, LITESTAR_ONE_STORE),
        Cell(UVICORN, LITESTAR_WRAPPED),
        Cell(UVICORN, QUART),
        Cell(HYPERCORN, QUART),
        Cell(UVICORN, FALCON_ASGI),
        Cell(DAPHNE, FALCON_ASGI),
        # Each WSGI framework on gunicorn's sync worker and on waitress or granian.
        Cell(GUNICORN_SYNC, FALCON_WSGI),
        Cell(WAITRESS, FALCON_WSGI),
        Cell(GUNICORN_SYNC, PYRAMID),
        Cell(WAITRESS, PYRAMID),
        Cell(GUNICORN_SYNC, BOTTLE),
        Cell(GRANIAN_WSGI, BOTTLE),
        # Django: its own middleware, and its application objects wrapped.
        Cell(GUNICORN_SYNC, DJANGO_MIDDLEWARE_WSGI, quick=True),
        Cell(DAPHNE, DJANGO_MIDDLEWARE_ASGI),
        Cell(GUNICORN_SYNC, DJANGO_WSGI),
        Cell(WAITRESS, DJANGO_WSGI),
        Cell(UVICORN, DJANGO_ASGI),
        Cell(DAPHNE, DJANGO_ASGI),
    ]


CELLS: Sequence[Cell] = _cells()


BUGGED = "(bug)"


def markdown_table() -> str:
    """The matrix as docs/compatibility.md shows it: one row per cell, what it comes to."""
    rows = [
        "| server | app | how idleguard is added | slow upload | slow download "
        "| WebSocket refused at connect | socket when the session ends | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for cell in CELLS:
        upload, streamed = cell.upload
        if upload is Outcome.KEPT_ALIVE and not streamed:
            upload_text = "kept alive (the framework buffers)"
        elif upload is Outcome.REFUSED:
            upload_text = f"{upload.value} ({'server' if cell.server.buffers_uploads else 'framework'} buffers)"
        else:
            upload_text = upload.value
        server = cell.server.name
        if cell.workers > 1:
            server += f", {cell.workers} workers"
        if cell.redis:
            server += ", Redis"
        download_text = cell.download.value
        refusal = cell.server.refusal if cell.websockets else "—"
        ended = "close 4401" if cell.websockets else "—"
        # What a bug stops a cell from showing is not claimed for it.
        if "test_slow_upload" in cell.bugs:
            upload_text = BUGGED
        if "test_slow_download" in cell.bugs:
            download_text = BUGGED
        if "test_websocket_refused_at_connect_for_an_expired_session" in cell.bugs:
            refusal = BUGGED
        if "test_websocket_closed_when_the_session_ends" in cell.bugs:
            ended = BUGGED
        names = sorted({bug.name for bug in cell.bugs.values()})
        result = f"{len(cell.bugs)} xfail: {'; '.join(names)}" if names else "passes"
        if cell.quick:
            result += " (quick)"
        rows.append(
            f"| {server} | {cell.app.name} | {cell.app.wiring} | {upload_text} "
            f"| {download_text} | {refusal} | {ended} | {result} |"
        )
    return "\n".join(rows) + "\n"
