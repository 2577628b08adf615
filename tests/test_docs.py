"""The documentation: the site builds in strict mode, and every code block in it runs or is checked.

How to write a code block in README.md or under docs/ (what this test holds every one to):

Python runs as it stands.
    A Python block is a file a reader could save and run: it has its imports,
    its secret (``os.environ["IDLEGUARD_SECRET_KEY"]``, or
    ``secrets.token_urlsafe(32)`` with a comment saying why), its user, and
    uses no name it does not define. The test saves it in a temporary
    directory and runs it there in a fresh interpreter with
    ``IDLEGUARD_SECRET_KEY`` set (``tests/docs_runner.py``).
    A block that defines an app (a top-level ``app`` or ``application``) says
    how to serve it, right above or below it: ``uvicorn app:app``,
    ``gunicorn app:app``, ``flask --app app run``; a test file says
    ``pytest test_app.py``. The block is saved under that module name; the app
    is built, and each of its routes requested in-process: no answer may be a
    ``500``, and the browser client's ``<script src>`` must load. Test files'
    ``test_*`` functions are called.
Or it is marked a fragment.
    A fragment's first line is a comment, ``# fragment: <what it needs>``
    (continued on further comment lines if need be), and it must name every
    name the block uses without defining it: ``# fragment: app is your FastAPI
    app``. Fragments are compiled (top-level ``await`` allowed, as in a REPL),
    not run. Prefer a runnable block for anything a reader copies first: the
    README's, and each quick start's main one.
Or it is included from a file whose own tests run it.
    ``--8<-- "path:section"``: the file and the section must exist.
Imports come with the page's install line.
    Every module a Python block imports (fragments too), and the tool that
    serves an app, must be installed by what the page tells the reader to
    install: the standard library, idleguard and its dependencies, the extras
    the page names (``idleguard[fastapi]``, read from pyproject.toml) and the
    packages of its ``pip install`` lines, with their own dependencies.
``text`` is output shown to the reader, with nothing to run.
Other languages are checked by what checks them cheaply.
    Shell commands must name a tool the project documents, JavaScript must
    parse (``node --check``), JSON and YAML must load, SQL must be complete
    statements, HTML must parse.
"""

from __future__ import annotations

import ast
import builtins
import functools
import os
import re
import secrets
import subprocess
import sys
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the test extra installs tomli there
    import tomli as tomllib

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
RUNNER = Path(__file__).with_name("docs_runner.py")

FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[^\n`]*)\n(?P<code>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)
HEADING = re.compile(r"^#{1,6} ", re.M)
SNIPPET = re.compile(r'^--8<-- "(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"$')
FRAGMENT = re.compile(r"\A# fragment: (?P<needs>.+(?:\n#.*)*)")
#: The marker that used to ask for a block to be run; every block runs now.
OLD_MARKER = "<!-- runnable -->"
#: Extras the page names anywhere: ``idleguard[fastapi]``, ``"idleguard[redis,sql]"``.
EXTRAS = re.compile(r"idleguard\[(?P<extras>[\w, -]+)\]")
#: What a ``pip install`` line installs, in inline code or a shell block.
PIP_INSTALL = re.compile(r"pip install (?P<arguments>[^`\n]+)")
#: How a page says to serve a block, and what that makes the block: (tool, kind, regex).
SERVE_COMMANDS = [
    ("uvicorn", "asgi", re.compile(r"\buvicorn\s+(?P<module>\w+):(?P<name>\w+)(?![\w.:])")),
    (
        "gunicorn",
        "wsgi",
        re.compile(r"\bgunicorn\s+(?P<module>\w+):(?P<name>\w+)(?P<options>[^\n`]*)"),
    ),
    ("flask", "wsgi", re.compile(r"\bflask\s+--app\s+(?P<module>\w+)(?::(?P<name>\w+))?\s+run")),
    ("pytest", "tests", re.compile(r"\bpytest\s+(?P<module>\w+)\.py")),
]
APP_NAMES = {"app", "application"}


