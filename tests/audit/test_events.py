"""The event schema: its JSON form, the shipped JSON Schema, and the request facts it carries."""

from __future__ import annotations

import json
import re
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from idleguard.events import SCHEMA_VERSION, Event, EventType
from idleguard.facts import ProxyTrust, RequestFacts, client_address
from idleguard.testing import EventCollector

from .harness import ADAPTERS, make_client

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "docs" / "event.schema.json").read_text(encoding="utf-8")
)


def test_every_event_type_is_in_the_schema() -> None:
    assert set(SCHEMA["properties"]["type"]["enum"]) == {kind.value for kind in EventType}
    assert SCHEMA["properties"]["version"]["const"] == SCHEMA_VERSION


@pytest.mark.parametrize("kind", list(EventType), ids=lambda kind: kind.value)
def test_json_form_matches_the_schema_and_reads_back(kind: EventType) -> None:
    event = Event(
        type=kind,
        at=1_800_000_000.25,
        session="0123456789abcdef0123",
        subject="ada",
        tenant="acme",
        reason="idle",
        idle_seconds=901.5,
        path="/billing",
        method="GET",
        client_ip="203.0.113.9",
        user_agent="Mozilla/5.0",
        policy={"idle_timeout": 900.0, "absolute_timeout": None},
        metadata={"actor": "admin@acme", "old": 1800, "new": 900},
    )
    data = json.loads(event.to_json())
    jsonschema.validate(data, SCHEMA)
    assert data["at"] == "2027-01-15T08:00:00.250000+00:00"
    assert data["type"] == kind.value
    assert Event.from_dict(data) == event


