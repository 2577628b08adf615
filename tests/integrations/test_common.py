"""What the framework integrations share: configuration mapping, the client script tag, and
whether a framework login is bound to the request's idleguard session."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from idleguard import ConfigError, Policy, PolicyError
from idleguard.context import SessionContext
from idleguard.core import Decision, SessionRecord, Verdict
from idleguard.facts import RequestFacts
from idleguard.integrations import (
    binding_for,
    end_with_framework_login,
    login_is_bound,
    middleware_options,
    script_tag,
)
from idleguard.settings import Settings

SECRET = "test-secret-key-0123456789abcdefghijklmnop"
KEY = "k" * 43


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param({"store": "memory://"}, {"store": "memory://"}, id="option"),
        pytest.param({"idle_timeout": 600}, {"idle_timeout": 600}, id="policy-field"),
        pytest.param({"idle_timeout": "15m"}, {"idle_timeout": 900.0}, id="duration-text"),
        pytest.param({"absolute_timeout": "off"}, {"absolute_timeout": None}, id="limit-off"),
        pytest.param({"https_only": "false"}, {"https_only": False}, id="switch-text"),
        pytest.param({"websocket_recheck": 2.0}, {"websocket_recheck": 2.0}, id="adapter-option"),
        pytest.param(
            {"trusted_proxies": ["10.0.0.0/8"], "trusted_proxy_depth": 1},
            {"trusted_proxies": ["10.0.0.0/8"], "trusted_proxy_depth": 1},
            id="trusted-proxies",
        ),
    ],
)
def test_middleware_options(config: dict[str, Any], expected: dict[str, Any]) -> None:
    assert middleware_options(config, source="test") == expected


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param({"idle_timeout": 600}, Policy(idle_timeout=600), id="policy-field"),
        pytest.param(
            {"policy": Policy(absolute_timeout=7200), "idle_timeout": timedelta(minutes=10)},
            Policy(idle_timeout=600, absolute_timeout=7200),
            id="field-over-policy",
        ),
        pytest.param(
            {"policy": "pci-dss", "absolute_timeout": "4h"},
            Policy(idle_timeout=900, absolute_timeout=4 * 3600),
            id="field-over-preset",
        ),
        pytest.param({"idle_timeout": "off"}, Policy(idle_timeout=None), id="field-off"),
    ],
)
def test_policy_fields_apply_over_the_policy(config: dict[str, Any], expected: Policy) -> None:
    options = middleware_options(config, source="test", fallback_secret=SECRET)
    assert Settings(**options).policy == expected


def test_an_unknown_setting_fails_at_start_up() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^settings.IDLEGUARD\['idel_timeout'\]: unknown idleguard setting; "
        r"did you mean 'idle_timeout'\?$",
    ):
        middleware_options({"idel_timeout": 600}, source="settings.IDLEGUARD")


def test_a_bad_policy_field_fails_at_start_up() -> None:
    options = middleware_options({"idle_timeout": -1}, source="test", fallback_secret=SECRET)
    with pytest.raises(PolicyError, match="idle_timeout"):
        Settings(**options)


@pytest.mark.parametrize(
    ("config", "secret"),
    [
        pytest.param({}, "fallback", id="fallback"),
        pytest.param({"secret_key": SECRET}, SECRET, id="own-secret-wins"),
        pytest.param({"identity": object()}, None, id="identity-needs-none"),
    ],
)
def test_the_framework_secret_is_the_fallback(config: dict[str, Any], secret: str | None) -> None:
    options = middleware_options(config, source="test", fallback_secret="fallback")
    assert options.get("secret_key") == secret


@pytest.mark.parametrize(
    ("arguments", "tag"),
    [
        pytest.param({}, '<script src="/_idleguard/idleguard.js" defer></script>', id="plain"),
        pytest.param(
            {"nonce": 'a"b'},
            '<script src="/_idleguard/idleguard.js" nonce="a&quot;b" defer></script>',
            id="nonce-escaped",
        ),
    ],
)
def test_script_tag(arguments: dict[str, str], tag: str) -> None:
    assert script_tag(**arguments) == tag


def checked(subject: str = "alice", key: str | None = KEY) -> SessionContext:
    """A request's context as the flow leaves it: checked, with ``subject``'s live session."""
    context = SessionContext(Settings(secret_key=SECRET), RequestFacts("GET", "/", {}))
    if key is not None:
        context.credential_key = key
        context.settle(key, Decision(Verdict.ALLOW), SessionRecord(subject, None, 0, 0, 0), 0)
    return context


def exempt() -> SessionContext:
    context = checked(key=None)
    context.exempt = True
    return context


def unguarded() -> SessionContext:
    context = checked(key=None)
    context.credential_key = KEY
    context.unguarded = True
    return context


def no_session() -> SessionContext:
    context = checked(key=None)
    context.credential_key = KEY
    return context


def test_the_binding_is_the_sessions_keyed_tag() -> None:
    context = checked()
    binding = binding_for({"idleguard": context})
    assert binding == context.settings.tag(KEY)
    assert binding is not None
    assert KEY not in binding
    assert binding_for({"idleguard": checked(key=None)}) is None


def test_a_session_begun_in_the_request_is_the_one_recorded() -> None:
    context = checked()
    context.begin("alice", None, None)
    assert context.key is not None
    assert context.key != KEY
    assert binding_for({"idleguard": context}) == context.settings.tag(context.key)


TAG = Settings(secret_key=SECRET).tag(KEY)


@pytest.mark.parametrize(
    ("context", "subject", "recorded", "bound"),
    [
        pytest.param(checked, "alice", TAG, True, id="its-own-live-session"),
        pytest.param(lambda: checked("mallory"), "alice", TAG, False, id="another-subject"),
        pytest.param(
            checked, "alice", Settings(secret_key=SECRET).tag("x" * 43), False, id="another-session"
        ),
        pytest.param(checked, "alice", None, False, id="nothing-recorded"),
        pytest.param(checked, "alice", 12345, False, id="not-a-tag"),
        pytest.param(no_session, "alice", TAG, False, id="no-live-session"),
        pytest.param(exempt, "alice", TAG, False, id="exempt"),
        pytest.param(unguarded, "alice", TAG, False, id="unguarded-under-fail-open"),
    ],
)
def test_login_is_bound(
    context: Callable[[], SessionContext], subject: str, recorded: object, bound: bool
) -> None:
    assert login_is_bound({"idleguard": context()}, subject, recorded) is bound


@pytest.mark.parametrize(
    ("context", "ended", "clear_cookie"),
    [
        pytest.param(checked, [KEY], False, id="live-ended"),
        pytest.param(no_session, [], True, id="not-found-forgotten"),
        pytest.param(unguarded, [], True, id="unguarded-forgotten"),
        pytest.param(exempt, [], False, id="exempt-untouched"),
    ],
)
def test_a_framework_logout_ends_only_a_live_session(
    context: Callable[[], SessionContext], ended: list[str], clear_cookie: bool
) -> None:
    request_context = context()
    end_with_framework_login({"idleguard": request_context})
    assert [action.key for action in request_context.pending if action.kind == "end"] == ended
    assert request_context.clear_cookie is clear_cookie
    assert request_context.info() is None
