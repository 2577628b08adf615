"""URL settings: what a browser may be sent to, and which origins may be trusted."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from idleguard.urls import check_local_path, check_origin, check_redirect_url

BASE = "https://app.example/account/page"

GOOD_REDIRECTS = [
    pytest.param("/login", id="local"),
    pytest.param("/", id="root"),
    pytest.param("/sso/start?app=1&next=%2Fhome", id="local-with-query"),
    # Browsers do not decode escapes when they resolve a redirect: these stay on this site.
    pytest.param("/%5Cevil.example", id="percent-encoded-backslash"),
    pytest.param("/%2F/evil.example", id="percent-encoded-slash"),
    pytest.param("/caf%C3%A9", id="percent-encoded-non-ascii"),
    pytest.param("https://sso.example/login", id="https"),
    pytest.param("http://localhost:8000/login", id="http-with-port"),
    pytest.param("HTTPS://SSO.example/login", id="scheme-in-capitals"),
    pytest.param("https://[2001:db8::1]:8443/login", id="ipv6-host"),
    pytest.param("https://sso.example/login?next=//x#top", id="query-and-fragment"),
    pytest.param("https://sso_internal.corp/", id="underscore-in-host"),
    pytest.param("https://sso.example.", id="fully-qualified-host"),
]

BAD_REDIRECTS = [
    pytest.param("/\\evil.example", "backslash", id="slash-backslash"),
    pytest.param("\\/evil.example", "backslash", id="backslash-slash"),
    pytest.param("\\\\evil.example", "backslash", id="two-backslashes"),
    pytest.param("/login\\..\\x", "backslash", id="backslash-later"),
    pytest.param("//evil.example", "'//'", id="protocol-relative"),
    pytest.param("///evil.example", "'//'", id="three-slashes"),
    pytest.param("https://evil.example\\@good.example", "backslash", id="backslash-before-at"),
    pytest.param("https://good.example@evil.example", "user info", id="userinfo"),
    pytest.param("https://user:pw@good.example/", "user info", id="userinfo-password"),
    pytest.param("javascript:alert(1)", "neither", id="javascript"),
    pytest.param("JavaScript:alert(1)", "neither", id="javascript-capitals"),
    pytest.param("data:text/html,<script>", "neither", id="data"),
    pytest.param("ftp://files.example/", "neither", id="ftp"),
    pytest.param("login", "neither", id="relative"),
    pytest.param("?next=/x", "neither", id="query-only"),
    pytest.param("", "empty", id="empty"),
    pytest.param("/login\r\nSet-Cookie: x=1", "control character", id="crlf"),
    pytest.param("/login\n", "control character", id="lf"),
    pytest.param("/login\t", "control character", id="tab"),
    pytest.param("/login\x00", "control character", id="nul"),
    pytest.param("/login\x7f", "control character", id="del"),
    pytest.param("/login\x85", "control character", id="c1-next-line"),
    pytest.param("/log in", "whitespace", id="space"),
    pytest.param(" /login", "whitespace", id="leading-space"),
    pytest.param("/login\u00a0", "whitespace", id="no-break-space"),
    pytest.param("/login\u2028", "whitespace", id="line-separator"),
    pytest.param("/caf\u00e9", "non-ASCII", id="non-ascii-path"),
    pytest.param("https://\u0435vil.example/", "non-ASCII", id="lookalike-host"),
    pytest.param("https:///x", "no host", id="no-host"),
    pytest.param("https://", "no host", id="scheme-only"),
    pytest.param("https://:443/", "no host", id="port-without-host"),
    pytest.param("https:/evil.example", "'//'", id="one-slash"),
    pytest.param("https:evil.example", "'//'", id="no-slash"),
    pytest.param("https://evil.example:99999/", "port", id="port-out-of-range"),
    pytest.param("https://evil.example:x/", "port", id="port-not-a-number"),
    pytest.param("https://[evil]/", "not a URL|IPv6", id="brackets-not-ipv6"),
    pytest.param("https://[::1/", "not a URL", id="unbalanced-bracket"),
    pytest.param("https://ev%69l.example/", "host name", id="escaped-host"),
    pytest.param("https://-evil.example/", "host name", id="bad-label"),
]


@pytest.mark.parametrize("url", GOOD_REDIRECTS)
def test_safe_redirect_urls_are_accepted_unchanged(url: str) -> None:
    assert check_redirect_url("login_url", url) == url


@pytest.mark.parametrize(("url", "problem"), BAD_REDIRECTS)
@pytest.mark.parametrize("name", ["login_url", "step_up_url"])
def test_unsafe_redirect_urls_are_refused_with_the_setting_the_value_and_the_rule(
    name: str, url: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem) as refused:
        check_redirect_url(name, url)
    message = str(refused.value)
    assert message.startswith(f"{name} {url!r} is refused: ")
    assert f"{name} takes a local path like '/login'" in message
    assert "http(s) URL" in message
    assert "\r" not in message
    assert "\n" not in message


def test_a_redirect_url_that_is_not_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="login_url must be a string, not bytes"):
        check_redirect_url("login_url", b"/login")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        pytest.param("/_idleguard/", None, id="good"),
        pytest.param("https://evil.example/", "does not start with '/'", id="absolute"),
        pytest.param("//evil/", "'//'", id="protocol-relative"),
        pytest.param("/a\\b/", "backslash", id="backslash"),
        pytest.param("/_idle\r\nguard/", "control character", id="crlf"),
    ],
)
def test_a_local_path_setting_accepts_only_local_paths(path: str, problem: str | None) -> None:
    if problem is None:
        assert check_local_path("endpoint_prefix", path, example="/_idleguard/") == path
        return
    with pytest.raises(ValueError, match=re.escape(problem)) as refused:
        check_local_path("endpoint_prefix", path, example="/_idleguard/")
    assert str(refused.value).startswith(f"endpoint_prefix {path!r} is refused: ")
    assert "takes a local path like '/_idleguard/'" in str(refused.value)


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        pytest.param("https://front.example", "https://front.example", id="https"),
        pytest.param("https://front.example/", "https://front.example", id="trailing-slash"),
        pytest.param("HTTPS://Front.Example", "https://front.example", id="capitals"),
        pytest.param("http://localhost:8000", "http://localhost:8000", id="port"),
        pytest.param("https://[::1]:8443", "https://[::1]:8443", id="ipv6"),
        # A browser's Origin never names the scheme's own port.
        pytest.param("https://front.example:443", "https://front.example", id="https-443"),
        pytest.param("http://front.example:80/", "http://front.example", id="http-80"),
        pytest.param("http://front.example:443", "http://front.example:443", id="http-443"),
        pytest.param("https://front.example:4430", "https://front.example:4430", id="port-4430"),
    ],
)
def test_origins_are_accepted_in_the_form_requests_are_compared_in(
    origin: str, expected: str
) -> None:
    assert check_origin("trusted_origins", origin) == expected


@pytest.mark.parametrize(
    ("origin", "problem"),
    [
        pytest.param("https://front.example/app", "has a path", id="path"),
        pytest.param("https://front.example//", "has a path", id="double-slash-path"),
        pytest.param("https://front.example?x=1", "query", id="query"),
        pytest.param("https://front.example#x", "fragment", id="fragment"),
        pytest.param("null", "scheme", id="null"),
        pytest.param("front.example", "scheme", id="no-scheme"),
        pytest.param("*", "scheme", id="wildcard"),
        pytest.param("ftp://front.example", "scheme", id="ftp"),
        pytest.param("https://user@front.example", "user info", id="userinfo"),
        pytest.param("https://front.example\\", "backslash", id="backslash"),
        pytest.param("https://front.example\r\n", "control character", id="crlf"),
        pytest.param(" https://front.example", "whitespace", id="space"),
        pytest.param("https://", "no host", id="no-host"),
    ],
)
def test_what_is_not_an_origin_is_refused(origin: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as refused:
        check_origin("trusted_origins", origin)
    message = str(refused.value)
    assert message.startswith(f"trusted_origins {origin!r} is refused: ")
    assert "trusted_origins takes origins like 'https://app.example'" in message


def browser_location(url: str) -> str:
    """Where a browser on ``BASE`` goes for ``Location: url`` (the WHATWG URL parser's leniency).

    It drops leading and trailing C0 controls and spaces and every tab and
    newline, and reads a backslash as a slash in http(s) URLs.
    """
    cleaned = url.strip("".join(map(chr, range(0x21))))
    cleaned = re.sub("[\t\n\r]", "", cleaned).replace("\\", "/")
    return urljoin(BASE, cleaned)


#: Pieces of URLs, harmless and hostile, that the generated values are made of.
URL_PARTS = st.sampled_from(
    [
        *("/", "//", "\\", "/\\", "https:", "https://", "http://", "@", ":", ".", "?", "#"),
        *("%5C", "evil.example", "app.example", "login", "x"),
        *(" ", "\t", "\r\n", "\x00", "\x85", "\u00e9"),
    ]
)


@given(st.lists(URL_PARTS, max_size=8).map("".join))
@example("/\\evil.example")
@example("https://evil.example\\@app.example")
@example("/\t/evil.example")
def test_an_accepted_redirect_never_leaves_for_a_host_the_check_did_not_see(url: str) -> None:
    try:
        check_redirect_url("login_url", url)
    except ValueError:
        return
    location = urlsplit(browser_location(url))
    assert browser_location(url) == urljoin(BASE, url), "the browser would rewrite it"
    assert location.username is None
    expected_host = "app.example" if url.startswith("/") else urlsplit(url).hostname
    assert location.hostname == expected_host
    assert url.isascii()
    assert url.isprintable()


@given(
    st.sampled_from(["/login", "https://sso.example/login"]),
    st.integers(min_value=0, max_value=30),
    st.sampled_from(
        [chr(code) for code in (*range(0x21), *range(0x7F, 0xA1))] + ["\\", "\u2028", "\u3000"]
    ),
)
def test_one_unsafe_character_anywhere_is_refused(good: str, position: int, bad: str) -> None:
    url = good[: position % (len(good) + 1)] + bad + good[position % (len(good) + 1) :]
    with pytest.raises(ValueError, match="login_url"):
        check_redirect_url("login_url", url)
