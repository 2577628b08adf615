"""The apps the suite times: bare Starlette and Flask, idleguard over each store, and the peers.

Every variant is built the same way: an app with ``/login``, which starts a
session the variant's own way, and ``/``, the page the timed requests ask
for. The suite signs in once, keeps the cookie the app set, and sends it on
every timed request, so each one carries a live session that is read and,
where the variant can, has its expiry extended:

* idleguard checks the session in the middleware (and extends it once per
  ``touch_interval``); the page is the bare one.
* Peers keep the user in the session, so their page reads it from there;
  each is configured to extend the session's lifetime on every request
  (starsessions ``rolling=True``, Flask's permanent session refreshed on each
  request, Flask-Session's the same, Beaker's saved access time).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterable
from typing import Any

import flask
import redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

import idleguard
from idleguard import IdleGuard, IdleGuardWSGI, Policy
from idleguard.asgi import ASGIApp
from idleguard.wsgi import WSGIApp

__all__ = [
    "POLICY",
    "SECRET",
    "asgi_request",
    "asgi_variants",
    "wsgi_request",
    "wsgi_variants",
]

SECRET = "benchmark-secret-0123456789abcdefghijkl"
POLICY = Policy(idle_timeout=1800, absolute_timeout=8 * 3600)
LIFETIME = 1800
#: What a browser sends besides the cookie; idleguard reads some of these.
BROWSER_HEADERS = (
    ("host", "example.com"),
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0"),
    ("accept", "application/json"),
    ("accept-encoding", "gzip, deflate, br"),
    ("accept-language", "en-GB,en;q=0.9"),
)


# -- requests ------------------------------------------------------------------
def asgi_scope(path: str, cookie: str | None, method: str = "GET") -> dict[str, Any]:
    headers = [(name.encode(), value.encode()) for name, value in BROWSER_HEADERS]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("example.com", 443),
    }


def wsgi_environ(path: str, cookie: str | None, method: str = "GET") -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "example.com",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in BROWSER_HEADERS:
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    return environ


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def asgi_request(app: ASGIApp, cookie: str | None) -> Callable[[], Any]:
    """A zero-argument coroutine function: one GET / with ``cookie``."""
    scope = asgi_scope("/", cookie)
    statuses: list[int] = []

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            statuses.append(message["status"])

    async def request() -> None:
        await app(dict(scope), _receive, send)
        if statuses:
            raise RuntimeError(f"GET / answered {statuses[0]}: the session is not live")

    return request


def _start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
    if not status.startswith("200"):
        raise RuntimeError(f"GET / answered {status}: the session is not live")
    return None


def wsgi_request(app: WSGIApp, cookie: str | None) -> Callable[[], None]:
    """A zero-argument function: one GET / with ``cookie``."""
    environ = wsgi_environ("/", cookie)

    def request() -> None:
        body = app(dict(environ), _start_response)
        for _chunk in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()

    return request


def _cookie_header(set_cookies: Iterable[str]) -> str:
    """What a browser sends back: ``name=value`` of every cookie set (and not cleared)."""
    pairs = []
    for line in set_cookies:
        pair = line.split(";", 1)[0].strip()
        if "max-age=0" not in line.lower() and pair.split("=", 1)[1] not in ("", "''"):
            pairs.append(pair)
    return "; ".join(pairs)


def asgi_login(app: ASGIApp, loop: asyncio.AbstractEventLoop) -> str:
    """Sign in through ``/login``; the cookie header for later requests."""
    set_cookies: list[str] = []

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start":
            for name, value in message.get("headers", []):
                if name.lower() == b"set-cookie":
                    set_cookies.append(value.decode("latin-1"))

    loop.run_until_complete(app(asgi_scope("/login", None, "POST"), _receive, send))
    return _cookie_header(set_cookies)


def wsgi_login(app: WSGIApp) -> str:
    set_cookies: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        set_cookies.extend(value for name, value in headers if name.lower() == "set-cookie")
        return None

    body = app(wsgi_environ("/login", None, "POST"), start_response)
    for _chunk in body:
        pass
    close = getattr(body, "close", None)
    if close is not None:
        close()
    return _cookie_header(set_cookies)


# -- ASGI ----------------------------------------------------------------------
async def _ok(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _idleguard_login(request: Request) -> Response:
    idleguard.begin(request, subject="user")
    return PlainTextResponse("signed in")


async def _session_login(request: Request) -> Response:
    request.session["user"] = "user"
    return PlainTextResponse("signed in")


async def _session_page(request: Request) -> Response:
    if request.session.get("user") != "user":
        return PlainTextResponse("no session", status_code=401)
    return PlainTextResponse("ok")


def starlette_app(
    login: Callable[[Request], Any] = _idleguard_login,
    page: Callable[[Request], Any] = _ok,
    middleware: Iterable[Middleware] = (),
) -> Starlette:
    return Starlette(
        routes=[Route("/", page), Route("/login", login, methods=["POST"])],
        middleware=list(middleware),
    )


class PassThrough:
    """The floor: a pure ASGI middleware that only calls the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def local_decisions(url: str) -> str:
    """The Redis URL with live sessions decided in-process (`stores/local.py`)."""
    return url + ("&" if "?" in url else "?") + "local_decisions=1"


def guarded_asgi(store: Any, **options: Any) -> ASGIApp:
    return IdleGuard(
        starlette_app(), secret_key=SECRET, policy=POLICY, store=store, login_url=None, **options
    )


