"""``idleguard check``: a configuration from the environment or a file, built as the middleware
builds it, and one call to its store.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from idleguard import IdleGuard
from idleguard.integrations import POLICY_FIELDS
from idleguard.operations import from_environment
from idleguard.operations.configuration import READERS
from idleguard.settings import Settings
from tests.apps import SECRET

from .conftest import Idleguard

GOOD = {"IDLEGUARD_SECRET_KEY": SECRET}


@pytest.mark.parametrize(
    ("variables", "messages"),
    [
        pytest.param(
            {"IDLEGUARD_IDLE_TIMOUT": "600"},
            [
                "IDLEGUARD_IDLE_TIMOUT: unknown idleguard setting; did you mean IDLEGUARD_IDLE_TIMEOUT?"
            ],
            id="typo-did-you-mean",
        ),
        pytest.param(
            {"IDLEGUARD_POLICY": "pci-dsss"},
            ["IDLEGUARD_POLICY: unknown policy preset 'pci-dsss'; did you mean 'pci-dss'?"],
            id="bad-preset",
        ),
        pytest.param(
            {"IDLEGUARD_SECRET_KEY": ""},
            ["idleguard needs secret_key= to sign its session cookie"],
            id="missing-secret",
        ),
        pytest.param(
            {"IDLEGUARD_SECRET_KEY": "short"},
            ["IDLEGUARD_SECRET_KEY: every secret_key must be at least 32 characters"],
            id="short-secret",
        ),
        pytest.param(
            {"IDLEGUARD_IDLE_TIMEOUT": "soon"},
            ["IDLEGUARD_IDLE_TIMEOUT: 'soon' is not a duration: write seconds (900), or a length"],
            id="not-a-number",
        ),
        pytest.param(
            {"IDLEGUARD_IDLE_TIMEOUT": "36000"},
            ["idle_timeout (36000 s) is longer than absolute_timeout (28800 s)"],
            id="idle-longer-than-absolute",
        ),
        pytest.param(
            {"IDLEGUARD_FAIL_OPEN": "maybe"},
            ["IDLEGUARD_FAIL_OPEN: 'maybe' is not true or false"],
            id="not-a-switch",
        ),
        pytest.param(
            {"IDLEGUARD_LOGIN_URL": "//evil.example/login"},
            ["login_url"],
            id="refused-url",
        ),
        pytest.param(
            {"IDLEGUARD_STORE": "mongodb://db/sessions"},
            ["IDLEGUARD_STORE: unknown store URL scheme 'mongodb://'"],
            id="unknown-store",
        ),
        pytest.param(
            {"IDLEGUARD_CLOCK": "time.time"},
            ["IDLEGUARD_CLOCK: clock needs a Python object"],
            id="python-object",
        ),
        pytest.param(
            {"IDLEGUARD_IDLE_TIMOUT": "600", "IDLEGUARD_POLICY": "fedramp"},
            ["did you mean IDLEGUARD_IDLE_TIMEOUT?", "did you mean 'fedramp-moderate'?"],
            id="every-problem-at-once",
        ),
    ],
)
def test_a_bad_configuration_fails_with_the_middlewares_message(
    idleguard: Idleguard,
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    messages: list[str],
) -> None:
    for name, value in {**GOOD, **variables}.items():
        monkeypatch.setenv(name, value)
    ran = idleguard("check")
    assert ran.status == 1
    problems = [line for line in ran.out.splitlines() if line.startswith("  problem: ")]
    assert len(problems) == len(messages), ran.out
    for problem, message in zip(problems, messages, strict=True):
        assert message in problem
    assert ran.out.splitlines()[-1] == f"FAILED: {len(messages)} problem(s) in the configuration"
    as_json = idleguard("check", "--format", "json")
    assert as_json.status == 1
    assert as_json.json()["ok"] is False
    assert len(as_json.json()["problems"]) == len(messages)


def test_a_good_configuration_reaches_its_store(
    idleguard: Idleguard, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in {
        **GOOD,
        "IDLEGUARD_STORE": f"sqlite:///{tmp_path / 'sessions.db'}",
        "IDLEGUARD_POLICY": "pci-dss",
        "IDLEGUARD_ABSOLUTE_TIMEOUT": "4h",
        "IDLEGUARD_EXEMPT_PATHS": "/health, /static",
        "IDLEGUARD_HTTPS_ONLY": "no",
        "IDLEGUARD_REQUIRE_SERVERS": "1",  # another program's variable: a note, not a problem
    }.items():
        monkeypatch.setenv(name, value)
    ran = idleguard("check")
    assert ran.status == 0, ran.out
    lines = ran.out.splitlines()
    assert lines[0] == "configuration: the environment (IDLEGUARD_*)"
    assert "  note: IDLEGUARD_REQUIRE_SERVERS is not an idleguard setting; ignored" in lines
    assert any("https_only is off" in line for line in lines)
    assert (
        "  policy: idle 15m 00s, absolute 4h 00m, warning 2m 00s before, touch every 18s" in lines
    )
    assert lines[-2].startswith(f"store: SQLStore sqlite:///{tmp_path / 'sessions.db'}: OK in ")
    assert lines[-1] == "OK"
    report = idleguard("check", "--format", "json").json()
    assert report["ok"] is True
    assert report["store"]["store"] == "SQLStore"
    assert report["store"]["ok"] is True
    assert 0 < report["store"]["seconds"] < 5
    assert report["settings"]["policy"]["absolute_timeout"] == 14400


@pytest.mark.redis
def test_a_store_that_is_down_fails_with_the_drivers_message(
    idleguard: Idleguard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDLEGUARD_SECRET_KEY", SECRET)
    monkeypatch.setenv("IDLEGUARD_STORE", "redis://:hunter2@127.0.0.1:1/0")
    ran = idleguard("check")
    assert ran.status == 1
    store_line = ran.out.splitlines()[-2]
    assert store_line.startswith(
        "store: RedisStore redis://[REDACTED]@127.0.0.1:1/0: FAILED after "
    )
    assert "redis: ConnectionError:" in store_line
    assert "Connection refused" in store_line or "Error 111" in store_line
    assert "hunter2" not in ran.out
    assert ran.out.splitlines()[-1] == "FAILED: the store did not answer"


@pytest.mark.redis
def test_the_store_is_reached_even_when_the_rest_is_refused(
    idleguard: Idleguard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDLEGUARD_STORE", "redis://127.0.0.1:1/0")
    ran = idleguard("check", "--format", "json")
    assert ran.status == 1
    report = ran.json()
    assert report["problems"] == [
        "idleguard needs secret_key= to sign its session cookie (at least 32 random "
        "characters, e.g. secrets.token_urlsafe(32))"
    ]
    assert report["store"]["ok"] is False
    assert "127.0.0.1:1" in report["store"]["error"]


@pytest.mark.redis
def test_real_servers_answer(
    idleguard: Idleguard, monkeypatch: pytest.MonkeyPatch, redis_url: str, postgres_url: str
) -> None:
    monkeypatch.setenv("IDLEGUARD_SECRET_KEY", SECRET)
    for url, kind in [(redis_url, "RedisStore"), (postgres_url, "SQLStore")]:
        ran = idleguard("check", "--store", url, "--format", "json")
        assert ran.status == 0, ran.out
        assert (ran.json()["store"]["store"], ran.json()["store"]["ok"]) == (kind, True)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param(
            "idleguard.toml",
            f'secret_key = "{SECRET}"\nidle_timeout = 600\nexempt_paths = ["/health"]\n'
            'https_only = false\n[tenants.acme]\npreset = "pci-dss"\n',
            id="toml",
        ),
        pytest.param(
            "settings.json",
            json.dumps(
                {"idleguard": {"secret_key": SECRET, "idle_timeout": 600, "login_url": None}}
            ),
            id="json-in-a-table",
        ),
        pytest.param(
            "pyproject.toml",
            f'[project]\nname = "app"\n[tool.idleguard]\nsecret_key = "{SECRET}"\n'
            "idle_timeout = 600\n",
            id="pyproject",
        ),
        pytest.param(
            "rotation.toml",
            f'secret_key = ["{SECRET}", "{SECRET[::-1]}"]\npolicy = {{ idle_timeout = 600 }}\n',
            id="key-rotation",
        ),
    ],
)
def test_a_configuration_file(idleguard: Idleguard, tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    ran = idleguard("check", "--config", str(path), "--format", "json")
    assert ran.status == 0, ran.out
    report = ran.json()
    assert report["source"] == str(path)
    assert report["settings"]["policy"]["idle_timeout"] == 600


@pytest.mark.parametrize(
    ("name", "text", "status", "message"),
    [
        pytest.param(
            "typo.toml",
            f'secret_key = "{SECRET}"\nidle_timout = 600\n',
            1,
            "typo.toml: idle_timout: unknown idleguard setting; did you mean idle_timeout?",
            id="typo",
        ),
        pytest.param(
            "bad-policy.toml",
            f'secret_key = "{SECRET}"\n[policy]\npreset = "pci-dss"\nidel_timeout = 60\n',
            1,
            "unknown policy field 'idel_timeout' (did you mean 'idle_timeout'?)",
            id="policy-table-typo",
        ),
        pytest.param(
            "values.toml",
            f'secret_key = "{SECRET}"\nfail_open = "sometimes"\nstore_timeout = "soon"\n',
            1,
            "values.toml: store_timeout: 'soon' is not a duration",
            id="bad-values",
        ),
        pytest.param("broken.toml", "idle_timeout = = 3\n", 2, "is not valid TOML", id="not-toml"),
        pytest.param("broken.json", "{", 2, "is not valid JSON", id="not-json"),
        pytest.param("list.json", "[1, 2]", 2, "must hold a table", id="not-a-table"),
    ],
)
def test_a_bad_configuration_file(
    idleguard: Idleguard, tmp_path: Path, name: str, text: str, status: int, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    ran = idleguard("check", "--config", str(path))
    assert ran.status == status
    assert message in (ran.out if status == 1 else ran.err)
    if status == 2:
        assert len(ran.err.strip().splitlines()) == 1


def test_a_missing_file_is_a_usage_error(idleguard: Idleguard, tmp_path: Path) -> None:
    ran = idleguard("check", "--config", str(tmp_path / "nowhere.toml"))
    assert ran.status == 2
    assert ran.err.strip() == (
        f"idleguard check: cannot read {tmp_path / 'nowhere.toml'}: No such file or directory"
    )


def test_every_setting_of_the_middleware_is_read_or_refused() -> None:
    # A setting added to the middleware must say how it reads from text, or that it cannot.
    parameters = [
        *inspect.signature(Settings.__init__).parameters,
        *inspect.signature(IdleGuard.__init__).parameters,
    ]
    settings = {name for name in parameters if name not in {"self", "app", "options"}}
    assert set(READERS) == settings | set(POLICY_FIELDS)


@pytest.mark.parametrize(
    ("variable", "value", "option", "expected"),
    [
        pytest.param(
            "IDLEGUARD_EXEMPT_PATHS",
            "/health, /static,",
            "exempt_paths",
            ("/health", "/static"),
            id="list",
        ),
        pytest.param("IDLEGUARD_HTTPS_ONLY", "Off", "https_only", False, id="switch-off"),
        pytest.param("IDLEGUARD_EXPLAIN_LOG", "yes", "explain_log", True, id="switch-on"),
        pytest.param("IDLEGUARD_LOGIN_URL", "none", "login_url", None, id="url-off"),
        pytest.param("IDLEGUARD_STORE_TIMEOUT", "0.5", "store_timeout", 0.5, id="seconds"),
        pytest.param("IDLEGUARD_STORE_TIMEOUT", "2s", "store_timeout", 2.0, id="duration"),
        pytest.param(
            "IDLEGUARD_POLICY_CACHE_TTL", "1m 30s", "policy_cache_ttl", 90.0, id="minutes-seconds"
        ),
        pytest.param(
            "IDLEGUARD_CHECK_STORE_AT_START", "yes", "check_store_at_start", True, id="store-check"
        ),
        pytest.param("IDLEGUARD_TRUSTED_PROXY_DEPTH", "2", "trusted_proxy_depth", 2, id="count"),
        pytest.param("IDLEGUARD_API_KEY_EXEMPT", "off", "api_key_exempt", None, id="no-api-keys"),
        pytest.param("IDLEGUARD_SECRET_KEY", "a,b" * 20, "secret_key", "a,b" * 20, id="one-secret"),
    ],
)
def test_environment_values_read_as_the_setting_takes_them(
    variable: str, value: str, option: str, expected: object
) -> None:
    configuration = from_environment({variable: value, "IDLEGUARD_UNRELATED_TOOL": "1"})
    assert configuration.problems == []
    assert configuration.options == {option: expected}
    assert configuration.notes == ["IDLEGUARD_UNRELATED_TOOL is not an idleguard setting; ignored"]


def test_python_m_idleguard_check_exits_non_zero_without_a_traceback() -> None:
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith("IDLEGUARD_")},
        "IDLEGUARD_SECRET_KEY": SECRET,
        "IDLEGUARD_POLICY": "hipa",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "idleguard", "check"],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1
    assert "did you mean 'hipaa'?" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_reader_that_goes_away_is_no_traceback(tmp_path: Path) -> None:
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith("IDLEGUARD_")},
        "IDLEGUARD_SECRET_KEY": SECRET,
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    # No reader at all: the first write fails, as it would once `| head` has what it wants.
    process = subprocess.Popen(
        [sys.executable, "-m", "idleguard", "check", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()
    errors = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=60) == 1
    assert "Traceback" not in errors
    assert "BrokenPipeError" not in errors
