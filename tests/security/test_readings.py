"""One reading of a request: idleguard checks exactly the credential the app reads, or refuses.

The cookie parsers of werkzeug (Flask), Starlette (FastAPI) and Django are
the references: for any ``Cookie`` header, idleguard's value is either
:data:`~idleguard.facts.AMBIGUOUS` (the request is refused) or what every
one of them reads. A state machine then mixes what a request may carry
besides its credential (an API key, an exempt or passive path, a second
copy of the cookie) and checks that none of it ever serves an ended session.
"""

from __future__ import annotations

import hypothesis.strategies as st
from django.http.cookie import parse_cookie as django_parse_cookie
from hypothesis import HealthCheck, example, given, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from starlette.requests import cookie_parser as starlette_parse_cookie
from werkzeug.http import parse_cookie as werkzeug_parse_cookie

from idleguard import AppCookie
from idleguard.facts import AMBIGUOUS, bearer_token, cookie_value
from idleguard.stores import MemoryStore
from idleguard.testing import EventCollector, SettableClock
from tests.scenarios.test_app_credentials import POLICY, build

NAME = "sid"
#: How old last activity must be before a request writes it again (the app's policy).
TOUCH_INTERVAL = POLICY.touch_interval

_names = st.sampled_from(
    [NAME, f" {NAME}", f"{NAME} ", f"\t{NAME}", f"{NAME}\t", f"\x0b{NAME}", f"{NAME}\x1c",
     f'"{NAME}"', NAME.upper(), f"{NAME}x", f"x{NAME}", "other", ""]
)  # fmt: skip
_values = st.one_of(
    st.sampled_from(["", "abc", "abc ", " abc", '"abc"', '"\\141bc"', '"a;b"', "a b", "a,b",
                     "a=b", "a\\b", "%61bc", '"', "é", "\x00a", "abc\t"]),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=6),
)  # fmt: skip
_pairs = st.one_of(
    st.tuples(_names, _values).map(lambda pair: f"{pair[0]}={pair[1]}"),
    _names,  # a name with no "="
)
_separators = st.sampled_from([";", "; ", ";;", " ; ", ";\t"])


@st.composite
def cookie_headers(draw: st.DrawFn) -> str:
    pairs = draw(st.lists(_pairs, min_size=1, max_size=4))
    header = pairs[0]
    for pair in pairs[1:]:
        header += draw(_separators) + pair
    return header


def _werkzeug(header: str) -> str:
    return werkzeug_parse_cookie(header).get(NAME) or ""


def _starlette(header: str) -> str:
    return starlette_parse_cookie(header).get(NAME) or ""


def _django(header: str) -> str:
    return django_parse_cookie(header).get(NAME) or ""


@settings(max_examples=2000, deadline=None)
@given(cookie_headers())
@example('SID=";sid=abc;SID="')  # a quoted value swallowing a ";": werkzeug sees no sid
@example("sid;sid=abc")  # werkzeug reads the bare name as sid=""
def test_a_cookie_is_read_as_every_framework_reads_it_or_refused(header: str) -> None:
    value = cookie_value(header, NAME)
    if value is AMBIGUOUS:
        return
    try:
        werkzeug = _werkzeug(header)
    except UnicodeDecodeError:  # werkzeug cannot read a non-UTF-8 header at all
        werkzeug = value or ""
    # A cookie absent and a cookie present but empty both mean "no credential".
    expected = value or ""
    assert werkzeug == expected, ("werkzeug", header)
    assert _starlette(header) == expected, ("starlette", header)
    assert _django(header) == expected, ("django", header)


