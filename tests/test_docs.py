"""The documentation: the site builds in strict mode, and every code block in it runs or compiles.

A block is either included from a tested file (``--8<-- "path:section"``),
Python that this test compiles (top-level ``await`` allowed, as in a REPL) and
runs when the line before it is ``<!-- runnable -->``, or ``text``: output
shown to the reader, with nothing to run.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(
    r"^(?P<marker><!-- runnable -->\n)?```(?P<lang>[^\n]*)\n(?P<code>.*?)^```$", re.M | re.S
)
SNIPPET = re.compile(r'^--8<-- "(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"$')


def blocks() -> list[Any]:
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start("code"))
            name = f"{page.relative_to(DOCS)}:{line}"
            found.append(
                pytest.param(
                    match.group("lang").strip(),
                    match.group("code"),
                    bool(match.group("marker")),
                    id=name,
                )
            )
    return found


@pytest.mark.parametrize(("language", "code", "runnable"), blocks())
def test_code_block(language: str, code: str, runnable: bool) -> None:
    assert language in ("python", "text"), "only Python (checked here) or text (output)"
    if language == "text":
        assert not runnable
        return
    snippet = SNIPPET.match(code.strip())
    if snippet is not None:
        # Included from a file whose own tests run it: the file and section must exist.
        source = (ROOT / snippet["path"]).read_text(encoding="utf-8")
        if snippet["section"]:
            assert f"--8<-- [start:{snippet['section']}]" in source
            assert f"--8<-- [end:{snippet['section']}]" in source
        assert not runnable
        return
    compiled = compile(code, "<docs>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if runnable:
        exec(compiled, {"__name__": "docs_example"})  # noqa: S102 - the docs' own examples


def test_every_page_is_in_the_nav() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in DOCS.rglob("*.md"):
        assert str(page.relative_to(DOCS)) in config, f"{page} is missing from mkdocs.yml's nav"


def test_site_builds_in_strict_mode(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "reference" / "index.html").is_file()
