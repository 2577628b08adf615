"""The package's docstrings are Google style with Markdown, which the API reference renders.

mkdocstrings (`docstring_style: google`) turns `Args:`, `Returns:` and `Raises:` sections
into tables and `[Policy][idleguard.Policy]` into a link, but shows a reST role such as
``:class:`~idleguard.Policy` `` as it is. None may appear in the package, in docstrings or in
comments (a comment becomes a docstring when code moves). The rendered page itself is
checked in `tests/test_docs.py`.
"""

from __future__ import annotations

import re
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "src" / "idleguard"

#: Sphinx's Python-domain roles and the ones reST docstrings commonly borrow.
REST_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|data|mod|attr|exc|obj|const|ref):`")
#: `text::` before an indented block is a reST literal block; Markdown shows the `::`.
REST_LITERAL_BLOCK = re.compile(r"\w::\s*$")


def source_lines() -> list[tuple[str, int, str]]:
    return [
        (str(path.relative_to(SOURCE.parent)), number, line)
        for path in sorted(SOURCE.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
    ]


def test_the_package_uses_no_rest_roles() -> None:
    found = [
        f"{path}:{number}: {line.strip()}"
        for path, number, line in source_lines()
        if REST_ROLE.search(line)
    ]
    assert not found, (
        "reST roles show up raw in the API reference; write a Markdown cross-reference "
        "([`Policy`][idleguard.Policy]) or plain backticks (`Policy`) instead:\n" + "\n".join(found)
    )


def test_the_package_uses_no_rest_literal_blocks() -> None:
    found = [
        f"{path}:{number}: {line.strip()}"
        for path, number, line in source_lines()
        if REST_LITERAL_BLOCK.search(line)
    ]
    assert not found, "end the sentence with one colon and fence the example:\n" + "\n".join(found)


def test_the_checks_recognise_what_they_refuse() -> None:
    assert REST_ROLE.search("The :class:`~idleguard.Policy` (limits in seconds).")
    assert REST_ROLE.search("see :py:meth:`Store.check`")
    assert not REST_ROLE.search("The [`Policy`][idleguard.Policy] (limits in seconds).")
    assert not REST_ROLE.search('{"error": "store_unavailable"}: `503`')
    assert REST_LITERAL_BLOCK.search("takes any of these sinks, several at once::")
    assert not REST_LITERAL_BLOCK.search('("::1", "127.0.0.1")')