@given(
    st.one_of(
        st.builds(
            lambda scheme, space, token: f"{scheme}{space}{token}",
            st.sampled_from(["Bearer", "bearer", "BEARER", "Bearer:", "Basic", "Token"]),
            st.sampled_from([" ", "  ", "\t", "", " \t"]),
            st.sampled_from(["abc", "a.b-c_~+/=", "abc, Bearer x", "a b", "", "abc\t"]),
        ),
        st.text(max_size=12),
    )
)
def test_a_bearer_token_is_read_one_way_or_refused(authorization: str) -> None:
    token = bearer_token(authorization)
    if token is None:
        assert "bearer" not in authorization.lower()
    elif token is not AMBIGUOUS:
        # Every way an app splits the header gives the same token.
        assert authorization.split()[1] == token
        assert authorization.partition(" ")[2].strip() == token
        assert authorization[7:] == token
        assert len(authorization.split()) == 2


class CredentialInTwoReadings(RuleBasedStateMachine):
    """A session guarded on an app cookie, hit with everything a request may carry besides it.

    The model: the session lives while it is neither idle past 900 s nor
    older than 3,600 s; only a plain request counts as activity. Whatever a
    request adds (an API key, an exempt path, a second cookie, a quoted
    copy), it is never served as the session once the model says it ended.
    """

    kind = "wsgi"

    def __init__(self) -> None:
        super().__init__()
        self.clock = SettableClock()
        self.store = MemoryStore(clock=self.clock)
        self.client = build(
            self.kind, AppCookie("session"), self.clock, self.store, EventCollector()
        )
        self.token: str | None = None
        self.created = self.last = 0.0
        self.ended = False

    @rule()
    def sign_in(self) -> None:
        self.client.cookies.clear()
        self.client.post("/token")
        self.token = self.client.cookies["session"]
        self.created = self.last = self.clock()
        self.ended = False

    @rule(seconds=st.sampled_from([1.0, 200.0, 450.0, 899.0, 901.0, 2000.0]))
    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def _alive(self) -> bool:
        now = self.clock()
        return not self.ended and now - self.last < 900 and now - self.created < 3600

    @precondition(lambda self: self.token is not None)
    @rule(
        extra=st.sampled_from(
            ["plain", "api-key", "apikey-auth", "passive", "duplicate-first", "duplicate-last",
             "quoted", "spaced-name"]
        )
    )  # fmt: skip
    def request(self, extra: str) -> None:
        assert self.token is not None
        alive = self._alive()
        cookie = f"session={self.token}"
        headers: dict[str, str] = {}
        if extra == "api-key":
            headers["x-api-key"] = "k"
        elif extra == "apikey-auth":
            headers["authorization"] = "ApiKey k"
        elif extra == "passive":
            headers["x-idleguard-passive"] = "1"
        elif extra == "duplicate-first":
            cookie = f"session=x; {cookie}"
        elif extra == "duplicate-last":
            cookie = f"{cookie}; session=x"
        elif extra == "quoted":
            cookie = f'session="{self.token}"'
        elif extra == "spaced-name":
            cookie = f"session ={self.token}"
        headers["cookie"] = cookie
        response = self.client.get("/me", headers=headers, cookies=False)
        served = response.status == 200 and response.json().get("user") == "svc"
        if served:
            assert alive, f"an ended session was served with {extra}"
        if alive and extra in ("plain", "spaced-name"):
            assert served
            # Last activity is written again only once it is touch_interval old.
            if self.clock() - self.last >= TOUCH_INTERVAL:
                self.last = self.clock()
        elif not alive:
            self.ended = True  # refused once, refused for good

    @invariant()
    def nothing_for_unknown_credentials(self) -> None:
        assert len(self.store) <= 100


class CredentialInTwoReadingsAsgi(CredentialInTwoReadings):
    kind = "asgi"


_machine_settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCredentialInTwoReadingsWsgi = CredentialInTwoReadings.TestCase
TestCredentialInTwoReadingsWsgi.settings = _machine_settings
TestCredentialInTwoReadingsAsgi = CredentialInTwoReadingsAsgi.TestCase
TestCredentialInTwoReadingsAsgi.settings = _machine_settings
