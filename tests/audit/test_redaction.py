"""Redaction: no secret of any known shape reaches any sink, and every field stays under 10 KB."""

from __future__ import annotations

import dataclasses
import re
import string
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from idleguard.audit import DEFAULT_RULES, REDACTED, Redactor, Rule
from idleguard.audit.redaction import printable, truncate
from idleguard.events import Event, EventType

from .sinks_under_test import outputs_of_every_sink

AT = 1_800_000_000.0


def event_with(**fields: Any) -> Event:
    return Event(type=EventType.SESSION_STARTED, at=AT, **fields)


# -- examples: each rule on the shape it exists for ---------------------------------
@pytest.mark.parametrize(
    ("text", "secret"),
    [
        pytest.param("Authorization: Bearer abc.def-ghi_123", "abc.def-ghi_123", id="auth-header"),
        pytest.param("sent bearer 9f8e7d6c5b4a", "9f8e7d6c5b4a", id="bearer-word"),
        pytest.param("Basic YWxhZGRpbjpvcGVuc2VzYW1l", "YWxhZGRpbjpvcGVuc2VzYW1l", id="basic"),
        pytest.param(
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
            "c2lnbmF0dXJl",
            id="jwt",
        ),
        pytest.param("postgresql://app:hunter2@db:5432/app", "hunter2", id="postgres-uri"),
        pytest.param("redis://:s3cr3tpw@cache:6379/0", "s3cr3tpw", id="redis-uri"),
        pytest.param("https://ghp_tokenonly@github.com/x", "ghp_tokenonly", id="uri-token"),
        pytest.param("Server=db;User Id=app;Password=Pa55word;", "Pa55word", id="ado-string"),
        pytest.param("host=db password=libpqpass dbname=app", "libpqpass", id="libpq-string"),
        pytest.param("/reset?token=abcdef123&x=1", "abcdef123", id="query-token"),
        pytest.param('{"client_secret": "cs-123456"}', "cs-123456", id="json-secret"),
        pytest.param("Cookie: sid=abc123; theme=dark", "abc123", id="cookie-header"),
        pytest.param(
            "key sk_live_4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWDarjtT1zdp7dc", id="stripe"
        ),
        pytest.param("AKIAIOSFODNN7EXAMPLE in config", "IOSFODNN7EXAMPLE", id="aws"),
        pytest.param(
            "/files/Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2Rl", "Zm9vYmFyYmF6", id="long-token"
        ),
        pytest.param(
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
            "MIIEow",
            id="pem",
        ),
        pytest.param(
            "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "bPxRfiCYEXAMPLEKEY",
            id="aws-secret-after-its-name",
        ),
        pytest.param(
            "exported wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY by mistake",
            "bPxRfiCYEXAMPLEKEY",
            id="aws-secret-alone",
        ),
        pytest.param("accessToken=a1b2c3d4e5", "a1b2c3d4e5", id="camel-access-token"),
        pytest.param("?refreshToken=r1s2t3u4&x=1", "r1s2t3u4", id="camel-refresh-token"),
        pytest.param('{"clientSecret": "cs-987654"}', "cs-987654", id="camel-json-secret"),
        pytest.param("newPassword=Tr0ub4dor&3", "Tr0ub4dor", id="camel-password"),
        pytest.param('{"apiKey": "k-1234567"}', "k-1234567", id="camel-api-key"),
        pytest.param("DBPASS=hunter22 DBHOST=db", "hunter22", id="upper-pass"),
        pytest.param("db_pass=hunter22", "hunter22", id="separated-pass"),
        pytest.param("dbPass: hunter22", "hunter22", id="camel-pass"),
        pytest.param(
            "DefaultEndpointsProtocol=https;AccountName=acme;"
            "AccountKey=Zm9v/YmFy+YmF6/cXV4+MTIz/NDU2==;EndpointSuffix=core.windows.net",
            "Zm9v/YmFy+YmF6/cXV4+MTIz/NDU2==",
            id="azure-storage",
        ),
        pytest.param(
            "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=Root;"
            "SharedAccessKey=cXV4/MTIz+NDU2/Zm9v=",
            "cXV4/MTIz+NDU2/Zm9v=",
            id="azure-service-bus",
        ),
        pytest.param(
            "posting to https://hooks.slack.com/services/T0123ABCD/B0456EFGH/aBcDeFgHiJkLmNoPqRsTuVwX",
            "aBcDeFgHiJkLmNoPqRsTuVwX",
            id="slack-webhook",
        ),
        pytest.param("postgresql://app:s3cr/et!pw@db/app", "s3cr/et!pw", id="uri-password-slash"),
        pytest.param("redis://:s3/cr3tpw@cache:6379/0", "s3/cr3tpw", id="redis-password-slash"),
    ],
)
def test_rule_removes_the_secret(text: str, secret: str) -> None:
    redacted = Redactor().text(text)
    assert secret not in redacted
    assert REDACTED in redacted


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("/orders/550e8400-e29b-41d4-a716-446655440000", id="uuid"),
        pytest.param("/api/v1/session_expired_inactivity_reason_code", id="long-word-run"),
        pytest.param("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", id="user-agent"),
        pytest.param("https://example.com/path?email=a@b.example", id="url-with-at-in-query"),
        pytest.param("the token was refused", id="prose"),
        pytest.param("https://example.com:8443/users/@alice", id="port-then-at-in-path"),
        pytest.param("/Users/JohnSmith/Documents/Report2024/Q3", id="forty-character-path"),
        pytest.param("compass=north&outside=1", id="words-ending-in-key-names"),
    ],
)
def test_ordinary_values_pass_unchanged(text: str) -> None:
    assert Redactor().text(text) == text


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "db_password",
        "clientSecret",
        "api_key",
        "X-Api-Key",
        "accessToken",
        "cookie",
        "Authorization",
        "session_id",
        "key",
        "private-key",
        "dsn",
        "refreshToken",
        "newPassword",
        "apiKey",
        "AccountKey",
        "SharedAccessKey",
    ],
)
def test_values_under_secret_names_are_replaced_whole(key: str) -> None:
    event = Redactor().event(event_with(metadata={"nested": [{key: "plain words"}]}))
    assert event.metadata == {"nested": [{key: REDACTED}]}


