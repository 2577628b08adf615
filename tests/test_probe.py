"""``check_store_at_start``: one harmless store call when the middleware is built, the same
call ``idleguard check`` makes, and a refusal to start that names the store and the driver."""

from __future__ import annotations

import pytest

from examples.demo import create_app
from idleguard import ConfigError, IdleGuardWSGI
from idleguard.operations import ConfigurationRefused, build_settings, check, from_environment
from idleguard.probe import PROBE_SUBJECT
from idleguard.settings import Settings
from idleguard.testing import SettableClock
from tests.switchable import SwitchableStore

SECRET = "test-secret-key-0123456789abcdefghijklmnop"
#: Nothing listens on port 1: the driver's connection is refused at once.
DOWN = "redis://127.0.0.1:1/0"


def down_store() -> SwitchableStore:
    store = SwitchableStore(SettableClock())
    store.down = True
    return store


def test_off_by_default() -> None:
    settings = Settings(secret_key=SECRET, store=DOWN)  # nothing is asked until a request
    settings.store.close()


def test_a_store_that_answers_starts() -> None:
    store = SwitchableStore(SettableClock())
    Settings(secret_key=SECRET, store=store, check_store_at_start=True)
    assert store.inner.sessions_of(PROBE_SUBJECT, 0) == []  # asked, and nothing changed


def test_a_store_that_does_not_answer_stops_the_start_with_the_drivers_message() -> None:
    with pytest.raises(ConfigError) as refused:
        Settings(
            secret_key=SECRET, store="redis://:hunter2@127.0.0.1:1/0", check_store_at_start=True
        )
    message = str(refused.value)
    assert message.startswith(
        "check_store_at_start: the store (RedisStore at redis://[REDACTED]@127.0.0.1:1/0) did "
        "not answer: redis: ConnectionError"
    )
    assert message.endswith(
        "; start it or correct the store URL (check_store_at_start=False starts without asking it)"
    )
    assert "hunter2" not in message
    assert refused.value.about == ("store",)


def test_a_store_object_is_named_by_its_class() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^check_store_at_start: the store \(SwitchableStore\) did not answer: "
        "connection refused",
    ):
        IdleGuardWSGI(
            lambda *_: [], secret_key=SECRET, store=down_store(), check_store_at_start=True
        )


def test_from_the_environment_the_message_names_the_variable() -> None:
    configuration = from_environment(
        {
            "IDLEGUARD_SECRET_KEY": SECRET,
            "IDLEGUARD_STORE": DOWN,
            "IDLEGUARD_CHECK_STORE_AT_START": "1",
        }
    )
    with pytest.raises(ConfigurationRefused) as refused:
        build_settings(configuration)
    (problem,) = refused.value.problems
    assert problem.startswith(
        f"IDLEGUARD_STORE: check_store_at_start: the store (RedisStore at {DOWN}) did not answer"
    )
    # idleguard check makes the call itself, and reports it once, as the store's answer.
    result = check(configuration)
    assert result.problems == []
    assert result.store is not None
    assert not result.store.ok
    assert "ConnectionError" in (result.store.error or "")


def test_the_demo_checks_its_store_when_it_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"^check_store_at_start: the store \(SwitchableStore"):
        create_app(store=down_store())
    monkeypatch.setenv("IDLEGUARD_STORE", DOWN)
    with pytest.raises(ConfigError, match=r"^check_store_at_start: the store \(RedisStore at "):
        create_app()
    monkeypatch.setenv("IDLEGUARD_STORE", "memory://")
    (options,) = [
        entry.kwargs for entry in create_app().user_middleware if "settings" in entry.kwargs
    ]
    assert isinstance(options["settings"], Settings)
