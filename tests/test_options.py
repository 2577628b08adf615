"""The middleware's keyword arguments: the policy shorthands, a misspelt keyword named with
its closest setting, and a refusal logged where a lazy start-up would hide it."""

from __future__ import annotations

import inspect
import logging
import sys
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette

from idleguard import ConfigError, IdleGuard, IdleGuardWSGI, Policy, PolicyEngine, TenantPolicy
from idleguard.integrations.fastapi import install
from idleguard.options import ADAPTER_OPTIONS, READERS, SETTING_NAMES
from idleguard.settings import Settings

SECRET = "test-secret-key-0123456789abcdefghijklmnop"


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("never called")


def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
    raise AssertionError("never called")


def build_asgi(**options: Any) -> Settings:
    return IdleGuard(asgi_app, **options).settings


def build_wsgi(**options: Any) -> Settings:
    return IdleGuardWSGI(wsgi_app, **options).settings


def build_settings(**options: Any) -> Settings:
    return Settings(**options)


BUILDERS = [
    pytest.param(build_asgi, id="IdleGuard"),
    pytest.param(build_wsgi, id="IdleGuardWSGI"),
    pytest.param(build_settings, id="Settings"),
]
Build = Callable[..., Settings]


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param({"idle_timeout": 900}, Policy(idle_timeout=900), id="idle"),
        pytest.param({"idle_timeout": "15m"}, Policy(idle_timeout=900), id="idle-as-text"),
        pytest.param(
            {"absolute_timeout": None, "warn_before": 30, "touch_interval": 0},
            Policy(absolute_timeout=None, warn_before=30, touch_interval=0),
            id="every-field",
        ),
        pytest.param(
            {"policy": Policy(absolute_timeout=7200), "idle_timeout": 600},
            Policy(idle_timeout=600, absolute_timeout=7200),
            id="over-a-policy",
        ),
        pytest.param(
            {"policy": "pci-dss", "absolute_timeout": "4h"},
            Policy(idle_timeout=900, absolute_timeout=4 * 3600),
            id="over-a-preset",
        ),
        pytest.param({"idle_timeout": None}, Policy(idle_timeout=None), id="idle-off"),
        pytest.param({"idle_timeout": 60}, Policy(idle_timeout=60, warn_before=30), id="short"),
    ],
)
def test_policy_shorthands(build: Build, options: dict[str, Any], expected: Policy) -> None:
    # add_middleware(IdleGuard, idle_timeout=900) used to fail with a TypeError.
    assert build(secret_key=SECRET, **options).policy == expected


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            {"policy": TenantPolicy(), "idle_timeout": 60},
            "idle_timeout= change a Policy or a preset; with a TenantPolicy",
            id="tenant-policy",
        ),
        pytest.param(
            {"policies": PolicyEngine(), "idle_timeout": 60},
            "pass either policies= (a PolicyEngine) or",
            id="policy-engine",
        ),
        pytest.param(
            {"idle_timeout": 60, "warn_before": 120},
            "warn_before (120 s) must be shorter than idle_timeout (60 s)",
            id="nonsense",
        ),
    ],
)
def test_shorthands_that_cannot_apply(build: Build, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build(secret_key=SECRET, **options)


@pytest.mark.parametrize(
    ("build", "name"),
    [pytest.param(build_asgi, "IdleGuard", id="asgi"), pytest.param(build_wsgi, "IdleGuardWSGI")],
)
@pytest.mark.parametrize(
    ("keyword", "hint"),
    [
        pytest.param("idle_timout", "; did you mean idle_timeout?", id="typo"),
        pytest.param("secret", "; did you mean secret_key?", id="short-name"),
        pytest.param("loginurl", "; did you mean login_url?", id="no-underscore"),
        pytest.param(
            "colour",
            " (like none of them: the settings are listed in idleguard's Configuration docs)",
            id="like-nothing",
        ),
    ],
)
def test_a_misspelt_keyword_names_the_closest_setting(
    build: Build, name: str, keyword: str, hint: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        build(secret_key=SECRET, **{keyword: 1})
    assert str(refused.value) == f"{name}({keyword}=...): unknown idleguard setting{hint}"
    assert isinstance(refused.value, ValueError)


def test_an_asgi_only_keyword_on_the_wsgi_middleware() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^IdleGuardWSGI\(websocket_recheck=...\): websocket_recheck is a setting of the "
        "ASGI middleware",
    ):
        build_wsgi(secret_key=SECRET, websocket_recheck=5)


def test_a_refused_value_names_the_keyword_once() -> None:
    with pytest.raises(ConfigError, match=r"^every secret_key must be at least 32 characters"):
        build_asgi(secret_key="short")


@pytest.mark.parametrize(
    ("options", "logged"),
    [
        pytest.param(
            {}, "idleguard cannot start: idleguard needs secret_key= to sign", id="no-secret"
        ),
        pytest.param(
            {"secret_key": SECRET, "policy": "pci-dsss"},
            "idleguard cannot start: unknown policy preset 'pci-dsss'; did you mean 'pci-dss'?",
            id="preset-typo",
        ),
        pytest.param(
            {"secret_key": SECRET, "idle_timout": 60},
            "idleguard cannot start: IdleGuard(idle_timout=...): unknown idleguard setting",
            id="keyword-typo",
        ),
    ],
)
def test_a_refusal_is_logged_when_starlette_builds_the_middleware(
    caplog: pytest.LogCaptureFixture, options: dict[str, Any], logged: str
) -> None:
    # Starlette builds what add_middleware was given on the first ASGI message, where
    # uvicorn's lifespan "auto" swallows the error: the log is what reaches the operator.
    app = Starlette()
    app.add_middleware(IdleGuard, **options)  # type: ignore[arg-type]  # see docs/quickstart
    with caplog.at_level(logging.ERROR, logger="idleguard"), pytest.raises(ConfigError):
        app.build_middleware_stack()
    (record,) = [record for record in caplog.records if record.name == "idleguard"]
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith(logged)


def test_a_missing_driver_is_logged(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The driver not installed: importing it fails, as it would without the extra.
    for name in list(sys.modules):
        # The store's modules and the driver's, already imported by other tests.
        if name.startswith(("idleguard.stores.redis", "redis.")):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "redis", None)
    with caplog.at_level(logging.ERROR, logger="idleguard"), pytest.raises(ImportError):
        build_asgi(secret_key=SECRET, store="redis://127.0.0.1:6379/0")
    assert caplog.records[-1].getMessage() == (
        "idleguard cannot start: ImportError: the redis:// store needs a driver that is not "
        'installed (redis): pip install "idleguard[redis]"'
    )


def test_install_builds_the_settings_at_once() -> None:
    app = FastAPI()
    with pytest.raises(ConfigError, match=r"^install\(idle_timout=...\): unknown idleguard"):
        install(app, secret_key=SECRET, idle_timout=60)
    assert app.user_middleware == []  # nothing half-added
    install(app, secret_key=SECRET, idle_timeout="15m", websocket_recheck=1.0)
    (middleware,) = app.user_middleware
    settings = middleware.kwargs["settings"]
    assert isinstance(settings, Settings)
    assert settings.policy == Policy(idle_timeout=900)
    assert middleware.kwargs["websocket_recheck"] == 1.0


def test_the_names_are_the_middlewares_parameters() -> None:
    settings = set(inspect.signature(Settings.__init__).parameters) - {"self"}
    adapter = set(inspect.signature(IdleGuard.__init__).parameters) - {"self", "app", "options"}
    assert set(SETTING_NAMES) == settings
    assert set(ADAPTER_OPTIONS) == adapter
    assert set(READERS) == settings | adapter
