"""The browser client's strings from the catalogs, served with ``status``, over ASGI and WSGI."""

from __future__ import annotations

from typing import Any

import pytest

from idleguard import Policy
from idleguard.messages import client_texts
from idleguard.testing import SettableClock
from tests.harness import Harness

from .conftest import MakeClient

POLICY = Policy(idle_timeout=600, absolute_timeout=1000, warn_before=60)


@pytest.fixture
def client(make_client: MakeClient) -> Harness:
    harness = make_client(policy=POLICY)
    assert harness.post("/login").status == 200
    return harness


def status(client: Harness, query: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    answer = client.get(
        "/_idleguard/status?path=/" + query,
        headers={"accept": "application/json", **(headers or {})},
    )
    assert answer.status == 200
    assert answer.header("cache-control") == "no-store"
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.parametrize(
    ("query", "headers", "language"),
    [
        pytest.param("&lang=fr", {}, "fr", id="page-language"),
        pytest.param("&lang=fr-FR", {"accept-language": "en"}, "fr", id="page-wins"),
        pytest.param("&lang=", {"accept-language": "fr-CH, fr;q=0.9, en;q=0.8"}, "fr", id="header"),
        pytest.param("&lang=de", {"accept-language": "fr"}, "fr", id="page-without-catalog"),
        pytest.param("&lang=", {}, "en", id="nothing-is-english"),
        pytest.param("&lang=xx", {"accept-language": "xx"}, "en", id="unknown-is-english"),
    ],
)
def test_status_with_lang_carries_the_dialogs_strings(
    client: Harness, query: str, headers: dict[str, str], language: str
) -> None:
    body = status(client, query, headers)
    assert body["active"] is True
    assert body["lang"] == language
    assert body["messages"] == dict(client_texts(language))


def test_french_strings_are_french(client: Harness) -> None:
    messages = status(client, "&lang=fr")["messages"]
    assert messages["title"] == "Votre session va bientôt prendre fin"
    assert messages["stay"] == "Rester connecté"
    assert "{time}" in messages["body"]


def test_status_without_lang_stays_small(client: Harness) -> None:
    # The client asks for its strings once per page; the status it polls carries none.
    body = status(client, "", {"accept-language": "fr"})
    assert "messages" not in body
    assert "lang" not in body


def test_the_strings_come_without_a_session_too(make_client: MakeClient) -> None:
    # The sign-in page runs the client as well: it gets its strings with its first answer.
    body = status(make_client(policy=POLICY), "&lang=fr")
    assert body["active"] is False
    assert body["lang"] == "fr"


def test_an_expiry_is_answered_as_without_lang(client: Harness, clock: SettableClock) -> None:
    clock.advance(600)
    answer = client.get("/_idleguard/status?path=/&lang=fr", headers={"accept": "application/json"})
    assert answer.status == 401
    assert answer.json() == {"error": "session_expired", "reason": "idle"}
