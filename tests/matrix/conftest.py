"""Each test runs once per cell that can run it; each cell's server starts once for all of them.

Only the quick cells run by default; ``IDLEGUARD_MATRIX=full`` (``make matrix``) runs
every cell. A cell whose server or framework is missing is skipped loudly, or fails under
``IDLEGUARD_REQUIRE_SERVERS=1``, like the suite's other servers.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from ..servers import ServerUnavailable, unavailable
from .cells import CELLS, Cell
from .deploy import AppServer, missing_modules

FULL = os.environ.get("IDLEGUARD_MATRIX") == "full"
_prefixes = itertools.count()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "deployed" not in metafunc.fixturenames:
        return
    needs = {need for marker in metafunc.definition.iter_markers("needs") for need in marker.args}
    cells = [cell for cell in CELLS if "websockets" not in needs or cell.websockets]
    if "workers" in needs:
        cells = [cell for cell in cells if cell.workers > 1]
    name = metafunc.definition.originalname
    params = []
    for cell in cells:
        marks = [pytest.mark.redis] if cell.redis else []
        bug = cell.bug_in(name)
        if bug is not None:
            marks.append(pytest.mark.xfail(strict=True, reason=bug))
        params.append(pytest.param(cell, id=cell.id, marks=marks))
    # Module scope: the tests of one cell run together, against one server.
    metafunc.parametrize("deployed", params, indirect=True, scope="module")


@pytest.hookimpl(trylast=True)  # after pytest's own reordering, which can split a cell
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not FULL:
        deselected = [item for item in items if not _quick(item)]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = [item for item in items if _quick(item)]
    # A cell's tests run one after another, so its server starts once: pytest keeps a
    # module-scoped fixture only while the next test asks for the same cell. A test that
    # stops the server comes last in its cell.
    slots = [index for index, item in enumerate(items) if _cell_of(item) is not None]
    ordered = sorted(
        (items[index] for index in slots),
        key=lambda item: (
            CELLS.index(_cell_of(item)),
            item.get_closest_marker("stops_server") is not None,
        ),
    )
    for index, item in zip(slots, ordered, strict=True):
        items[index] = item


def _cell_of(item: pytest.Item) -> Cell | None:
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    cell = params.get("deployed")
    return cell if isinstance(cell, Cell) else None


def _quick(item: pytest.Item) -> bool:
    cell = _cell_of(item)
    return cell is None or cell.quick


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs(*what): the cells this test runs in must have it")
    config.addinivalue_line("markers", "stops_server: runs last in its cell, and stops its server")


@pytest.fixture(scope="module")
def deployed(request: pytest.FixtureRequest) -> Iterator[AppServer]:
    """The cell's app on the cell's server, started once for the cell's tests."""
    cell: Cell = request.param
    missing = missing_modules(cell)
    if missing:
        error = ServerUnavailable(
            f"{', '.join(missing)} not installed (pip install -e '.[matrix]')"
        )
        unavailable(f"{cell.server.name} serving {cell.app.name}", error)
    store = "memory://"
    if cell.redis:
        redis_url: str = request.getfixturevalue("redis_url")
        store = f"{redis_url}?key_prefix=matrix{next(_prefixes)}:"
    server = AppServer(cell, store)
    try:
        server.start()
    except ServerUnavailable as error:
        # Everything it needs is installed: a server that will not start is a failure.
        server.close()
        pytest.fail(f"{cell.id}: {error}", pytrace=False)
    try:
        yield server
    finally:
        server.close()
