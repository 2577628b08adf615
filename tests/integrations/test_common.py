"""What the framework integrations share: configuration mapping and the client script tag."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from idleguard import Policy, PolicyError
from idleguard.integrations import middleware_options, script_tag

SECRET = "test-secret-key-0123456789abcdefghijklmnop"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param({"store": "memory://"}, {"store": "memory://"}, id="option"),
        pytest.param(
            {"idle_timeout": 600},
            {"policy": Policy(idle_timeout=600)},
            id="policy-field",
        ),
        pytest.param(
            {"policy": Policy(absolute_timeout=7200), "idle_timeout": timedelta(minutes=10)},
            {"policy": Policy(idle_timeout=600, absolute_timeout=7200)},
            id="field-over-policy",
        ),
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


def test_an_unknown_setting_fails_at_start_up() -> None:
    with pytest.raises(ValueError, match=r"settings.IDLEGUARD: unknown idleguard setting 'idle'"):
        middleware_options({"idle": 600}, source="settings.IDLEGUARD")


def test_a_bad_policy_field_fails_at_start_up() -> None:
    with pytest.raises(PolicyError, match="idle_timeout"):
        middleware_options({"idle_timeout": -1}, source="test")


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
