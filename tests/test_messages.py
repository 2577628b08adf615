"""Human words for how a session ended: every reason, every limit, English and French."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import idleguard
from idleguard import EndReason, Policy, describe_duration, describe_end
from idleguard.messages import STEP_UP, client_texts, negotiate_language, resolve_language

CLIENT = Path(idleguard.__file__).parent / "static" / "idleguard.js"
#: The policy of the sentences in the tables: 30 minutes idle, 8 hours absolute.
POLICY = Policy(idle_timeout=1800, absolute_timeout=8 * 3600)
KNOWN = [reason.value for reason in EndReason] + [STEP_UP]
GENERIC = {
    "en": "Your session has ended. Please sign in again.",
    "fr": "Votre session a pris fin. Veuillez vous reconnecter.",
}


@pytest.mark.parametrize(
    ("reason", "locale", "sentence"),
    [
        pytest.param(
            "idle", None, "You were signed out after 30 minutes without activity.", id="idle-en"
        ),
        pytest.param(
            "absolute",
            None,
            "Your session reached its 8-hour limit. Please sign in again.",
            id="absolute-en",
        ),
        pytest.param("signed_out", None, "You signed out.", id="signed-out-en"),
        pytest.param(
            "revoked", None, "Your session was ended. Please sign in again.", id="revoked-en"
        ),
        pytest.param(
            "invalid",
            None,
            "Your session could not be verified. Please sign in again.",
            id="invalid-en",
        ),
        pytest.param(
            "unknown",
            None,
            "Your sign-in was not recognized. Please sign in again.",
            id="unknown-credential-en",
        ),
        pytest.param(
            "step_up",
            None,
            "For your security, this page asks you to sign in again.",
            id="step-up-en",
        ),
        pytest.param(
            "idle", "fr", "Votre session a été fermée après 30 minutes d'inactivité.", id="idle-fr"
        ),
        pytest.param(
            "absolute",
            "fr",
            "Votre session a atteint sa limite de 8 heures. Veuillez vous reconnecter.",
            id="absolute-fr",
        ),
        pytest.param("signed_out", "fr", "Vous avez fermé votre session.", id="signed-out-fr"),
        pytest.param(
            "revoked",
            "fr",
            "Votre session a été fermée. Veuillez vous reconnecter.",
            id="revoked-fr",
        ),
        pytest.param(
            "invalid",
            "fr",
            "Votre session n'a pas pu être vérifiée. Veuillez vous reconnecter.",
            id="invalid-fr",
        ),
        pytest.param(
            "unknown",
            "fr",
            "Votre connexion n'a pas été reconnue. Veuillez vous reconnecter.",
            id="unknown-credential-fr",
        ),
        pytest.param(
            "step_up",
            "fr",
            "Pour votre sécurité, cette page vous demande de vous reconnecter.",
            id="step-up-fr",
        ),
    ],
)
def test_every_reason_has_its_sentence(reason: str, locale: str | None, sentence: str) -> None:
    assert describe_end(reason, POLICY, locale=locale) == sentence


@pytest.mark.parametrize(
    ("policy", "reason", "locale", "sentence"),
    [
        pytest.param(
            Policy(idle_timeout=900),
            "idle",
            None,
            "You were signed out after 15 minutes without activity.",
            id="15-minutes",
        ),
        pytest.param(
            Policy(idle_timeout=60, warn_before=30),
            "idle",
            None,
            "You were signed out after 1 minute without activity.",
            id="1-minute",
        ),
        pytest.param(
            Policy(idle_timeout=5400),
            "idle",
            None,
            "You were signed out after 1 hour 30 minutes without activity.",
            id="1-hour-30-minutes",
        ),
        pytest.param(
            Policy(idle_timeout=90, warn_before=30),
            "idle",
            "fr",
            "Votre session a été fermée après 90 secondes d'inactivité.",
            id="90-secondes",
        ),
        pytest.param(
            Policy(idle_timeout=3600),
            "idle",
            "fr",
            "Votre session a été fermée après 1 heure d'inactivité.",
            id="1-heure",
        ),
        pytest.param(
            Policy(absolute_timeout=3600),
            "absolute",
            None,
            "Your session reached its 1-hour limit. Please sign in again.",
            id="1-hour-limit",
        ),
        pytest.param(
            Policy(idle_timeout=600, absolute_timeout=5400),
            "absolute",
            None,
            "Your session reached its limit of 1 hour 30 minutes. Please sign in again.",
            id="two-units-limit",
        ),
        pytest.param(
            Policy(absolute_timeout=timedelta(days=7)),
            "absolute",
            None,
            "Your session reached its 7-day limit. Please sign in again.",
            id="7-day-limit",
        ),
        pytest.param(
            Policy(absolute_timeout=3600),
            "absolute",
            "fr",
            "Votre session a atteint sa limite de 1 heure. Veuillez vous reconnecter.",
            id="limite-1-heure",
        ),
        pytest.param(
            Policy(idle_timeout=600, absolute_timeout=5400),
            "absolute",
            "fr",
            "Votre session a atteint sa limite de 1 heure 30 minutes. Veuillez vous reconnecter.",
            id="limite-deux-unites",
        ),
    ],
)
def test_the_sentence_names_the_policys_limit(
    policy: Policy, reason: str, locale: str | None, sentence: str
) -> None:
    assert describe_end(reason, policy, locale=locale) == sentence


@pytest.mark.parametrize(
    ("policy", "reason", "sentence"),
    [
        pytest.param(
            None,
            "idle",
            "You were signed out after a period without activity.",
            id="idle-no-policy",
        ),
        pytest.param(
            None,
            "absolute",
            "Your session reached its time limit. Please sign in again.",
            id="absolute-no-policy",
        ),
        pytest.param(
            Policy(idle_timeout=None),
            "idle",
            "You were signed out after a period without activity.",
            id="idle-limit-off",
        ),
        pytest.param(
            Policy(absolute_timeout=None),
            "absolute",
            "Your session reached its time limit. Please sign in again.",
            id="absolute-limit-off",
        ),
    ],
)
def test_without_a_limit_the_sentence_names_no_duration(
    policy: Policy | None, reason: str, sentence: str
) -> None:
    assert describe_end(reason, policy) == sentence
    assert not re.search(r"\d", describe_end(reason, policy, locale="fr"))


@pytest.mark.parametrize(
    ("seconds", "english", "french"),
    [
        pytest.param(0, "0 seconds", "0 seconde", id="zero"),
        pytest.param(1, "1 second", "1 seconde", id="one-second"),
        pytest.param(0.2, "1 second", "1 seconde", id="a-fraction-is-a-second"),
        pytest.param(45, "45 seconds", "45 secondes", id="seconds"),
        pytest.param(60, "1 minute", "1 minute", id="one-minute"),
        pytest.param(90, "90 seconds", "90 secondes", id="90-seconds"),
        pytest.param(120, "2 minutes", "2 minutes", id="two-minutes"),
        pytest.param(150, "2 minutes 30 seconds", "2 minutes 30 secondes", id="minutes-seconds"),
        pytest.param(900, "15 minutes", "15 minutes", id="15-minutes"),
        pytest.param(3600, "1 hour", "1 heure", id="one-hour"),
        pytest.param(5400, "1 hour 30 minutes", "1 heure 30 minutes", id="hour-and-a-half"),
        pytest.param(7200, "2 hours", "2 heures", id="two-hours"),
        pytest.param(3661, "1 hour 1 minute 1 second", "1 heure 1 minute 1 seconde", id="three"),
        pytest.param(86400, "24 hours", "24 heures", id="a-day-in-hours"),
        pytest.param(2 * 86400, "2 days", "2 jours", id="two-days"),
        pytest.param(
            timedelta(days=2, hours=12), "2 days 12 hours", "2 jours 12 heures", id="timedelta"
        ),
    ],
)
def test_durations_in_words(seconds: float | timedelta, english: str, french: str) -> None:
    assert describe_duration(seconds) == english
    assert describe_duration(seconds, "fr") == french


@pytest.mark.parametrize(
    "seconds",
    [
        pytest.param(-1, id="negative"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(float("inf"), id="infinite"),
        pytest.param(True, id="bool"),
        pytest.param(None, id="none"),
    ],
)
def test_a_duration_that_is_no_length_is_refused(seconds: Any) -> None:
    with pytest.raises(ValueError, match="seconds"):
        describe_duration(seconds)


@pytest.mark.parametrize(
    ("locale", "language"),
    [
        pytest.param("fr", "fr", id="fr"),
        pytest.param("fr-FR", "fr", id="bcp47"),
        pytest.param("fr_FR", "fr", id="posix"),
        pytest.param("FR-fr", "fr", id="any-case"),
        pytest.param("fr_CA.UTF-8", "fr", id="posix-with-encoding"),
        pytest.param(" fr ", "fr", id="spaces"),
        pytest.param("en-GB", "en", id="english"),
        pytest.param("de", "en", id="no-catalog"),
        pytest.param("", "en", id="empty"),
        pytest.param(None, "en", id="none"),
        pytest.param("frx", "en", id="not-a-prefix-match"),
    ],
)
def test_locale_names_resolve_to_a_catalog(locale: str | None, language: str) -> None:
    assert resolve_language(locale) == language


def test_an_unknown_locale_reads_english() -> None:
    assert describe_end("idle", POLICY, locale="xx-YY") == describe_end("idle", POLICY)


@pytest.mark.parametrize(
    "reason",
    [
        pytest.param("expired", id="not-a-reason"),
        pytest.param("", id="empty"),
        pytest.param("<script>", id="markup"),
        pytest.param(None, id="none"),
    ],
)
def test_an_unknown_reason_gets_a_general_sentence(reason: str) -> None:
    assert describe_end(reason, POLICY) == GENERIC["en"]
    assert describe_end(reason, POLICY, locale="fr") == GENERIC["fr"]


def test_a_reason_is_read_as_the_redirect_writes_it_or_as_the_enum() -> None:
    expected = describe_end("absolute", POLICY)
    assert describe_end(EndReason.ABSOLUTE, POLICY) == expected
    assert describe_end(" Absolute ", POLICY) == expected


limits = st.one_of(st.none(), st.floats(min_value=0.001, max_value=10 * 365 * 86400))


@given(
    reason=st.one_of(st.sampled_from(KNOWN), st.text(max_size=30)),
    idle=limits,
    absolute=limits,
    locale=st.one_of(st.none(), st.sampled_from(["en", "fr", "fr-FR", "de"]), st.text(max_size=12)),
)
def test_any_reason_and_any_limit_give_a_sentence(
    reason: str, idle: float | None, absolute: float | None, locale: str | None
) -> None:
    if idle is not None and absolute is not None and idle > absolute:
        idle, absolute = absolute, idle
    policy = Policy(idle_timeout=idle, absolute_timeout=absolute, warn_before=0)
    sentence = describe_end(reason, policy, locale=locale)
    assert sentence.strip()
    assert "{" not in sentence
    code = reason.strip().lower()
    if code in KNOWN:
        # The code a redirect carries is for machines: a reader never sees it.
        assert code not in sentence.lower()
    else:
        assert sentence in GENERIC.values()


@given(
    seconds=st.floats(min_value=0, max_value=100 * 365 * 86400),
    locale=st.sampled_from(["en", "fr"]),
)
def test_any_duration_has_words(seconds: float, locale: str) -> None:
    words = describe_duration(seconds, locale)
    assert words
    assert "{" not in words
    # Each part is a count and its unit: "1 hour 30 minutes".
    assert re.fullmatch(r"\d+ \w+( \d+ \w+)*", words)


@pytest.mark.parametrize(
    ("page", "header", "language"),
    [
        pytest.param("fr", None, "fr", id="page-language"),
        pytest.param("fr-BE", "en", "fr", id="page-wins-over-header"),
        pytest.param("", "fr-CH, fr;q=0.9, en;q=0.8", "fr", id="header"),
        pytest.param(None, "de-DE, fr;q=0.5, en;q=0.7", "en", id="quality-order"),
        pytest.param(None, "de, fr;q=0.4", "fr", id="first-with-a-catalog"),
        pytest.param("de", "fr", "fr", id="page-without-catalog-then-header"),
        pytest.param(None, "fr;q=0, de", "en", id="q-zero-is-refused"),
        pytest.param(None, "*", "en", id="wildcard"),
        pytest.param(None, "fr;q=abc", "en", id="bad-quality"),
        pytest.param(None, ";;,,;q=,", "en", id="garbage"),
        pytest.param(None, "", "en", id="empty"),
        pytest.param(None, None, "en", id="nothing"),
    ],
)
def test_the_page_language_then_accept_language(
    page: str | None, header: str | None, language: str
) -> None:
    assert negotiate_language(page, header) == language


@given(page=st.one_of(st.none(), st.text(max_size=20)), header=st.text(max_size=200))
def test_negotiation_never_fails(page: str | None, header: str) -> None:
    assert negotiate_language(page, header) in {"en", "fr"}


def builtin_client_texts() -> dict[str, str]:
    """The English strings built into idleguard.js (its ``TEXTS`` object)."""
    source = CLIENT.read_text(encoding="utf-8")
    block = re.search(r"var TEXTS = \{(.*?)\};", source, re.S)
    assert block is not None
    return dict(re.findall(r'(\w+): "((?:[^"\\]|\\.)*)"', block.group(1)))


def test_the_clients_builtin_strings_are_the_catalogs_english() -> None:
    # The client shows its own English until the server's strings arrive: the same words.
    assert builtin_client_texts() == dict(client_texts("en"))
    assert client_texts(None) == client_texts("en")


def test_the_clients_strings_in_french() -> None:
    texts = client_texts("fr-FR")
    assert texts.keys() == builtin_client_texts().keys()
    assert texts["title"] == "Votre session va bientôt prendre fin"
    assert texts["stay"] == "Rester connecté"
    assert texts["signOut"] == "Me déconnecter"
    for key in ("body", "bodyAbsolute", "announce"):
        assert texts[key].count("{time}") == 1, key
    # Built once per language.
    assert client_texts("fr") is texts
