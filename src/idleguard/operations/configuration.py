"""A middleware configuration read from text: the environment, or a TOML or JSON file.

The names are the ones the framework integrations read: `IDLEGUARD_STORE` in the
environment is `IDLEGUARD_STORE` in Flask's `app.config` and `"store"` in Django's
`settings.IDLEGUARD` or in a file. The policy fields in the environment are read by
`idleguard.Policy.from_env` itself. Other values arrive as text, so each setting says
how its text reads (`1`/`0` for a switch, commas between paths); settings that need a
Python object (`clock`, `on_event`, `identity`, ...) cannot come from text and say so.

Every name and value is checked on its own first, so one run reports every mistake, each
with what to do (`did you mean IDLEGUARD_IDLE_TIMEOUT?`). `build_settings` then
hands what was read to the middleware's own constructor, which reports the rest (a secret
that is too short, a login URL it refuses) with its own message.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..asgi import IdleGuard
from ..errors import ConfigError
from ..integrations import POLICY_FIELDS, middleware_options
from ..policy import Policy
from ..settings import Settings

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

__all__ = [
    "ENV_PREFIX",
    "READERS",
    "Configuration",
    "ConfigurationRefused",
    "build_settings",
    "from_environment",
    "from_file",
    "unknown_names",
]

#: What every environment variable idleguard reads starts with (as Flask's config keys do).
ENV_PREFIX = "IDLEGUARD_"
#: Words that turn a limit or a URL off, as `idleguard.Policy.from_env` reads them.
_OFF_WORDS = frozenset({"none", "off", "disabled"})
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})
#: How close a mistyped name must be to a real one to be named as a suggestion.
_SUGGESTION_CUTOFF = 0.7

#: Reads one setting's value (text from the environment, or what a file holds) into what
#: the middleware takes; raises `ValueError` saying what is accepted.
Reader = Callable[[Any], Any]


class ConfigurationRefused(ConfigError):
    """The configuration cannot start the middleware; `problems` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclasses.dataclass
class Configuration:
    """The settings read from one source, each checked, not yet given to the middleware.

    Attributes:
        source: Where they came from, for messages (`the environment`, a file's path).
        options: Setting name -> value, as the middleware's keyword arguments take it.
        problems: One line per mistake found; the middleware is not built while any remain.
        notes: One line per thing worth knowing that is not a mistake (an ignored variable).
    """

    source: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


# -- one reader per kind of value ------------------------------------------------------------
def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {type(value).__name__}")
    return value


def _url_or_off(value: Any) -> str | None:
    if value is None or value is False:
        return None
    text = _text(value)
    return None if text.strip().lower() in _OFF_WORDS else text


