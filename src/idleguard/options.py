"""The middleware's settings by name: how each reads from text, how each front end spells it.

A setting arrives from one of several front ends: the middleware's keyword arguments,
Flask's `app.config`, Django's `settings.IDLEGUARD`, the environment, a file. A
`Spelling` says how one of them writes the names (`IDLEGUARD_IDLE_TIMEOUT` in
`app.config`, `"idle_timeout"` in Django), so a mistake is reported in the user's own
words and place: ``app.config['IDLEGUARD_IDLE_TIMOUT']: unknown idleguard setting; did you
mean IDLEGUARD_IDLE_TIMEOUT?``. `Configured` gathers what a front end gives, remembering
where each setting was written, and builds the settings with it, so that an error the
middleware raises about a setting names that place too.

Values that arrive as text (the environment, a file, a string in a framework's
configuration) read as `READERS` says: `1`/`0` for a switch, commas between paths,
`15m` for a duration. Settings that need a Python object (`clock`, `on_event`,
`identity`, ...) cannot come from text and say so.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

from . import durations, presets
from .errors import ConfigError
from .policy import Policy

__all__ = [
    "ADAPTER_OPTIONS",
    "READERS",
    "SETTING_NAMES",
    "Configured",
    "Reader",
    "Spelling",
    "closest",
    "keywords",
]

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})
#: How close a mistyped name must be to a real one to be named as a suggestion: close
#: enough that an `IDLEGUARD_*` variable of another program is not taken for a typo.
SUGGESTION_CUTOFF = 0.7

#: Reads one setting's value (text from the environment, or what a file holds) into what
#: the middleware takes; raises `ValueError` saying what is accepted.
Reader = Callable[[Any], Any]
Built = TypeVar("Built")


# -- one reader per kind of value ------------------------------------------------------------
def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {type(value).__name__}")
    return value


def _url_or_off(value: Any) -> str | None:
    if value is None or value is False:
        return None
    text = _text(value)
    return None if text.strip().lower() in durations.OFF_WORDS else text


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
        return durations.parse_duration(value)
    raise ValueError(f"{value!r} is not a duration (seconds, or a length such as 15m)")


def _seconds_or_off(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in durations.OFF_WORDS):
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


def _policy(value: Any) -> Policy | str:
    # A preset name stays a name, which the middleware looks up (and which explain() shows);
    # it is checked here so that a typo is reported with the other problems.
    if isinstance(value, str):
        presets.lookup(value)
        return value
    if isinstance(value, Mapping):
        return Policy.from_mapping(value)
    raise ValueError(f"must be a preset name or a table of policy fields, not {value!r}")


def _table(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    raise ValueError("must be a table (name -> policy): set it in a configuration file")


def _api_key_exempt(value: Any) -> None:
    if value is False or (isinstance(value, str) and value.strip().lower() in durations.OFF_WORDS):
        return None
    raise ValueError(
        "only 'none' can be set here (exempt nothing); a predicate is set where the app "
        "builds the middleware"
    )


#: Every setting the middleware takes, and how its value reads from text; `None` marks a
#: setting that needs a Python object. A test keeps it in step with the middleware's
#: parameters.
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
    "check_store_at_start": _switch,
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
#: Settings of the ASGI middleware itself, not of `idleguard.settings.Settings`.
ADAPTER_OPTIONS = ("websocket_recheck", "settings")
#: What `idleguard.settings.Settings` takes.
SETTING_NAMES = tuple(name for name in READERS if name not in ADAPTER_OPTIONS)


def closest(name: str, names: Collection[str] = SETTING_NAMES) -> str | None:
    """The setting a mistyped `name` (lower case) most likely means, if one is close."""
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=SUGGESTION_CUTOFF)
    return close[0] if close else None


@dataclasses.dataclass(frozen=True, slots=True)
class Spelling:
    """How one front end writes the settings' names, so that messages use the user's words.

    Attributes:
        source: Where the settings come from, as a whole (`app.config`).
        place: Where one setting is written, `{key}` standing for the key as the user
            wrote it (`app.config[{key!r}]` gives `app.config['IDLEGUARD_STORE']`).
        suggestion: How a suggested key is shown (`{key}`, or `{key!r}` for a dict key).
        prefix: What every key starts with before the setting's name (`IDLEGUARD_`).
        upper: Whether keys spell the names in upper case.
        text: Whether a value given as text reads as the environment's does (`"15m"`,
            `"off"`, `"/a, /b"`); keyword arguments are Python values and do not.
    """

    source: str
    place: str = "{key}"
    suggestion: str = "{key}"
    prefix: str = ""
    upper: bool = False
    text: bool = False

    def key(self, name: str) -> str:
        """The key this front end writes a setting under (`idle_timeout` ->
        `IDLEGUARD_IDLE_TIMEOUT`)."""
        return self.prefix + (name.upper() if self.upper else name)

    def name(self, key: str) -> str:
        """The setting a key names, if it names one (`IDLEGUARD_STORE` -> `store`)."""
        rest = key[len(self.prefix) :] if key.startswith(self.prefix) else key
        return rest.lower() if self.upper else rest

    def where(self, key: str) -> str:
        """Where a key the user wrote is, for a message (`app.config['IDLEGUARD_STORE']`)."""
        return self.place.format(key=key)

    def suggest(self, key: str, names: Collection[str] = SETTING_NAMES) -> str | None:
        """The closest setting to a key that names none, as this front end writes it."""
        close = closest(self.name(key).lower(), names)
        return None if close is None else self.suggestion.format(key=self.key(close))

    def unknown(self, key: str, names: Collection[str] = SETTING_NAMES) -> ConfigError:
        """The error for a key that names no setting, with the closest one if any is close."""
        name = self.name(key)
        if name in READERS:
            return ConfigError(
                f"{self.where(key)}: {name} is a setting of the ASGI middleware, not of this one"
            )
        suggestion = self.suggest(key, names)
        if suggestion is not None:
            hint = f"; did you mean {suggestion}?"
        else:
            hint = " (like none of them: the settings are listed in idleguard's Configuration docs)"
        return ConfigError(f"{self.where(key)}: unknown idleguard setting{hint}")


def keywords(middleware: str) -> Spelling:
    """The spelling of a middleware's keyword arguments (`IdleGuard(idle_timeout=...)`)."""
    return Spelling(f"{middleware}(...)", place=f"{middleware}({{key}}=...)")