@pytest.mark.parametrize(
    "record",
    [
        pytest.param({}, id="empty"),
        pytest.param({"type": "no_such_event", "at": "2026-01-01T00:00:00+00:00"}, id="type"),
        pytest.param({"type": "session_started", "at": "yesterday"}, id="time"),
        pytest.param(
            {"type": "session_started", "at": 1.0, "metadata": ["x"]}, id="metadata-not-object"
        ),
    ],
)
def test_a_record_that_is_not_an_event_is_refused(record: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not an idleguard event"):
        Event.from_dict(record)


def facts(forwarded: str | None, peer: str | None = "10.0.0.2") -> RequestFacts:
    headers = {} if forwarded is None else {"x-forwarded-for": forwarded}
    return RequestFacts("GET", "/", headers, client=peer)


PROXIES = ("10.0.0.0/8", "::1")
BEHIND_PROXIES = ProxyTrust.parse(PROXIES)


@pytest.mark.parametrize(
    ("forwarded", "peer", "trust", "expected"),
    [
        # Without trusted proxies nobody is believed.
        pytest.param("198.51.100.1", "10.0.0.2", ProxyTrust(), "10.0.0.2", id="no-proxies"),
        pytest.param(None, "10.0.0.2", ProxyTrust(), "10.0.0.2", id="no-proxies-no-header"),
        pytest.param("198.51.100.1", None, BEHIND_PROXIES, None, id="no-peer"),
        # A client that reaches the app directly cannot name itself.
        pytest.param(
            "6.6.6.6", "203.0.113.9", BEHIND_PROXIES, "203.0.113.9", id="direct-client-spoofs"
        ),
        pytest.param(
            "6.6.6.6",
            "203.0.113.9",
            ProxyTrust.parse(PROXIES, 1),
            "203.0.113.9",
            id="direct-client-spoofs-with-depth",
        ),
        pytest.param("6.6.6.6", "testclient", BEHIND_PROXIES, "testclient", id="peer-not-an-ip"),
        # From a trusted proxy: right to left, past every trusted proxy.
        pytest.param("198.51.100.1", "10.0.0.2", BEHIND_PROXIES, "198.51.100.1", id="one-proxy"),
        pytest.param(
            "6.6.6.6, 198.51.100.1", "10.0.0.2", BEHIND_PROXIES, "198.51.100.1", id="spoofed-left"
        ),
        pytest.param(
            "6.6.6.6, 198.51.100.1, 10.1.1.1",
            "10.0.0.2",
            BEHIND_PROXIES,
            "198.51.100.1",
            id="trusted-hops-skipped",
        ),
        pytest.param(
            "198.51.100.1, ::1", "::1", BEHIND_PROXIES, "198.51.100.1", id="ipv6-proxy-peer"
        ),
        pytest.param(
            "198.51.100.1",
            "::ffff:10.0.0.2",
            BEHIND_PROXIES,
            "198.51.100.1",
            id="ipv4-mapped-peer",
        ),
        pytest.param(
            "198.51.100.1, ::ffff:10.1.1.1",
            "10.0.0.2",
            BEHIND_PROXIES,
            "198.51.100.1",
            id="ipv4-mapped-hop",
        ),
        pytest.param(
            "10.9.9.9, 10.1.1.1", "10.0.0.2", BEHIND_PROXIES, "10.9.9.9", id="every-hop-trusted"
        ),
        pytest.param(None, "10.0.0.2", BEHIND_PROXIES, "10.0.0.2", id="proxy-forwards-nothing"),
        pytest.param(
            " , 198.51.100.1 ,, ", "10.0.0.2", BEHIND_PROXIES, "198.51.100.1", id="empty-entries"
        ),
        pytest.param(
            "6.6.6.6, not-an-ip", "10.0.0.2", BEHIND_PROXIES, None, id="garbage-on-the-way"
        ),
        pytest.param(
            "not-an-ip, 198.51.100.1",
            "10.0.0.2",
            BEHIND_PROXIES,
            "198.51.100.1",
            id="garbage-left-of-the-client",
        ),
        pytest.param(
            "198.51.100.1:4431", "10.0.0.2", BEHIND_PROXIES, "198.51.100.1", id="with-port"
        ),
        pytest.param(
            "[2001:db8::1]:443", "10.0.0.2", BEHIND_PROXIES, "2001:db8::1", id="ipv6-with-port"
        ),
        pytest.param(
            "2001:DB8::1", "10.0.0.2", BEHIND_PROXIES, "2001:db8::1", id="ipv6-normalized"
        ),
        # A depth picks the N-th entry from the right, as before, once the peer is trusted.
        pytest.param(
            "6.6.6.6, 198.51.100.1",
            "10.0.0.2",
            ProxyTrust.parse(PROXIES, 1),
            "198.51.100.1",
            id="depth-one",
        ),
        pytest.param(
            "6.6.6.6, 198.51.100.1, 203.0.113.50",
            "10.0.0.2",
            ProxyTrust.parse(PROXIES, 2),
            "198.51.100.1",
            id="depth-two",
        ),
        pytest.param(
            "198.51.100.1", "10.0.0.2", ProxyTrust.parse(PROXIES, 2), None, id="depth-too-few"
        ),
        pytest.param(None, "10.0.0.2", ProxyTrust.parse(PROXIES, 1), None, id="depth-no-header"),
        pytest.param(
            "not-an-ip", "10.0.0.2", ProxyTrust.parse(PROXIES, 1), None, id="depth-garbage"
        ),
    ],
)
def test_client_address_believes_only_trusted_proxies(
    forwarded: str | None, peer: str | None, trust: ProxyTrust, expected: str | None
) -> None:
    assert client_address(facts(forwarded, peer), trust) == expected


def untrusted(address: IPv4Address | IPv6Address) -> bool:
    return not BEHIND_PROXIES.trusts(address)


TRUSTED_HOPS = st.lists(st.ip_addresses(network="10.0.0.0/8"), max_size=4)


@given(st.ip_addresses().filter(untrusted), st.text())
@example(ip_address("203.0.113.9"), "198.51.100.1")
def test_a_peer_that_is_no_proxy_is_the_client_whatever_it_sends(
    peer: IPv4Address | IPv6Address, forwarded: str
) -> None:
    assert client_address(facts(forwarded, str(peer)), BEHIND_PROXIES) == str(peer)


@given(
    st.text(),
    st.ip_addresses().filter(untrusted),
    TRUSTED_HOPS,
    st.ip_addresses(network="10.0.0.0/8"),
)
@example("10.0.0.7, ::1", ip_address("198.51.100.1"), [], ip_address("10.0.0.2"))
def test_what_the_client_writes_never_changes_the_answer(
    claimed: str,
    client: IPv4Address | IPv6Address,
    hops: list[IPv4Address | IPv6Address],
    peer: IPv4Address | IPv6Address,
) -> None:
    # The client writes ``claimed``; the first proxy appends the client's address and
    # every further proxy the address of the one before it.
    forwarded = ", ".join([claimed, str(client), *map(str, hops)])
    request = facts(forwarded, str(peer))
    assert client_address(request, BEHIND_PROXIES) == str(client)
    depth = ProxyTrust.parse(PROXIES, len(hops) + 1)
    assert client_address(request, depth) == str(client)


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize(
    ("peer", "options", "expected"),
    [
        pytest.param("192.0.2.50", {}, "192.0.2.50", id="peer"),
        pytest.param(
            "10.0.0.2", {"trusted_proxies": ["10.0.0.0/8"]}, "203.0.113.4", id="trusted-proxy"
        ),
        pytest.param(
            "10.0.0.2",
            {"trusted_proxies": ["10.0.0.0/8"], "trusted_proxy_depth": 1},
            "203.0.113.4",
            id="trusted-proxy-with-depth",
        ),
        pytest.param(
            "192.0.2.50",
            {"trusted_proxies": ["10.0.0.0/8"], "trusted_proxy_depth": 1},
            "192.0.2.50",
            id="direct-client-not-believed",
        ),
    ],
)
def test_events_carry_client_address_and_user_agent(
    adapter: str, peer: str, options: dict[str, Any], expected: str
) -> None:
    events = EventCollector()
    client = make_client(adapter, peer=peer, on_event=events, **options)
    client.request(
        "POST",
        "/login",
        "user=ada",
        headers=[("user-agent", "Tester/1.0"), ("x-forwarded-for", "6.6.6.6, 203.0.113.4")],
    )
    (event,) = events.events
    assert event.client_ip == expected
    assert event.user_agent == "Tester/1.0"


def test_a_proxy_depth_without_trusted_proxies_fails_at_start() -> None:
    with pytest.raises(ValueError, match=r"trusted_proxy_depth=1 needs trusted_proxies=: list"):
        make_client("wsgi", trusted_proxy_depth=1)


@pytest.mark.parametrize(
    ("proxies", "error", "message"),
    [
        pytest.param(
            ["not-an-ip"], ValueError, "trusted_proxies: 'not-an-ip' is not", id="not-an-address"
        ),
        pytest.param(
            ["10.0.0.1/8"],
            ValueError,
            "trusted_proxies: '10.0.0.1/8' is not an IP address or network "
            "(10.0.0.1/8 has host bits set)",
            id="host-bits",
        ),
        pytest.param(
            ["10.0.0.0/33"], ValueError, "trusted_proxies: '10.0.0.0/33' is not", id="prefix"
        ),
        pytest.param(["127.0.0.1", "*"], ValueError, "trusted_proxies: '*' is not", id="wildcard"),
        pytest.param([""], ValueError, "trusted_proxies: '' is not", id="empty"),
        pytest.param("10.0.0.0/8", TypeError, "trusted_proxies must be a list", id="one-string"),
        pytest.param([10], TypeError, "trusted_proxies: 10 must be a string", id="not-a-string"),
    ],
)
def test_a_bad_trusted_proxy_fails_at_start_naming_it(
    proxies: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        make_client("wsgi", trusted_proxies=proxies)


@pytest.mark.parametrize(
    ("depth", "error"),
    [pytest.param(-1, ValueError, id="negative"), pytest.param(True, TypeError, id="bool")],
)
def test_a_bad_proxy_depth_fails_at_start(depth: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="trusted_proxy_depth"):
        make_client("wsgi", trusted_proxy_depth=depth)
