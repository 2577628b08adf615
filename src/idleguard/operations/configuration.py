"""A middleware configuration read from text: the environment, or a TOML or JSON file.

The names are the ones the framework integrations read: `IDLEGUARD_STORE` in the
environment is `IDLEGUARD_STORE` in Flask's `app.config` and `"store"` in Django's
`settings.IDLEGUARD` or in a file. The policy fields in the environment are read by
`idleguard.Policy.from_env` itself. Other values arrive as text, so each setting says
how its text reads (`1`/`0` for a switch, commas between paths, `15m` for a
duration); settings that need a
Python object (`clock`, `on_event`, `identity`, ...) cannot come from text and say so.

How each value reads, and the "did you mean" for a misspelt name, are
`idleguard.options`', shared with the Flask and Django integrations. Every name and value
is checked on its own first, so one run reports every mistake, each with what to do
(`IDLEGUARD_IDLE_TIMOUT: unknown idleguard setting; did you mean IDLEGUARD_IDLE_TIMEOUT?`).
`build_settings` then hands what was read to the middleware's settings, which report the
rest (a secret that is too short, a login URL it refuses) with their own message, naming
the variable it came from.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..options import READERS, Configured, Spelling, closest
from ..policy import POLICY_FIELDS, Policy
from ..settings import Settings

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

__all__ = [
    "ENVIRONMENT",
    "ENV_PREFIX",
    "READERS",
    "Configuration",
    "ConfigurationRefused",
    "build_settings",
    "file_spelling",
    "from_environment",
    "from_file",
    "unknown_names",
]

#: What every environment variable idleguard reads starts with (as Flask's config keys do).
ENV_PREFIX = "IDLEGUARD_"
#: How the environment spells the settings: `IDLEGUARD_IDLE_TIMEOUT` for `idle_timeout`.
ENVIRONMENT = Spelling("the environment (IDLEGUARD_*)", prefix=ENV_PREFIX, upper=True, text=True)


def file_spelling(file: str | os.PathLike[str]) -> Spelling:
    """How a configuration file spells the settings: the names themselves, as its keys."""
    return Spelling(str(file), place=f"{file}: {{key}}", text=True)


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
        origins: Setting name -> where it was written (`IDLEGUARD_SECRET_KEY`), so the
            middleware's own refusals name it.
    """

    source: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    origins: dict[str, str] = dataclasses.field(default_factory=dict)


def _read(configuration: Configuration, key: str, value: Any, spelling: Spelling) -> None:
    """Check one setting and keep its value, or record what is wrong with it.

    Everything here is data (text, numbers, tables), so every value goes through its
    reader, not only text as in a framework's configuration.
    """
    name = spelling.name(key)
    where = spelling.where(key)
    reader = READERS[name]
    if reader is None:
        configuration.problems.append(
            f"{where}: {name} needs a Python object; set it where the app builds the middleware"
        )
        return
    try:
        configuration.options[name] = reader(value)
    except ValueError as error:  # PolicyError too: a bad preset names the closest one
        configuration.problems.append(f"{where}: {error}")
        return
    configuration.origins[name] = where


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
    configuration = Configuration(ENVIRONMENT.source)
    policy_variables: dict[str, str] = {}
    for variable, value in sorted(env.items()):
        if not variable.startswith(ENV_PREFIX) or not value.strip():
            continue
        name = ENVIRONMENT.name(variable)
        if name in POLICY_FIELDS:
            policy_variables[variable] = value
        elif name in READERS:
            _read(configuration, variable, value, ENVIRONMENT)
        elif closest(name, READERS) is not None:
            configuration.problems.append(str(ENVIRONMENT.unknown(variable, READERS)))
        else:
            configuration.notes.append(f"{variable} is not an idleguard setting; ignored")
    if policy_variables:
        # Read by Policy.from_env itself, over the preset IDLEGUARD_POLICY names, so that
        # its errors name the variables as an app's own Policy.from_env() would.
        base = configuration.options.get("policy")
        try:
            configuration.options["policy"] = Policy.from_env(
                Policy.preset(base) if isinstance(base, str) else base,
                policy_variables,
                ENV_PREFIX,
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
    spelling = file_spelling(file)
    configuration = Configuration(str(file))
    configuration.problems.extend(unknown_names(data, spelling))
    for key, value in data.items():
        if key in READERS:
            _read(configuration, key, value, spelling)
    return configuration


def unknown_names(config: Mapping[str, Any], source: str | Spelling) -> list[str]:
    """A problem for each key of `config` that is not a setting, naming the closest one.

    Args:
        config: Setting names (lower case, as a file or `settings.IDLEGUARD` spells them).
        source: How they are spelt (`idleguard.integrations.django.DJANGO_SETTINGS`), or
            where they came from, for the messages.

    Returns:
        One line per unknown name.
    """
    spelling = (
        source
        if isinstance(source, Spelling)
        else Spelling(source, place=f"{source}[{{key!r}}]", suggestion="{key!r}")
    )
    return [
        str(spelling.unknown(str(key), READERS))
        for key in config
        if spelling.name(str(key)) not in READERS
    ]


def _format_of(file: Path) -> str:
    return "JSON" if file.suffix.lower() == ".json" else "TOML"


def build_settings(configuration: Configuration, **overrides: Any) -> Settings:
    """The middleware's settings from `configuration`, built as the middleware builds them.

    They go to `idleguard.settings.Settings` through `idleguard.options.Configured`, as
    the middleware's own keyword arguments and a Flask or Django configuration do, so
    every start-up error is the one the application would stop with, naming the variable
    or key it came from (`IDLEGUARD_SECRET_KEY: every secret_key must be ...`).

    Args:
        configuration: What was read; refused while it has problems.
        **overrides: Settings that replace what was read (a `store` given on the command
            line, a `policy`, the `on_event` sinks of a command).

    Returns:
        The settings, the store built (and reached only under `check_store_at_start`).

    Raises:
        ConfigurationRefused: The configuration has problems, or the middleware refused it.
    """
    if configuration.problems:
        raise ConfigurationRefused(list(configuration.problems))
    origins = {
        name: where for name, where in configuration.origins.items() if name not in overrides
    }
    configured = Configured({**configuration.options, **overrides}, origins)
    # Read (and so checked) above; it belongs to the ASGI middleware, not to its settings.
    configured.options.pop("websocket_recheck", None)
    try:
        return configured.build(Settings)
    except (ValueError, TypeError, ImportError) as error:
        # ConfigError, PolicyError and the URL checks are ValueErrors; a value of the wrong
        # type is a TypeError; a missing driver an ImportError naming the pip extra.
        raise ConfigurationRefused([str(error)]) from error