@dataclass(frozen=True)
class Block:
    """One fenced block of a page, with the text around it (where a page says how to serve)."""

    page: Path
    line: int
    language: str
    code: str
    around: str
    marked: bool

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def page_blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    fences = list(FENCE.finditer(text))
    fenced = [(fence.start(), fence.end()) for fence in fences]
    headings = [
        heading.start()
        for heading in HEADING.finditer(text)
        if not any(start <= heading.start() < end for start, end in fenced)
    ]
    python = [fence for fence in fences if fence["lang"].strip() == "python"]
    found = []
    for fence in fences:
        # The text around a block: back to the previous Python block or heading, on to the next.
        start = max(
            [other.end() for other in python if other.end() <= fence.start()]
            + [at for at in headings if at < fence.start()]
            + [0]
        )
        end = min(
            [other.start() for other in python if other.start() >= fence.end()]
            + [at for at in headings if at > fence.end()]
            + [len(text)]
        )
        found.append(
            Block(
                page=page,
                line=text.count("\n", 0, fence.start("code")),
                language=fence["lang"].strip(),
                code=textwrap.dedent(fence["code"]),
                around=text[start : fence.start()] + text[fence.end() : end],
                marked=text[: fence.start()].rstrip().endswith(OLD_MARKER),
            )
        )
    return found


def blocks() -> list[Any]:
    return [pytest.param(block, id=block.name) for page in PAGES for block in page_blocks(page)]


@pytest.mark.parametrize("block", blocks())
def test_code_block(block: Block, tmp_path: Path) -> None:
    assert not block.marked, (
        f"{OLD_MARKER} is gone: every Python block runs unless its first line is `# fragment: ...`"
    )
    if block.language in CHECKERS:
        CHECKERS[block.language](block.code)
        return
    if block.language == "text":
        return
    assert block.language == "python", f"unchecked language {block.language!r}"
    snippet = SNIPPET.match(block.code.strip())
    if snippet is not None:
        # Included from a file whose own tests run it: the file and section must exist.
        source = (ROOT / snippet["path"]).read_text(encoding="utf-8")
        if snippet["section"]:
            assert f"--8<-- [start:{snippet['section']}]" in source
            assert f"--8<-- [end:{snippet['section']}]" in source
        return
    fragment = FRAGMENT.match(block.code)
    if fragment is not None:
        check_fragment(block, fragment["needs"])
    else:
        check_runnable(block, tmp_path)


def check_fragment(block: Block, needs: str) -> None:
    compile(block.code, block.name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    tree = ast.parse(block.code)
    check_imports(block, tree)
    unexplained = undefined_names(tree) - set(re.findall(r"\w+", needs))
    assert not unexplained, (
        f"the fragment uses {sorted(unexplained)} without defining them: "
        "say in its `# fragment:` comment what each one is"
    )


def check_runnable(block: Block, directory: Path) -> None:
    tree = ast.parse(block.code, block.name)  # a file a reader saves: no top-level await
    undefined = undefined_names(tree)
    assert not undefined, (
        f"the block uses {sorted(undefined)} without defining them: define them, "
        "or mark the block a fragment (first line `# fragment: <what it needs>`)"
    )
    check_imports(block, tree)
    defined = module_names(tree)
    serve = serve_command(block)
    if serve is None:
        assert not defined & APP_NAMES, (
            "the block defines an app: say how to serve it right above or below "
            "(`uvicorn app:app`, `flask --app app run`, ...)"
        )
        module, kind, served = "snippet", "module", ""
    else:
        tool, module, kind, served = serve
        assert canonicalize_name(tool) in page_distributions(block.page), (
            f"the page serves the block with {tool}, but does not say to install it "
            f'(`pip install "idleguard[...]" {tool}`)'
        )
        assert kind == "tests" or served in defined, (
            f"the page serves {module}:{served}, which the block does not define"
        )
    run_block(block, directory, module, kind, served)


def run_block(block: Block, directory: Path, module: str, kind: str, served: str) -> None:
    (directory / f"{module}.py").write_text(block.code, encoding="utf-8")
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("IDLEGUARD_", "DJANGO_")) and name != "PYTHONPATH"
    }
    # Only idleguard from this checkout is importable besides what is installed.
    environment["PYTHONPATH"] = str(ROOT / "src")
    environment["IDLEGUARD_SECRET_KEY"] = secrets.token_urlsafe(32)
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-c",
            RUNNER.read_text(encoding="utf-8"),
            module,
            kind,
            served,
        ],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{block.name} does not run:\n{result.stdout}{result.stderr}"