class Configured:
    """The middleware's settings gathered from a front end, each with where it was written.

    `read` checks each key and value as it comes, so a mistake is reported where it was
    made; `build` makes the settings and re-raises a `ConfigError` about a setting with
    where that setting was written (``app.config['SECRET_KEY']: every secret_key must
    be ...``).

    Args:
        options: Settings already read, by name.
        origins: Where each of them was written.
    """

    def __init__(
        self, options: Mapping[str, Any] | None = None, origins: Mapping[str, str] | None = None
    ) -> None:
        #: Setting name -> value, as the middleware's keyword arguments take it.
        self.options: dict[str, Any] = dict(options or {})
        #: Setting name -> where its user wrote it.
        self.origins: dict[str, str] = dict(origins or {})

    def read(
        self, config: Mapping[str, Any], spelling: Spelling, names: Collection[str] = SETTING_NAMES
    ) -> Configured:
        """Take every setting of `config`, over what was taken before.

        Args:
            config: Key as the front end writes it -> value.
            spelling: How the front end writes them.
            names: The settings this front end takes.

        Returns:
            This object, for chaining.

        Raises:
            ConfigError: A key names no setting (with the closest one), or a text value
                does not read; the message begins with where it was written.
        """
        for raw_key, value in config.items():
            key = str(raw_key)
            name = spelling.name(key)
            if name not in names:
                raise spelling.unknown(key, names)
            where = spelling.where(key)
            reader = READERS[name]
            if spelling.text and isinstance(value, str) and reader is not None:
                try:
                    value = reader(value)
                except ValueError as error:  # PolicyError too: a bad preset names the closest
                    raise ConfigError(f"{where}: {error}", about=(name,)) from None
            self.options[name] = value
            self.origins[name] = where
        return self

    def fallback_secret(self, secret: str | bytes | None, where: str | None = None) -> None:
        """Sign idleguard's cookie with a framework's own secret, when nothing else is set.

        Args:
            secret: The framework's secret key (Flask's or Django's `SECRET_KEY`).
            where: Where it is written, for a message about it.
        """
        if secret is None or self.options.get("secret_key") is not None:
            return
        if self.options.get("identity") is not None:
            return  # the app's own credential needs no cookie of idleguard's
        self.options["secret_key"] = secret
        if where is not None:
            self.origins["secret_key"] = where

    def locate(self, error: ConfigError) -> ConfigError:
        """`error`, its message beginning with where the settings it is about were written."""
        error.located(self.origins[name] for name in error.about if name in self.origins)
        return error

    def build(self, factory: Callable[..., Built], *arguments: Any) -> Built:
        """`factory(*arguments, **options)`; a `ConfigError` it raises is `located <locate>`."""
        try:
            return factory(*arguments, **self.options)
        except ConfigError as error:
            self.locate(error)
            raise
