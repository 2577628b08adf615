"""The message catalogs cannot drift: from the code, into every language, compiled.

Each ``.po`` under ``src/idleguard/locale`` holds exactly the strings the code
asks for (extracted the way ``make messages`` extracts them), every one
translated, with the placeholders of its source; each ``.mo`` is its ``.po``
compiled, read the way idleguard reads it at run time.
"""

from __future__ import annotations

import gettext
import io
import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

import idleguard
from idleguard.messages import DOMAIN, available_languages

PACKAGE = Path(idleguard.__file__).parent
LOCALE = PACKAGE / "locale"
LANGUAGES = sorted(path.name for path in LOCALE.iterdir() if path.is_dir())
#: gettext's rule for each language: which form (0 singular, 1 plural) a count takes.
PLURALS = {"en": {0: 1, 1: 0, 2: 1, 21: 1}, "fr": {0: 0, 1: 0, 2: 1, 21: 1}}
PLACEHOLDER = re.compile(r"\{\w*\}")


def forms(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """A message's singular alone, or its singular and plural forms."""
    return (value,) if isinstance(value, str) else tuple(value or ())


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def ids(catalog: Catalog) -> set[Any]:
    return {message.id for message in catalog if message.id}


def code_ids() -> set[Any]:
    """Every string the package's code passes to gettext, as ``pybabel extract`` finds it."""
    found: set[Any] = set()
    for _, _, message, _, _ in extract_from_dir(str(PACKAGE)):
        found.add(message if isinstance(message, str) else tuple(message))
    assert found, "no message found in the code"
    return found


def test_english_and_french_are_there() -> None:
    assert {"en", "fr"} <= set(LANGUAGES)
    assert available_languages() == frozenset(LANGUAGES)


def test_the_template_is_the_code() -> None:
    assert ids(read_catalog(LOCALE / f"{DOMAIN}.pot")) == code_ids()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_in_the_code_is_in_the_catalog(language: str) -> None:
    catalog = read_catalog(LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}.po")
    in_code = code_ids()
    assert in_code - ids(catalog) == set(), "missing: run `make messages` and translate"
    assert ids(catalog) - in_code == set(), "no longer in the code: run `make messages`"
    assert not catalog.obsolete


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_is_translated_with_its_placeholders(language: str) -> None:
    catalog = read_catalog(LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}.po")
    for message in catalog:
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        sources, strings = forms(message.id), forms(message.string)
        assert len(strings) == (catalog.num_plurals if message.pluralizable else 1)
        expected = sorted(PLACEHOLDER.findall(sources[0]))
        for string in strings:
            assert string, f"untranslated in {language}: {message.id!r}"
            assert sorted(PLACEHOLDER.findall(string)) == expected, (message.id, string)


def runtime_view(data: bytes) -> tuple[dict[Any, str], list[int]]:
    """What gettext reads from compiled bytes: every message, and the plural form of 0..1000."""
    translations = gettext.GNUTranslations(io.BytesIO(data))
    messages: dict[Any, str] = dict(translations._catalog)  # type: ignore[attr-defined]
    # The header's dates are not messages; Plural-Forms is checked through plural().
    messages.pop("", None)
    plural = translations.plural  # type: ignore[attr-defined]
    return messages, [plural(count) for count in range(1001)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalog_is_its_source(language: str) -> None:
    folder = LOCALE / language / "LC_MESSAGES"
    compiled = io.BytesIO()
    write_mo(compiled, read_catalog(folder / f"{DOMAIN}.po"))
    committed = (folder / f"{DOMAIN}.mo").read_bytes()
    assert runtime_view(committed) == runtime_view(compiled.getvalue()), (
        f"{language}: the .mo is not the .po compiled; run `make messages`"
    )


@pytest.mark.parametrize(("language", "expected"), PLURALS.items(), ids=list(PLURALS))
def test_plural_forms_follow_the_language(language: str, expected: dict[int, int]) -> None:
    # French counts 0 as singular, English as plural; Babel's CLDR rule for a new
    # catalog may differ from gettext's, so the rule is checked, not trusted.
    _, forms = runtime_view((LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}.mo").read_bytes())
    assert {count: forms[count] for count in expected} == expected