def serve_command(block: Block) -> tuple[str, str, str, str] | None:
    """``(tool, module, kind, name)`` from the command the text around the block serves it with."""
    for tool, kind, pattern in SERVE_COMMANDS:
        match = pattern.search(block.around)
        if match is None:
            continue
        name = match.groupdict().get("name") or "app"
        if tool == "gunicorn" and "uvicorn.workers" in match["options"]:
            kind = "asgi"
        return tool, match["module"], kind, name
    return None


def undefined_names(tree: ast.AST) -> set[str]:
    """Names the code reads and never binds (anywhere: scopes are not told apart)."""
    bound = set(dir(builtins)) | {"__file__"}
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return used - bound


def module_names(tree: ast.Module) -> set[str]:
    """Names the module defines at its top level."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def check_imports(block: Block, tree: ast.AST) -> None:
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    available = set(sys.stdlib_module_names) | {"idleguard"}
    for distribution in page_distributions(block.page):
        available |= modules_of(distribution)
    missing = imported - available
    assert not missing, (
        f"the block imports {sorted(missing)}, which nothing the page says to install provides: "
        'name the extra (`pip install "idleguard[...]"`) or the package in its install line'
    )


def named_requirements(text: str) -> list[Requirement]:
    """What a page tells the reader to install: idleguard's extras and ``pip install`` lines."""
    named = [Requirement(f"idleguard[{match['extras']}]") for match in EXTRAS.finditer(text)]
    for line in PIP_INSTALL.finditer(text):
        for argument in line["arguments"].split():
            argument = argument.strip("\"'")
            if argument.startswith("-") or argument.startswith("idleguard"):
                continue  # an option; idleguard and its extras are read above
            try:
                named.append(Requirement(argument))
            except InvalidRequirement:
                continue  # a path or a URL (`pip install -e .`): nothing a block can rely on
    return named


@functools.cache
def page_distributions(page: Path) -> frozenset[str]:
    """Every distribution installed by what ``page`` tells the reader to install."""
    return frozenset(installed_by(named_requirements(page.read_text(encoding="utf-8"))))


def installed_by(requirements: Iterable[Requirement]) -> set[str]:
    """The distributions ``requirements`` install, with idleguard's own and every dependency."""
    pending = [*requirements, Requirement("idleguard")]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if (name, frozenset(requirement.extras)) in seen:
            continue
        seen.add((name, frozenset(requirement.extras)))
        if name == "idleguard":
            pending += idleguard_requirements(requirement.extras)
            continue
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here: its import name is guessed from its name
        pending += applicable(map(Requirement, requires), requirement.extras)
    return {name for name, _ in seen}


