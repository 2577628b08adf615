"""The matrix's own bookkeeping: the documented table is the tested one, and cells are sound."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from .cells import CELLS, SIGNING_IN, markdown_table
from .deploy import missing_modules

pytestmark = pytest.mark.matrix

DOCS = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"
START, END = "<!-- matrix:start -->\n", "<!-- matrix:end -->"


def test_the_documented_table_is_the_matrix() -> None:
    text = DOCS.read_text(encoding="utf-8")
    documented = text[text.index(START) + len(START) : text.index(END)]
    assert documented.strip() == markdown_table().strip(), (
        "docs/compatibility.md's table differs from tests/matrix/cells.py; it should read:\n"
        + markdown_table()
    )


def test_cell_ids_are_unique() -> None:
    ids = [cell.id for cell in CELLS]
    assert len(ids) == len(set(ids))


def test_a_bug_names_only_tests_that_exist() -> None:
    from . import test_matrix

    for cell in CELLS:
        for name in cell.bugs:
            assert name in SIGNING_IN, (cell.id, name)
            assert hasattr(test_matrix, name), (cell.id, name)


def test_a_missing_server_is_named() -> None:
    cell = dataclasses.replace(
        CELLS[0],
        server=dataclasses.replace(CELLS[0].server, requires=("no_such_server_package",)),
    )
    assert missing_modules(cell) == ["no_such_server_package"]