def _switch(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise ValueError(f"{value!r} is not true or false (1/0, true/false, yes/no, on/off)")


def _seconds(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a number of seconds")


def _seconds_or_off(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in _OFF_WORDS):
        return None
    return _seconds(value)


def _count(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise ValueError(f"{value!r} is not a whole number")


def _words(value: Any) -> tuple[str, ...]:
    # The environment has no lists: commas separate the entries there.
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ValueError(f"{value!r} is not a list of text (in the environment: commas between)")


def _secret(value: Any) -> str | list[str]:
    # One key in the environment (a comma could be part of a key); a list rotates keys.
    if isinstance(value, list) and value and all(isinstance(key, str) for key in value):
        return value
    return _text(value)


def _policy(value: Any) -> Policy:
    # A preset name is looked up here rather than by the middleware, so that the policy
    # fields given one by one (idle_timeout = 600) apply over the preset, not beside it.
    if isinstance(value, str):
        return Policy.preset(value)
    if isinstance(value, Mapping):
        return Policy.from_mapping(value)
    raise ValueError(f"must be a preset name or a table of policy fields, not {value!r}")


def _table(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    raise ValueError("must be a table (name -> policy): set it in a configuration file")


def _api_key_exempt(value: Any) -> None:
    if value is False or (isinstance(value, str) and value.strip().lower() in _OFF_WORDS):
        return None
    raise ValueError(
        "only 'none' can be set here (exempt nothing); a predicate is set where the app "
        "builds the middleware"
    )


#: Every setting the middleware takes, and how its value reads from text; `None` marks a
#: setting that needs a Python object.
READERS: dict[str, Reader | None] = {
    "policy": _policy,
    "idle_timeout": _seconds_or_off,
    "absolute_timeout": _seconds_or_off,
    "warn_before": _seconds,
    "touch_interval": _seconds_or_off,
    "store": _text,
    "secret_key": _secret,
    "login_url": _url_or_off,
    "step_up_url": _url_or_off,
    "https_only": _switch,
    "fail_open": _switch,
    "clear_site_data": _switch,
    "explain_log": _switch,
    "store_timeout": _seconds,
    "policy_cache_ttl": _seconds,
    "websocket_recheck": _seconds,
    "trusted_proxy_depth": _count,
    "trusted_proxies": _words,
    "trusted_origins": _words,
    "passive_paths": _words,
    "exempt_paths": _words,
    "endpoint_prefix": _text,
    "api_key_exempt": _api_key_exempt,
    "tenants": _table,
    "users": _table,
    "clock": None,
    "on_event": None,
    "identity": None,
    "expired_response": None,
    "rules": None,
    "policies": None,
    "redactor": None,
    "counters": None,
    "identity_provider": None,
    "settings": None,
}


def _suggestion(name: str) -> str | None:
    close = difflib.get_close_matches(name, list(READERS), n=1, cutoff=_SUGGESTION_CUTOFF)
    return close[0] if close else None


def _read(configuration: Configuration, name: str, value: Any, spelled: str) -> None:
    """Check one setting and keep its value, or record what is wrong with it."""
    reader = READERS[name]
    if reader is None:
        configuration.problems.append(
            f"{spelled}: {name} needs a Python object; set it where the app builds the middleware"
        )
        return
    try:
        configuration.options[name] = reader(value)
    except ValueError as error:  # PolicyError too: a bad preset names the closest one
        configuration.problems.append(f"{spelled}: {error}")


def from_environment(environ: Mapping[str, str] | None = None) -> Configuration:
    """The settings in `IDLEGUARD_*` environment variables.

    An empty variable counts as unset, as `idleguard.Policy.from_env` has it. A
    variable that is not a setting is a problem when its name is close to one (a typo),
    and only a note otherwise: the environment is shared with other programs, which may
    have variables of their own under the same prefix.

    Args:
        environ: The variables to read; default `os.environ`.

    Returns:
        The configuration, with every problem found.
    """
    env = os.environ if environ is None else environ
    configuration = Configuration("the environment (IDLEGUARD_*)")
    policy_variables: dict[str, str] = {}
    for variable, value in sorted(env.items()):
        if not variable.startswith(ENV_PREFIX) or not value.strip():
            continue
        name = variable[len(ENV_PREFIX) :].lower()
        if name in POLICY_FIELDS:
            policy_variables[variable] = value
        elif name in READERS:
            _read(configuration, name, value, variable)
        elif (close := _suggestion(name)) is not None:
            configuration.problems.append(
                f"{variable} is not an idleguard setting; did you mean {ENV_PREFIX}{close.upper()}?"
            )
        else:
            configuration.notes.append(f"{variable} is not an idleguard setting; ignored")
    if policy_variables:
        base = configuration.options.get("policy")
        try:
            configuration.options["policy"] = Policy.from_env(
                base if isinstance(base, Policy) else None, policy_variables, ENV_PREFIX
            )
        except ValueError as error:
            configuration.problems.append(str(error))
    return configuration


def from_file(path: str | os.PathLike[str]) -> Configuration:
    """The settings in a TOML or JSON file (by its suffix: `.json` is JSON, else TOML).

    The settings are the top-level keys, or the keys of an `idleguard` table, or of
    `tool.idleguard` in a `pyproject.toml`; every key must be a setting.

    Args:
        path: The file.

    Returns:
        The configuration, with every problem found.

    Raises:
        ConfigError: The file cannot be read or parsed, or holds no table of settings.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
        data: Any = json.loads(text) if file.suffix.lower() == ".json" else tomllib.loads(text)
    except OSError as error:
        raise ConfigError(f"cannot read {file}: {error.strerror or error}") from None
    except (ValueError, tomllib.TOMLDecodeError) as error:  # JSONDecodeError is a ValueError
        raise ConfigError(f"{file} is not valid {_format_of(file)}: {error}") from None
    if isinstance(data, dict):
        tool = data.get("tool")
        if isinstance(tool, dict) and isinstance(tool.get("idleguard"), dict):
            data = tool["idleguard"]
        elif isinstance(data.get("idleguard"), dict):
            data = data["idleguard"]
    if not isinstance(data, dict):
        raise ConfigError(f"{file} must hold a table of idleguard settings")
    configuration = Configuration(str(file))
    configuration.problems.extend(unknown_names(data, str(file)))
    for name, value in data.items():
        if name in READERS:
            _read(configuration, name, value, f"{file}: {name}")
    return configuration


def unknown_names(config: Mapping[str, Any], source: str) -> list[str]:
    """A problem for each key of `config` that is not a setting, naming the closest one.

    Args:
        config: Setting names (lower case, as a file or `settings.IDLEGUARD` spells them).
        source: Where they came from, for the messages.

    Returns:
        One line per unknown name.
    """
    problems = []
    for name in config:
        if name not in READERS:
            close = _suggestion(str(name))
            hint = f"; did you mean {close!r}?" if close else ""
            problems.append(f"{source}: {name!r} is not an idleguard setting{hint}")
    return problems


def _format_of(file: Path) -> str:
    return "JSON" if file.suffix.lower() == ".json" else "TOML"


async def _never_called(scope: Any, receive: Any, send: Any) -> None:
    """The app behind a middleware built only to validate its settings; it serves nothing."""
    raise RuntimeError("idleguard's configuration check serves no requests")


def build_settings(configuration: Configuration, **overrides: Any) -> Settings:
    """The middleware's settings, built by the middleware itself from `configuration`.

    The options go through `idleguard.integrations.middleware_options`, as a Flask or
    Django configuration does, and then to `idleguard.IdleGuard`'s constructor, so
    every start-up error is the one the application would stop with.

    Args:
        configuration: What was read; refused while it has problems.
        **overrides: Settings that replace what was read (a `store` given on the command
            line, a `policy`, the `on_event` sinks of a command).

    Returns:
        The settings, the store built but not yet reached.

    Raises:
        ConfigurationRefused: The configuration has problems, or the middleware refused it.
    """
    if configuration.problems:
        raise ConfigurationRefused(list(configuration.problems))
    config = {**configuration.options, **overrides}
    try:
        options = middleware_options(config, source=configuration.source)
        guard = IdleGuard(_never_called, **options)
    except (ValueError, TypeError, ImportError) as error:
        # ConfigError, PolicyError and the URL checks are ValueErrors; a value of the wrong
        # type is a TypeError; a missing driver an ImportError naming the pip extra.
        raise ConfigurationRefused([str(error)]) from error
    return guard.settings