def idleguard_requirements(extras: Iterable[str]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    optional = project["optional-dependencies"]
    unknown = set(extras) - set(optional)
    assert not unknown, f"the docs name idleguard extras that do not exist: {sorted(unknown)}"
    listed = [*project["dependencies"]]
    for extra in extras:
        listed += optional[extra]
    return list(applicable(map(Requirement, listed), ()))


def applicable(requirements: Iterable[Requirement], extras: Iterable[str]) -> Iterator[Requirement]:
    """The requirements that apply here, with the given extras of the package requested."""
    environments = [{"extra": extra} for extra in [*extras, ""]]
    for requirement in requirements:
        marker = requirement.marker
        if marker is None or any(marker.evaluate(environment) for environment in environments):
            yield requirement


@functools.cache
def import_names() -> dict[str, set[str]]:
    """Top-level modules by the distribution that installs them, for what is installed here."""
    found: dict[str, set[str]] = defaultdict(set)
    for module, distributions in metadata.packages_distributions().items():
        for distribution in distributions:
            found[canonicalize_name(distribution)].add(module)
    return found


def modules_of(distribution: str) -> set[str]:
    return import_names().get(distribution) or {distribution.replace("-", "_")}


def test_the_readme_leads_with_this_repository_then_a_users_app() -> None:
    """``make demo`` and ``make test`` first, then the install line, then a snippet that runs."""
    readme = page_blocks(ROOT / "README.md")
    commands, install, snippet = readme[:3]
    assert commands.language == "shell"
    commands_run = [line.split("#")[0].strip() for line in commands.code.splitlines()]
    assert commands_run == ["make demo", "make test"]
    assert install.language == "shell"
    assert install.code.startswith('pip install "idleguard[fastapi]"')
    assert snippet.language == "python"
    assert FRAGMENT.match(snippet.code) is None, "the README's first snippet runs as it stands"
    assert "client_script_url()" in snippet.code, "the README's snippet loads the browser client"


@pytest.mark.parametrize(
    ("page", "client"),
    [
        pytest.param("quickstart/fastapi.md", "client_script_url()", id="fastapi"),
        pytest.param("quickstart/flask.md", "idleguard_script()", id="flask"),
        pytest.param("quickstart/django.md", "client_script_url()", id="django"),
    ],
)
def test_each_quick_start_leads_with_an_app_that_runs_and_loads_the_client(
    page: str, client: str
) -> None:
    first = next(block for block in page_blocks(DOCS / page) if block.language == "python")
    assert FRAGMENT.match(first.code) is None, "the quick start's main block runs as it stands"
    assert SNIPPET.match(first.code.strip()) is None, "the reader sees the whole app on the page"
    assert serve_command(first) is not None, "the page says how to serve its app"
    assert client in first.code


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
    "pytest",
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


def _check_yaml(code: str) -> None:
    import yaml

    assert isinstance(yaml.safe_load(code), dict), "a YAML block must be a mapping"


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
    "yaml": _check_yaml,
}


