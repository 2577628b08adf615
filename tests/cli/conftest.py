"""Run the ``idleguard`` command in-process, in an environment of the test's own making.

``idleguard`` reads ``IDLEGUARD_*`` variables, so each test starts with none of them
(CI sets ``IDLEGUARD_REQUIRE_SERVERS``); a test sets what it needs with ``monkeypatch``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from idleguard.cli import main

from . import shared  # noqa: F401 - registers the shared-memory:// scheme


@dataclasses.dataclass
class Ran:
    """What one run of the command did."""

    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Idleguard = Callable[..., Ran]


@pytest.fixture(autouse=True)
def no_idleguard_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("IDLEGUARD_"):
            monkeypatch.delenv(name)


@pytest.fixture
def idleguard(capsys: pytest.CaptureFixture[str]) -> Idleguard:
    """``idleguard(*argv)``: run the command line, return its status and what it printed."""

    def run(*argv: str) -> Ran:
        capsys.readouterr()
        status = main(list(argv))
        captured = capsys.readouterr()
        return Ran(status, captured.out, captured.err)

    return run
