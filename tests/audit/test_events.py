"""The event schema: its JSON form, the shipped JSON Schema, and the request facts it carries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from idleguard.events import SCHEMA_VERSION, Event, EventType
from idleguard.facts import RequestFacts, client_address
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


@pytest.mark.parametrize(
    ("forwarded", "depth", "expected"),
    [
        pytest.param("198.51.100.1", 0, "10.0.0.2", id="no-proxy-ignores-the-header"),
        pytest.param(None, 0, "10.0.0.2", id="no-proxy-peer"),
        pytest.param("198.51.100.1", 1, "198.51.100.1", id="one-proxy"),
        pytest.param("6.6.6.6, 198.51.100.1", 1, "198.51.100.1", id="spoofed-left-entry-ignored"),
        pytest.param("6.6.6.6, 198.51.100.1, 10.1.1.1", 2, "198.51.100.1", id="two-proxies"),
        pytest.param("198.51.100.1", 2, None, id="too-few-entries"),
        pytest.param(None, 1, None, id="proxy-expected-but-no-header"),
        pytest.param("not-an-ip", 1, None, id="garbage"),
        pytest.param("198.51.100.1:4431", 1, "198.51.100.1", id="with-port"),
        pytest.param("[2001:db8::1]:443", 1, "2001:db8::1", id="ipv6-with-port"),
        pytest.param("2001:DB8::1", 1, "2001:db8::1", id="ipv6-normalized"),
    ],
)
def test_client_address_trusts_only_the_configured_proxies(
    forwarded: str | None, depth: int, expected: str | None
) -> None:
    assert client_address(facts(forwarded), depth) == expected


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize(
    ("depth", "expected"),
    [pytest.param(0, "192.0.2.50", id="peer"), pytest.param(1, "203.0.113.4", id="proxy")],
)
def test_events_carry_client_address_and_user_agent(
    adapter: str, depth: int, expected: str
) -> None:
    events = EventCollector()
    client = make_client(adapter, peer="192.0.2.50", on_event=events, trusted_proxy_depth=depth)
    client.request(
        "POST",
        "/login",
        "user=ada",
        headers=[("user-agent", "Tester/1.0"), ("x-forwarded-for", "6.6.6.6, 203.0.113.4")],
    )
    (event,) = events.events
    assert event.client_ip == expected
    assert event.user_agent == "Tester/1.0"


@pytest.mark.parametrize(
    ("depth", "error"),
    [pytest.param(-1, ValueError, id="negative"), pytest.param(True, TypeError, id="bool")],
)
def test_a_bad_proxy_depth_fails_at_start(depth: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="trusted_proxy_depth"):
        make_client("wsgi", trusted_proxy_depth=depth)
