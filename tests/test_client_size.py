"""The browser client loads on every page: it stays within its size budget."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import idleguard

CLIENT = Path(idleguard.__file__).parent / "static" / "idleguard.js"
#: Bytes, gzipped, of the client without its comments and indentation.
BUDGET = 6 * 1024


def without_comments(source: str) -> str:
    """The script less what any minifier removes first: comments and indentation.

    The project has no JavaScript minifier to run; this lower bound of what
    one saves keeps the budget honest without one. The client's strings hold
    no ``/*`` and no line starting with ``//``.
    """
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    lines = (line.strip() for line in source.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//"))


def test_the_client_stays_within_its_budget() -> None:
    source = CLIENT.read_text(encoding="utf-8")
    size = len(gzip.compress(without_comments(source).encode(), 9))
    assert size <= BUDGET, f"idleguard.js is {size} bytes gzipped, over its {BUDGET}"