def test_every_page_is_in_the_nav() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in DOCS.rglob("*.md"):
        assert str(page.relative_to(DOCS)) in config, f"{page} is missing from mkdocs.yml's nav"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once in strict mode: any warning (a broken link, a docstring
    mkdocstrings cannot parse, a cross-reference to nothing) fails the build."""
    directory = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(directory)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return directory


def test_site_builds_in_strict_mode(site: Path) -> None:
    assert (site / "index.html").is_file()
    assert (site / "reference.html").is_file()


class _Page(HTMLParser):
    """What a built page loads and links to, and the text it shows."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []  # <link href>, <script src>, <img src>: fetched on view
        self.links: list[str] = []  # <a href>: followed on a click
        self.components: list[str] = []  # mkdocs-material's data-md-component widgets
        self.text: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "link" and attributes.get("href"):
            self.loads.append(attributes["href"] or "")
        elif tag in ("script", "img", "iframe") and attributes.get("src"):
            self.loads.append(attributes["src"] or "")
        elif tag == "a" and attributes.get("href") is not None:
            self.links.append(attributes["href"] or "")
        if attributes.get("data-md-component"):
            self.components.append(attributes["data-md-component"] or "")
        if tag in ("script", "style"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.text.append(data)


def built_pages(site: Path) -> list[tuple[Path, _Page]]:
    pages = []
    for path in sorted(site.rglob("*.html")):
        page = _Page()
        page.feed(path.read_text(encoding="utf-8"))
        pages.append((path, page))
    assert len(pages) > len(list(DOCS.rglob("*.md"))) // 2
    return pages


def is_external(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.scheme or parts.netloc)


def test_the_site_fetches_nothing_from_another_host(site: Path) -> None:
    """Opened offline (or behind a strict proxy) every page looks as it should.

    No web font from Google Fonts (`theme.font: false`: system fonts), no repository widget
    asking the GitHub API for stars at view time (no `repo_url`), and search's worker shim
    served from the site rather than unpkg.com.
    """
    fetched = {
        f"{path.relative_to(site)}: {url}"
        for path, page in built_pages(site)
        for url in page.loads
        if is_external(url)
    }
    assert not fetched, "pages load from other hosts:\n" + "\n".join(sorted(fetched))
    widgets = {
        str(path.relative_to(site))
        for path, page in built_pages(site)
        if "source" in page.components
    }
    assert not widgets, f"the repository widget calls the GitHub API when viewed: {sorted(widgets)}"
    for path in site.rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        assert "fonts.googleapis.com" not in html, path
        assert "fonts.gstatic.com" not in html, path
    # Search from disk (file://) reads the index from a script, not with fetch().
    assert (site / "search" / "search_index.js").is_file()


def test_internal_links_name_html_files(site: Path) -> None:
    """Opened from disk, a link to a directory shows its listing: every link names a file."""
    broken = set()
    pages = 0
    for path, page in built_pages(site):
        if path.name == "404.html":
            continue  # a server's answer at any depth, so its links start at the root
        for href in page.links:
            parts = urlsplit(href)
            if is_external(href) or not parts.path:
                continue  # another site, or an anchor on this page
            target = (path.parent / unquote(parts.path)).resolve()
            if parts.path.startswith("/") or not target.is_file():
                broken.add(f"{path.relative_to(site)}: {href}")
            pages += target.suffix == ".html"
    assert not broken, "links that do not name a file:\n" + "\n".join(sorted(broken))
    assert pages > 100, "the pages link to each other by their .html names"


#: reST roles, which mkdocstrings shows as they are: the docstrings use Markdown instead.
REST_ROLE = re.compile(r":(?:class|func|meth|data|mod|attr|exc|obj):`")


class _Reference(HTMLParser):
    """The API reference's sections: (object, section title) -> the names its table lists."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[tuple[str, str], list[str]] = defaultdict(list)
        self._object = ""
        self._section = ""
        self._in_title = False
        self._cell = 0
        self._in_name = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if "doc-heading" in classes and attributes.get("id"):
            self._object, self._section = attributes["id"] or "", ""
        elif tag == "span" and "doc-section-title" in classes:
            self._in_title, self._section = True, ""
        elif tag == "tr" and "doc-section-item" in classes:
            self._cell = 0
        elif tag == "td":
            self._cell += 1
        elif tag == "code" and self._cell == 1:
            self._in_name = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "span":
            self._in_title = False
        elif tag == "code":
            self._in_name = False
        elif tag == "td" and self._cell == 1:
            self._cell = 2  # past the name cell

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._section += data.strip()
        elif self._in_name and data.strip():
            self.sections[(self._object, self._section)].append(data.strip())


def test_the_reference_renders_google_style_docstrings(site: Path) -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "docstring_style: google" in config
    html = (site / "reference.html").read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    roles = REST_ROLE.findall("".join(page.text))
    assert ":class:" not in html
    assert not roles, f"the API reference shows reST roles as text: {roles[:5]}"
    reference = _Reference()
    reference.feed(html)
    sections = reference.sections
    assert {"app", "websocket_recheck", "settings", "**options"} <= set(
        sections[("idleguard.IdleGuard", "Parameters:")]
    )
    assert {"policy", "store", "secret_key", "login_url", "on_event", "trusted_origins"} <= set(
        sections[("idleguard.IdleGuard", "Other Parameters:")]
    )
    assert {"idle_timeout", "absolute_timeout", "warn_before", "touch_interval"} <= set(
        sections[("idleguard.Policy", "Parameters:")]
    )
    assert "PolicyError" in sections[("idleguard.Policy", "Raises:")]
