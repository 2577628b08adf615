"""Session identity: ids, signatures, digests, and what is refused before any store query."""

from __future__ import annotations

import pytest

from idleguard import AppCookie, BearerToken, SignedCookie
from idleguard.facts import normalize_path, path_matches, read_cookie
from idleguard.identity import digest, new_session_id

KEY = "k" * 40


def test_ids_have_256_bits_and_do_not_collide() -> None:
    ids = {new_session_id() for _ in range(100_000)}
    assert len(ids) == 100_000
    assert all(len(session_id) == 43 for session_id in list(ids)[:100])


def test_the_store_key_is_a_digest_not_the_id() -> None:
    cookie = SignedCookie(KEY)
    credential, key = cookie.issue()
    assert cookie.key_for(credential) == key
    session_id = credential.rsplit(".", 1)[0]
    assert key == digest(session_id)
    assert session_id not in key


@pytest.mark.parametrize(
    "credential",
    [
        pytest.param("", id="empty"),
        pytest.param("x" * 10_240, id="10KB"),
        pytest.param("abc/def.ghi", id="slash"),
        pytest.param("abc\\def.ghi", id="backslash"),
        pytest.param("..", id="dots"),
        pytest.param("abc\ndef", id="newline"),
        pytest.param("é" * 10, id="non-ascii"),
    ],
)
def test_malformed_credentials_are_refused(credential: str) -> None:
    assert SignedCookie(KEY).key_for(credential) is None


def test_a_never_issued_id_is_refused() -> None:
    forged = new_session_id() + ".bogus-signature"
    assert SignedCookie(KEY).key_for(forged) is None
    other = SignedCookie("z" * 40).issue()[0]
    assert SignedCookie(KEY).key_for(other) is None


def test_app_credentials_are_kept_as_digests() -> None:
    assert AppCookie("sessionid").key_for("abc") == digest("abc")
    assert BearerToken().key_for("tok") == digest("tok")
    assert BearerToken().key_for("x" * 5000) is None
    with pytest.raises(RuntimeError, match="issues its own credentials"):
        BearerToken().issue()


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        pytest.param("/billing", "/billing", id="plain"),
        pytest.param("//billing", "/billing", id="double-slash"),
        pytest.param("/public/%2e%2e/billing", "/billing", id="encoded-dots"),
        pytest.param("/public/%252e%252e/billing", "/billing", id="double-encoded-dots"),
        pytest.param("/health%3F/../billing", "/billing", id="encoded-question-mark"),
        pytest.param("/public\\..\\billing", "/billing", id="backslashes"),
        pytest.param("/a/./b/", "/a/b/", id="dot-segment"),
        pytest.param("", "/", id="empty"),
    ],
)
def test_paths_are_normalized(raw: str, normalized: str) -> None:
    assert normalize_path(raw) == normalized


@pytest.mark.parametrize(
    ("path", "matches"),
    [
        pytest.param("/public", True, id="exact"),
        pytest.param("/public/x", True, id="below"),
        pytest.param("/publicity", False, id="not-a-segment"),
        pytest.param(normalize_path("/public/%2e%2e/billing"), False, id="escaped"),
    ],
)
def test_prefixes_match_on_segments(path: str, matches: bool) -> None:
    assert path_matches(path, ("/public",)) is matches


@pytest.mark.parametrize(
    ("header", "value"),
    [
        pytest.param("a=1; idleguard=v; b=2", "v", id="middle"),
        pytest.param("idleguard=v", "v", id="alone"),
        pytest.param('idleguard="v"', "", id="quoted-is-ambiguous"),
        pytest.param("xidleguard=v", None, id="suffix-of-another-name"),
        pytest.param("a=1", None, id="absent"),
        pytest.param("idleguard=v; idleguard=v", "v", id="same-twice"),
        pytest.param("idleguard=v; idleguard=w", "", id="ambiguous"),
    ],
)
def test_read_cookie(header: str, value: str | None) -> None:
    assert read_cookie(header, "idleguard") == value