@pytest.mark.parametrize("key", ["actor", "old", "new", "error", "during", "fail_open", "monkey"])
def test_ordinary_names_keep_their_values(key: str) -> None:
    assert Redactor().event(event_with(metadata={key: "plain"})).metadata == {key: "plain"}


def test_session_tag_type_and_numbers_pass_unchanged() -> None:
    event = event_with(
        session="0123456789abcdef0123",
        idle_seconds=12.5,
        policy={"idle_timeout": 900.0, "absolute_timeout": None},
    )
    assert Redactor().event(event) == event


def test_user_rules_and_keys_extend_the_defaults() -> None:
    redactor = Redactor(
        extra_rules=[Rule("employee_badge", re.compile(r"BADGE-\d{6}"))],
        extra_sensitive_keys=["ssn"],
    )
    event = redactor.event(
        event_with(path="/badge/BADGE-123456", metadata={"SSN": "078-05-1120", "a": "Bearer xyz"})
    )
    assert event.path == "/badge/" + REDACTED
    assert event.metadata == {"SSN": REDACTED, "a": "Bearer " + REDACTED}
    assert Redactor(rules=()).text("Bearer xyz") == "Bearer xyz"
    assert len(DEFAULT_RULES) >= 8


@pytest.mark.parametrize(
    ("size", "cut"),
    [
        pytest.param(10 * 1024, False, id="at-limit"),
        pytest.param(10 * 1024 + 1, True, id="over"),
        pytest.param(1_000_000, True, id="megabyte"),
    ],
)
def test_every_field_is_cut_to_10_kb_with_a_marker(size: int, cut: bool) -> None:
    event = Redactor().event(
        event_with(
            user_agent="u" * size,
            path="/" * (size % 2 + 2) + "é" * ((size - 2) // 2),
            subject="s" * size,
        )
    )
    for value in (event.user_agent, event.path, event.subject):
        assert isinstance(value, str)
        assert len(value.encode()) <= 10 * 1024
        assert ("[truncated" in value) is cut


def test_a_huge_metadata_object_is_bounded() -> None:
    event = Redactor().event(event_with(metadata={f"k{i}": "v" * 1000 for i in range(100)}))
    assert set(event.metadata) == {"_truncated"}
    assert len(event.metadata["_truncated"].encode()) <= 10 * 1024


def test_truncate_never_splits_a_character() -> None:
    cut = truncate("€" * 5000, 100)
    assert len(cut.encode()) <= 100
    cut.encode("utf-8", "strict")


@pytest.mark.parametrize(
    "hostile",
    [
        pytest.param("a" * 400_000, id="letters"),
        pytest.param("a1" * 200_000, id="token-run"),
        pytest.param("x://" * 100_000, id="scheme-runs"),
        pytest.param("token " * 60_000, id="keywords"),
        pytest.param("password" * 50_000, id="key-run"),
        pytest.param("eyJ" * 130_000, id="jwt-heads"),
        pytest.param("aB1/" * 100_000, id="base64-run"),
        pytest.param("x://u:/" * 60_000, id="uri-password-runs"),
        pytest.param("DBPASS" * 60_000, id="upper-key-run"),
        pytest.param("dbPass_" * 50_000, id="camel-key-runs"),
        pytest.param("AccountKey=" * 35_000, id="account-keys"),
        pytest.param("hooks.slack.com/services/" * 16_000, id="webhook-heads"),
    ],
)
def test_rules_run_in_linear_time_on_hostile_input(hostile: str) -> None:
    started = time.perf_counter()
    Redactor().text(hostile)
    # Quadratic rules take minutes here; linear ones a fraction of a second.
    assert time.perf_counter() - started < 5.0


# -- properties: generated secrets of every shape, in every field, through every sink --------
ALNUM = string.ascii_letters + string.digits
B64URL = ALNUM + "-_"
PASSWORD_CHARS = ALNUM + "!#$%()*+-./<>?@^_~[]"
URI_PASSWORD_CHARS = ALNUM + "-._~!$()*+,;=/"
BASE64 = ALNUM + "+/"
CONTEXT = st.text(alphabet=ALNUM + " .,:;/-()", max_size=40)


def _mixed(token: str) -> bool:
    return any(c.isdigit() for c in token) and any(c.isalpha() for c in token)


def _aws_like(key: str) -> bool:
    # Forty characters of base64 mixing both cases and digits; one starting with "/"
    # reads as a path and is left alone unless a key name comes before it.
    return (
        not key.startswith("/")
        and any(c.isupper() for c in key)
        and any(c.islower() for c in key)
        and any(c.isdigit() for c in key)
    )


def _not_a_port(password: str) -> bool:
    # "host:8080/path@x" is a port and a path, not a password: the rule must not take it.
    return re.match(r"\d{1,5}/", password) is None


@st.composite
def secrets_in_text(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A piece of text holding a secret, and the secret's parts that must not survive."""
    shape = draw(
        st.sampled_from(
            [
                "vendor",
                "generic",
                "bearer",
                "jwt",
                "kv",
                "uri",
                "redis",
                "cookie",
                "authorization",
                "aws_secret",
                "azure",
                "slack_webhook",
            ]
        )
    )
    if shape == "vendor":
        prefix, alphabet, size = draw(
            st.sampled_from(
                [
                    ("sk_live_", ALNUM, 24),
                    ("pk_test_", ALNUM, 24),
                    ("ghp_", ALNUM, 36),
                    ("github_pat_", ALNUM + "_", 60),
                    ("xoxb-", ALNUM + "-", 40),
                    ("AKIA", string.ascii_uppercase + string.digits, 16),
                    ("glpat-", B64URL, 20),
                    ("AIza", B64URL, 35),
                    ("sk-", B64URL, 48),
                ]
            )
        )
        body = draw(st.text(alphabet=alphabet, min_size=size, max_size=size))
        return prefix + body, [body]
    if shape == "generic":
        token = draw(st.text(alphabet=B64URL, min_size=32, max_size=64).filter(_mixed))
        return token, [token]
    if shape == "bearer":
        token = draw(st.text(alphabet=B64URL + ".~+/", min_size=10, max_size=80))
        scheme = draw(st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "ApiKey"]))
        return f"{scheme} {token}", [token]
    if shape == "jwt":
        parts = [draw(st.text(alphabet=B64URL, min_size=10, max_size=60)) for _ in range(3)]
        return "eyJ" + ".".join(parts), parts[1:]
    if shape == "kv":
        key = draw(
            st.sampled_from(
                [
                    "password",
                    "Password",
                    "PWD",
                    "passwd",
                    "api_key",
                    "apikey",
                    "access_token",
                    "client_secret",
                    "secret",
                    "token",
                    "auth_token",
                    "X-Api-Key",
                    "sessionid",
                    "accessToken",
                    "refreshToken",
                    "clientSecret",
                    "newPassword",
                    "apiKey",
                    "DBPASS",
                    "db_pass",
                    "dbPass",
                    "AccountKey",
                    "aws_secret_access_key",
                ]
            )
        )
        value = draw(st.text(alphabet=PASSWORD_CHARS, min_size=8, max_size=40))
        form = draw(
            st.sampled_from(["{k}={v}", "{k}: {v}", '"{k}": "{v}"', "{k}='{v}'", "?{k}={v}&x=1"])
        )
        return form.format(k=key, v=value), [value]
    if shape == "uri":
        scheme = draw(
            st.sampled_from(
                ["postgresql", "postgresql+psycopg", "mysql", "amqp", "https", "mongodb+srv"]
            )
        )
        user = draw(st.text(alphabet=ALNUM, min_size=1, max_size=12))
        password = draw(
            st.text(alphabet=URI_PASSWORD_CHARS, min_size=8, max_size=40).filter(_not_a_port)
        )
        return f"{scheme}://{user}:{password}@db.internal:5432/app", [password]
    if shape == "redis":
        password = draw(
            st.text(alphabet=URI_PASSWORD_CHARS, min_size=8, max_size=40).filter(_not_a_port)
        )
        return f"redis://:{password}@cache:6379/0", [password]
    if shape == "aws_secret":
        key = draw(st.text(alphabet=BASE64, min_size=40, max_size=40).filter(_aws_like))
        form = draw(
            st.sampled_from(
                [
                    "{v}",
                    "aws_secret_access_key={v}",
                    "AWS_SECRET_ACCESS_KEY: {v}",
                    '"SecretAccessKey": "{v}"',
                ]
            )
        )
        return form.format(v=key), [key]
    if shape == "azure":
        name = draw(
            st.text(alphabet=string.ascii_lowercase + string.digits, min_size=3, max_size=24)
        )
        key = draw(st.text(alphabet=BASE64, min_size=8, max_size=86)) + draw(
            st.sampled_from(["", "=", "=="])
        )
        form = draw(
            st.sampled_from(
                [
                    "DefaultEndpointsProtocol=https;AccountName={n};AccountKey={k};EndpointSuffix=core.windows.net",
                    "Endpoint=sb://{n}.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey={k}",
                ]
            )
        )
        return form.format(n=name, k=key), [key]
    if shape == "slack_webhook":
        ids = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=8, max_size=11)
        team, channel = draw(ids), draw(ids)
        token = draw(st.text(alphabet=ALNUM, min_size=24, max_size=24))
        return f"https://hooks.slack.com/services/T{team}/B{channel}/{token}", [token]
    if shape == "cookie":
        value = draw(st.text(alphabet=B64URL + ".%", min_size=8, max_size=60))
        return f"Cookie: sid={value}; theme=dark", [value]
    value = draw(st.text(alphabet=B64URL + ".~+/ ", min_size=8, max_size=60).filter(str.strip))
    return f"Authorization: {value.strip()}", [value.strip()]