def starlette_sessions() -> ASGIApp:
    from starlette.middleware.sessions import SessionMiddleware

    return starlette_app(
        _session_login,
        _session_page,
        [Middleware(SessionMiddleware, secret_key=SECRET, max_age=LIFETIME, https_only=True)],
    )


def starsessions_app(store: Any) -> ASGIApp:
    from starsessions import SessionAutoloadMiddleware, SessionMiddleware

    return starlette_app(
        _session_login,
        _session_page,
        [
            Middleware(SessionMiddleware, store=store, lifetime=LIFETIME, rolling=True),
            Middleware(SessionAutoloadMiddleware),
        ],
    )


def _with_client(make: Callable[[Any], Any], store: Callable[..., Any], client: Any) -> Any:
    """The app, holding its Redis client as ``bench_client`` so the suite can close it."""
    app = make(store(connection=client))
    app.bench_client = client
    return app


#: name -> (build the app, the server it uses or None)
AsgiFactory = Callable[[dict[str, str]], ASGIApp]


def asgi_variants(urls: dict[str, str]) -> dict[str, tuple[AsgiFactory, str | None, bool]]:
    """ASGI variants: name -> (factory over the server URLs, server, is a peer)."""
    from starsessions.stores.memory import InMemoryStore
    from starsessions.stores.redis import RedisStore as StarRedisStore

    variants: dict[str, tuple[AsgiFactory, str | None, bool]] = {
        "starlette bare": (lambda _: starlette_app(), None, False),
        "pass-through middleware": (lambda _: PassThrough(starlette_app()), None, False),
        "idleguard memory": (lambda _: guarded_asgi("memory://"), None, False),
        "idleguard signed cookie": (lambda _: guarded_asgi("cookie://"), None, False),
        "idleguard redis (async)": (lambda u: guarded_asgi(u["redis"]), "redis", False),
        "idleguard redis, local decisions (async)": (
            lambda u: guarded_asgi(local_decisions(u["redis"])),
            "redis",
            False,
        ),
        "idleguard sqlite (async)": (lambda u: guarded_asgi(u["sqlite"]), None, False),
        "idleguard postgresql (async)": (
            lambda u: guarded_asgi(u["postgresql"]),
            "postgresql",
            False,
        ),
        "starlette SessionMiddleware": (lambda _: starlette_sessions(), None, True),
        "starsessions memory": (lambda _: starsessions_app(InMemoryStore()), None, True),
        "starsessions redis": (
            lambda u: _with_client(
                starsessions_app, StarRedisStore, redis.asyncio.Redis.from_url(u["redis"])
            ),
            "redis",
            True,
        ),
    }
    return variants


# -- WSGI ----------------------------------------------------------------------
def flask_app(session_page: bool) -> flask.Flask:
    app = flask.Flask("bench")
    app.secret_key = SECRET
    app.config["PERMANENT_SESSION_LIFETIME"] = LIFETIME

    @app.post("/login")
    def login() -> str:
        if session_page:
            flask.session.permanent = True
            flask.session["user"] = "user"
        else:
            idleguard.begin(flask.request, subject="user")
        return "signed in"

    @app.get("/")
    def page() -> tuple[str, int]:
        if session_page and flask.session.get("user") != "user":
            return "no session", 401
        return "ok", 200

    return app


def guarded_wsgi(store: Any) -> WSGIApp:
    return IdleGuardWSGI(
        flask_app(False).wsgi_app, secret_key=SECRET, policy=POLICY, store=store, login_url=None
    )


def flask_session_redis(url: str) -> WSGIApp:
    from flask_session import Session

    app = flask_app(True)
    app.config["SESSION_TYPE"] = "redis"
    client = redis.Redis.from_url(url)
    app.config["SESSION_REDIS"] = client
    app.config["SESSION_PERMANENT"] = True
    Session(app)
    wsgi = _Closable(app.wsgi_app)
    wsgi.bench_client = client
    return wsgi


class _Closable:
    """A WSGI app that holds the client it opened, so the suite can close it."""

    bench_client: Any = None

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


def beaker_memory() -> WSGIApp:
    from beaker.middleware import SessionMiddleware

    app = flask.Flask("bench-beaker")

    @app.post("/login")
    def login() -> str:
        session = flask.request.environ["beaker.session"]
        session["user"] = "user"
        session.save()
        return "signed in"

    @app.get("/")
    def page() -> tuple[str, int]:
        if flask.request.environ["beaker.session"].get("user") != "user":
            return "no session", 401
        return "ok", 200

    options = {"session.type": "memory", "session.timeout": LIFETIME, "session.key": "beaker"}
    return SessionMiddleware(app.wsgi_app, options)  # type: ignore[no-any-return]


WsgiFactory = Callable[[dict[str, str]], WSGIApp]


def wsgi_variants(urls: dict[str, str]) -> dict[str, tuple[WsgiFactory, str | None, bool]]:
    """WSGI variants: name -> (factory over the server URLs, server, is a peer)."""
    return {
        "flask bare": (lambda _: flask_app(False).wsgi_app, None, False),
        "idleguard memory": (lambda _: guarded_wsgi("memory://"), None, False),
        "idleguard redis (sync)": (lambda u: guarded_wsgi(u["redis"]), "redis", False),
        "idleguard redis, local decisions (sync)": (
            lambda u: guarded_wsgi(local_decisions(u["redis"])),
            "redis",
            False,
        ),
        "flask cookie session": (lambda _: flask_app(True).wsgi_app, None, True),
        "flask-session redis": (lambda u: flask_session_redis(u["redis"]), "redis", True),
        "beaker memory": (lambda _: beaker_memory(), None, True),
    }
