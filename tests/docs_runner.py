"""Run one Python block of the documentation, as a reader would: tests/test_docs.py starts it.

It runs as ``python -c <this file's text> MODULE KIND NAME`` in a fresh
interpreter whose working directory is a temporary one holding ``MODULE.py``,
the block as the page shows it. ``-c`` rather than a script path: the path then
starts with that directory, as it does for ``uvicorn app:app``, and nothing of
this repository but ``idleguard`` can be imported. It imports the module, then,
by ``KIND``:

``asgi``, ``wsgi``
    ``MODULE.NAME`` is the app the page says to serve, and must be one of that
    kind. Through an in-process client (httpx's ``ASGITransport`` or
    ``WSGITransport``, over ``https://localhost``, keeping cookies), idleguard's
    ``status`` endpoint must answer ``200`` (the app is guarded); then every
    route the app declares (FastAPI, Starlette, Flask, Django) is requested
    with each of its methods, in the order declared, twice (the second time
    after any sign-in the first made). Every answer must be below ``500``, and
    the local ``<script src>`` of an HTML answer (the browser client) must load.
``tests``
    Each ``test_*`` function of the module is called (a page that says
    ``pytest test_app.py``).
``module``
    Importing it is the whole run.

It prints one line per request and exits non-zero on the first failure.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

import httpx

BASE_URL = "https://localhost"
STATUS = "/_idleguard/status"
#: Methods a route is requested with; HEAD and OPTIONS come with GET and CORS.
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
#: A path parameter in any of the frameworks' spellings: ``{id}``, ``<int:id>``.
PARAMETER = re.compile(r"\{[^}]*\}|<[^>]*>")
SCRIPT = re.compile(r"""<script\b[^>]*\bsrc=["'](/[^"']*)["']""")


class BlockFailed(Exception):
    """The block did something a reader's app must not."""


def main(module_name: str, kind: str, served: str) -> None:
    module = importlib.import_module(module_name)
    if kind == "tests":
        run_tests(module)
    elif kind in ("asgi", "wsgi"):
        app = getattr(module, served, None)
        if app is None:
            raise BlockFailed(
                f"the page serves {module_name}:{served}; the block defines no {served}"
            )
        if is_asgi(app) != (kind == "asgi"):
            raise BlockFailed(f"{module_name}:{served} is not a {kind.upper()} app")
        requests = [("GET", STATUS), *list(routes(app)) * 2]
        if kind == "asgi":
            asyncio.run(walk_asgi(app, requests))
        else:
            walk_wsgi(app, requests)
    elif kind != "module":
        raise BlockFailed(f"unknown kind {kind!r}")


def run_tests(module: Any) -> None:
    tests = [
        function
        for name, function in vars(module).items()
        if name.startswith("test_") and inspect.isfunction(function)
    ]
    if not tests:
        raise BlockFailed("the page runs it with pytest, but it has no test_* function")
    for test in tests:
        if inspect.signature(test).parameters:
            raise BlockFailed(f"{test.__name__} takes fixtures: the docs' tests stand alone")
        result = test()
        if inspect.iscoroutine(result):
            asyncio.run(result)
        print(f"{test.__name__} passed")


def is_asgi(app: Any) -> bool:
    """An ASGI app is a coroutine function, or an object whose ``__call__`` is one."""
    return inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(type(app).__call__)


def routes(app: Any) -> Iterator[tuple[str, str]]:
    """``(method, path)`` for each route ``app`` declares, in the order declared."""
    target = app
    while not hasattr(target, "url_map") and not hasattr(target, "routes"):
        if not hasattr(target, "app"):
            break
        target = target.app  # a middleware: the app it wraps
    if hasattr(target, "url_map"):  # Flask
        declared = [
            (rule.rule, rule.methods or set())
            for rule in target.url_map.iter_rules()
            if rule.endpoint != "static"
        ]
    elif hasattr(target, "routes"):  # Starlette, FastAPI
        declared = [
            (route.path, route.methods)
            for route in target.routes
            if getattr(route, "methods", None)  # not a WebSocket route or a Mount
        ]
    elif "django" in sys.modules:
        declared = list(django_routes())
    else:
        declared = []
    for path, methods in declared:
        for method in sorted(set(methods) - SKIPPED_METHODS, key=lambda m: (m != "GET", m)):
            yield method, PARAMETER.sub("1", path)


def django_routes() -> Iterator[tuple[str, set[str]]]:
    from django.urls import URLPattern, URLResolver, get_resolver
    from django.urls.resolvers import RoutePattern

    def walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, set[str]]]:
        for pattern in patterns:
            if not isinstance(pattern.pattern, RoutePattern):
                continue  # a regular expression: no path to request
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                # Django routes every method to a view; the view answers 405 if it must.
                yield route, {"GET", "POST"}

    yield from walk(get_resolver().url_patterns, "/")


async def walk_asgi(app: Any, requests: list[tuple[str, str]]) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:

        async def send(method: str, path: str) -> httpx.Response:
            return await client.request(method, path, headers={"accept": "text/html"})

        for method, path in requests:
            response = await send(method, path)
            check(method, path, response)
            for script in scripts(response):
                check_script(script, await send("GET", script))


def walk_wsgi(app: Callable[..., Any], requests: list[tuple[str, str]]) -> None:
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url=BASE_URL) as client:
        for method, path in requests:
            response = client.request(method, path, headers={"accept": "text/html"})
            check(method, path, response)
            for script in scripts(response):
                check_script(script, client.get(script))


def check(method: str, path: str, response: httpx.Response) -> None:
    print(f"{method} {path} -> {response.status_code}")
    if response.status_code >= 500:
        raise BlockFailed(
            f"{method} {path} answered {response.status_code}: {response.text[:2000]}"
        )
    if path == STATUS and response.status_code != 200:
        raise BlockFailed(f"GET {STATUS} answered {response.status_code}: is the app guarded?")


def scripts(response: httpx.Response) -> list[str]:
    if not response.headers.get("content-type", "").startswith("text/html"):
        return []
    return SCRIPT.findall(response.text)


def check_script(path: str, response: httpx.Response) -> None:
    print(f"GET {path} (script) -> {response.status_code}")
    if response.status_code != 200 or "javascript" not in response.headers.get("content-type", ""):
        raise BlockFailed(f"the page's <script src={path!r}> does not load: {response.status_code}")


if __name__ == "__main__":
    try:
        main(*sys.argv[1:4])
    except BlockFailed as failure:
        sys.exit(f"docs block failed: {failure}")
