"""The documentation: the site builds in strict mode, and every code block in it runs or compiles.

A block is either included from a tested file (``--8<-- "path:section"``),
Python that this test compiles (top-level ``await`` allowed, as in a REPL) and
runs when the line before it is ``<!-- runnable -->``, or ``text``: output
shown to the reader, with nothing to run. Other languages are checked by what
checks them cheaply: shell commands must name a tool the project documents,
JavaScript must parse (``node --check``), JSON and TOML must load, SQL must be
complete statements, HTML must parse.
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

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

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
    assert language in CHECKERS or language in ("python", "text"), (
        f"unchecked language {language!r}"
    )
    if language in CHECKERS:
        assert not runnable
        CHECKERS[language](code)
        return
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


#: Commands a shell block may run: the project's own and the tools its docs tell users about.
COMMANDS = {
    "make",
    "pip",
    "python",
    "python3",
    "idleguard",
    "uvicorn",
    "gunicorn",
    "flask",
    "export",
    "cd",
    "curl",
    "redis-cli",
    "psql",
    "npx",
    "node",
}


def _check_shell(code: str, prompted: bool) -> None:
    for line in code.splitlines():
        stripped = line.strip()
        if prompted:
            if not stripped.startswith("$ "):
                continue  # output
            stripped = stripped[2:]
        if not stripped or stripped.startswith("#"):
            continue
        words = [word for word in stripped.split() if "=" not in word.split("/")[0]]
        assert words, line
        assert words[0] in COMMANDS, f"unknown command in docs: {line!r}"


def _check_javascript(code: str) -> None:
    import shutil
    import tempfile

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: JavaScript blocks are not checked")
    with tempfile.NamedTemporaryFile("w", suffix=".mjs", delete=False) as handle:
        handle.write(code)
    try:
        result = subprocess.run([node, "--check", handle.name], capture_output=True, text=True)
    finally:
        os.unlink(handle.name)
    assert result.returncode == 0, result.stderr


def _check_html(code: str) -> None:
    from html.parser import HTMLParser

    parser = HTMLParser()
    parser.feed(code)
    parser.close()
    assert "<" in code


def _check_sql(code: str) -> None:
    import sqlite3

    assert sqlite3.complete_statement(code), "SQL blocks must be complete statements"


def _check_json(code: str) -> None:
    import json

    json.loads(code)


def _check_toml(code: str) -> None:
    tomllib.loads(code)


CHECKERS = {
    "console": lambda code: _check_shell(code, prompted=True),
    "shell": lambda code: _check_shell(code, prompted=False),
    "bash": lambda code: _check_shell(code, prompted=False),
    "js": _check_javascript,
    "javascript": _check_javascript,
    "html": _check_html,
    "sql": _check_sql,
    "json": _check_json,
    "toml": _check_toml,
}


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