FIELDS = ["path", "user_agent", "subject", "tenant", "reason", "metadata", "nested", "key"]
BASELINE = "\n".join(outputs_of_every_sink([event_with(path="/p", metadata={"m": "x"})]).values())


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(found=secrets_in_text(), before=CONTEXT, after=CONTEXT, field=st.sampled_from(FIELDS))
def test_no_generated_secret_survives_into_any_sink(
    found: tuple[str, list[str]], before: str, after: str, field: str
) -> None:
    text, parts = found
    for part in parts:
        assume(len(part) >= 8 and part not in BASELINE and part not in before + after)
        assume(part not in REDACTED)
        assume(text.count(part) == 1)  # not also the account's name, or a key's name
    value = f"{before} {text} {after}"
    fields: dict[str, Any] = {}
    if field == "metadata":
        fields["metadata"] = {"note": value}
    elif field == "nested":
        fields["metadata"] = {"request": {"headers": [value]}}
    elif field == "key":
        fields["metadata"] = {"password": parts[0], "cookie": parts[0], "apiKey": parts[0]}
    else:
        fields[field] = value
    outputs = outputs_of_every_sink([event_with(**fields)])
    for sink, output in outputs.items():
        assert output, sink
        for part in parts:
            assert part not in output, f"{sink} kept a secret: {output[:500]}"


@settings(max_examples=40, deadline=None)
@given(secret=st.text(alphabet=PASSWORD_CHARS, min_size=12, max_size=30), pad=st.integers(0, 40))
def test_a_secret_at_the_10_kb_edge_is_redacted_before_the_cut(secret: str, pad: int) -> None:
    assume(secret not in BASELINE)
    value = "x " * (5110 + pad) + f"password={secret}"
    outputs = outputs_of_every_sink([event_with(user_agent=value)])
    for output in outputs.values():
        assert secret not in output


# Pieces of what each rule looks for: repeated into a long text, they make a rule that
# backtracks (or rescans from every start) take quadratic time or worse.
HOSTILE_PIECES = [
    "accessToken",
    "DBPASS",
    "db_pass",
    "dbPass",
    "AccountKey=",
    "Password=",
    "x://",
    "u:",
    ":",
    "/",
    "@",
    "+",
    "=",
    '"',
    " ",
    "hooks.slack.com/services/",
    "aB1",
    "wJalrXUtnFEMI",
    "eyJ",
    "Bearer ",
    "token ",
    "Cookie:",
    "-----BEGIN PRIVATE KEY-----",
]


@settings(max_examples=40, deadline=None)
@given(unit=st.lists(st.sampled_from(HOSTILE_PIECES), min_size=1, max_size=6).map("".join))
def test_long_text_built_from_rule_pieces_runs_in_linear_time(unit: str) -> None:
    hostile = unit * (100_000 // len(unit) + 1)
    started = time.perf_counter()
    Redactor().text(hostile)
    # 100 KB through linear rules takes well under a second; a quadratic one, minutes.
    assert time.perf_counter() - started < 5.0


WITHOUT_HINTS = Redactor(rules=[dataclasses.replace(rule, hints=()) for rule in DEFAULT_RULES])


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(
        st.one_of(
            st.text(max_size=20),
            st.sampled_from(
                [
                    "Password=",
                    "\u017fecret: ",  # a long s: folds to "s" like re.IGNORECASE does
                    "Bearer ",
                    "eyJ",
                    "://",
                    "@",
                    "Cookie:",
                    "TOKEN ",
                    "Authorization=",
                    "-----BEGIN PRIVATE KEY-----",
                    " ",
                    "1",
                    "dbPass=",
                    "DBPASS: ",
                    "AccountKey=",
                    "hooks.slack.com/services/",
                    "HOOKS.\u017fLACK.COM/services/",
                ]
            ),
        ),
        max_size=12,
    ).map("".join)
)
def test_the_hint_fast_path_never_changes_a_result(text: str) -> None:
    assert Redactor().text(text) == WITHOUT_HINTS.text(text)


# -- printable: text from a request, safe for one log line or a terminal ------------------
@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param("/a\nGET /admin 200", "/a\\nGET /admin 200", id="forged-line"),
        pytest.param("/a\r\n", "/a\\r\\n", id="crlf"),
        pytest.param("\x1b[2J\x1b]0;owned\x07", "\\x1b[2J\\x1b]0;owned\\x07", id="ansi"),
        pytest.param("tab\there\x00", "tab\\there\\x00", id="tab-and-nul"),
        pytest.param("del\x7f", "del\\x7f", id="del"),
        pytest.param("\x85next\x9b31m", "\\x85next\\x9b31m", id="c1"),
        pytest.param("a\u2028b\u2029c", "a\\u2028b\\u2029c", id="unicode-separators"),
        pytest.param("admin\u202etxt.exe", "admin\\u202etxt.exe", id="right-to-left-override"),
        pytest.param("\u202a\u202c\u2066\u2069", "\\u202a\\u202c\\u2066\\u2069", id="bidi"),
        pytest.param("lone \udc80", "lone \\udc80", id="lone-surrogate"),
        pytest.param("C:\\x1b", "C:\\\\x1b", id="backslash-doubled"),
        pytest.param("/café/Ωμέγα/日本 ok", "/café/Ωμέγα/日本 ok", id="other-text-kept"),
    ],
)
def test_printable_shows_control_characters_as_escapes(text: str, shown: str) -> None:
    assert printable(text) == shown


def _unescape(shown: str) -> str:
    # Non-ASCII text passes printable unchanged; make it an escape too, then read every
    # escape back with Python's own decoder.
    return shown.encode("ascii", "backslashreplace").decode("unicode_escape")


UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


@settings(max_examples=300)
@given(
    text=st.text(
        st.one_of(
            st.characters(),
            st.sampled_from("\\\n\r\x1b\x7f\x85\u2028\u2029\u202e\u2067\ud800"),
        )
    )
)
def test_printable_keeps_one_line_and_reads_back(text: str) -> None:
    shown = printable(text)
    assert UNSAFE.search(shown) is None
    assert len(shown.splitlines()) <= 1
    shown.encode("utf-8", "strict")
    assert _unescape(shown) == text
