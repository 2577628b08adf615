"""The limits a session lives under: [`Policy`][idleguard.Policy].

A policy is a frozen value. It validates itself when it is built, so a policy
that makes no sense stops the application at start-up with a message that says
how to fix it, instead of quietly guarding nothing.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from . import durations, presets
from .core import Limits
from .durations import Duration
from .errors import PolicyError

__all__ = [
    "POLICY_FIELDS",
    "Duration",
    "Limits",
    "Policy",
    "PolicyError",
    "check_keys",
    "default_warn_before",
    "to_seconds",
]


#: The fields of a `Policy`, which a configuration may also set one by one.
POLICY_FIELDS = ("idle_timeout", "absolute_timeout", "warn_before", "touch_interval")
DEFAULT_IDLE_TIMEOUT = 30 * 60.0
DEFAULT_ABSOLUTE_TIMEOUT = 8 * 60 * 60.0
DEFAULT_WARN_BEFORE = 120.0
#: The most of the idle limit a warning takes when idleguard picks it: a 60 s limit warns
#: 30 s before, so a short limit never leaves the warning on from the first second.
WARNING_SHARE = 0.5
#: The stored last activity may lag by this share of the idle limit: expiry is
#: then never more than 2 % early, and a busy session writes at most once per
#: `touch_interval` instead of on every request.
DEFAULT_TOUCH_SHARE = 0.02


def check_keys(data: Mapping[str, Any], valid: tuple[str, ...], what: str) -> None:
    """Refuse keys outside `valid`, naming the closest valid key for each typo."""
    import difflib

    for key in data:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise PolicyError(
                f"unknown {what} field {key!r}{hint}; valid fields: {', '.join(valid)}",
                about=(str(key),),
            )


def to_seconds(value: Duration | None, name: str) -> float | None:
    """Turn a `Duration` into seconds, keeping `None` (meaning "no limit").

    Text reads as `idleguard.durations.parse_duration` reads it (`"15m"`, `"1h30m"`).
    """
    return durations.to_seconds(value, name, PolicyError)


def default_warn_before(idle_timeout: float | None) -> float:
    """The warning when none is set: 2 minutes, or `WARNING_SHARE` of a shorter idle limit."""
    if idle_timeout is None:
        return DEFAULT_WARN_BEFORE
    return min(DEFAULT_WARN_BEFORE, idle_timeout * WARNING_SHARE)


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class Policy:
    """How long a session may live.

    Every duration is a number of seconds, a `datetime.timedelta`, or text such
    as `"15m"`, `"8h"`, `"1h30m"`; the fields hold seconds as `float`.

    Args:
        idle_timeout: The session ends after this long without user activity.
            `None` turns the idle limit off. Default: 30 minutes.
        absolute_timeout: The session ends this long after sign-in, however active
            it is. `None` turns the absolute limit off. Default: 8 hours.
        warn_before: How long before the idle deadline the browser client shows
            its warning; `0` shows none. Default (`None`): 2 minutes, or half the
            idle limit when that is shorter, and it follows the idle limit through
            `replace`.
        touch_interval: How stale the stored last activity may become before a
            request writes it again. Expiry can come at most this much early, so
            the default (`None`) is 2 % of the idle limit; `0` writes on every
            request.

    Raises:
        PolicyError: A limit is negative, zero, not a duration, or cannot be
            reached (an idle limit longer than the absolute one, a warning or a
            touch interval as long as the idle limit); the message says how to
            fix it.
    """

    idle_timeout: float | None
    absolute_timeout: float | None
    warn_before: float
    touch_interval: float
    limits: Limits = dataclasses.field(repr=False, compare=False)
    #: Whether `warn_before` is the default one, which follows the idle limit.
    warning_follows_idle: bool = dataclasses.field(repr=False, compare=False)

    def __init__(
        self,
        idle_timeout: Duration | None = DEFAULT_IDLE_TIMEOUT,
        absolute_timeout: Duration | None = DEFAULT_ABSOLUTE_TIMEOUT,
        warn_before: Duration | None = None,
        touch_interval: Duration | None = None,
    ) -> None:
        idle = to_seconds(idle_timeout, "idle_timeout")
        absolute = to_seconds(absolute_timeout, "absolute_timeout")
        warn = to_seconds(warn_before, "warn_before")
        touch = to_seconds(touch_interval, "touch_interval")
        if idle == 0:
            raise PolicyError(
                "idle_timeout of 0 would end every session at once; use None to turn it off",
                about=("idle_timeout",),
            )
        if absolute == 0:
            raise PolicyError(
                "absolute_timeout of 0 would end every session at once; use None to turn it off",
                about=("absolute_timeout",),
            )
        if idle is not None and absolute is not None and idle > absolute:
            raise PolicyError(
                f"idle_timeout ({idle:g} s) is longer than absolute_timeout ({absolute:g} s): "
                "the idle limit could never be reached; shorten it or lengthen absolute_timeout",
                about=("idle_timeout", "absolute_timeout"),
            )
        follows = warn is None
        if warn is None:
            warn = default_warn_before(idle)
        if idle is not None and warn >= idle:
            raise PolicyError(
                f"warn_before ({warn:g} s) must be shorter than idle_timeout ({idle:g} s), "
                "or the warning would show before any inactivity",
                about=("warn_before", "idle_timeout"),
            )
        if touch is None:
            touch = idle * DEFAULT_TOUCH_SHARE if idle is not None else 60.0
        if idle is not None and touch >= idle:
            raise PolicyError(
                f"touch_interval ({touch:g} s) must be shorter than idle_timeout ({idle:g} s), "
                "or activity would never be recorded in time",
                about=("touch_interval", "idle_timeout"),
            )
        object.__setattr__(self, "idle_timeout", idle)
        object.__setattr__(self, "absolute_timeout", absolute)
        object.__setattr__(self, "warn_before", warn)
        object.__setattr__(self, "touch_interval", touch)
        object.__setattr__(self, "limits", Limits(idle, absolute, touch))
        object.__setattr__(self, "warning_follows_idle", follows)

    def replace(self, **changes: Any) -> Policy:
        """Return a copy with some fields changed, validated like a new policy.

        A new `idle_timeout` brings the default `touch_interval` with it, and the
        default `warn_before` unless this policy's warning was set on purpose.

        Args:
            **changes: Fields to change, by name (durations).

        Returns:
            The new policy.

        Raises:
            PolicyError: A name is not a field (the message names the closest
                one), or the new policy makes no sense.
        """
        fields: dict[str, Any] = {
            "idle_timeout": self.idle_timeout,
            "absolute_timeout": self.absolute_timeout,
            "warn_before": None if self.warning_follows_idle else self.warn_before,
            "touch_interval": self.touch_interval,
        }
        check_keys(changes, tuple(fields), "policy")
        if "idle_timeout" in changes and "touch_interval" not in changes:
            # The touch interval follows the idle limit unless set on purpose.
            fields["touch_interval"] = None
        fields.update(changes)
        return Policy(**fields)

    def as_dict(self) -> dict[str, float | None]:
        """The policy as plain numbers (seconds), for events and the status endpoint."""
        return {
            "idle_timeout": self.idle_timeout,
            "absolute_timeout": self.absolute_timeout,
            "warn_before": self.warn_before,
            "touch_interval": self.touch_interval,
        }

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> Policy:
        """A named policy: a rung of the ladder or a compliance preset.

        Args:
            name: The ladder (`"disabled"`, `"15m"` ... `"8h"`) or a compliance
                preset (`"pci-dss"`, `"nist-800-63b-aal2"` ...); see
                `docs/policies.md`.
            **overrides: Fields of the preset to change (durations).

        Returns:
            The preset's policy, with the overrides applied.

        Raises:
            PolicyError: An unknown name (the message names the closest valid
                one), or overrides that make no sense.
        """
        preset = presets.lookup(name)
        base = cls(idle_timeout=preset.idle_timeout, absolute_timeout=preset.absolute_timeout)
        return base.replace(**overrides) if overrides else base

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Policy:
        """Build a policy from configuration: the field names, or `preset` plus overrides.

        An unknown key is an error that names the closest valid one, so a typo
        in a configuration file stops start-up instead of being ignored.

        Args:
            data: The policy's fields by name, or `preset` (a preset name) plus
                fields that override it.

        Returns:
            The policy.

        Raises:
            PolicyError: An unknown key, an unknown preset, or a policy that
                makes no sense.
        """
        check_keys(data, (*POLICY_FIELDS, "preset"), "policy")
        values = {key: value for key, value in data.items() if key != "preset"}
        if "preset" in data:
            return cls.preset(data["preset"], **values)
        return cls(**values)

    @classmethod
    def from_env(
        cls,
        base: Policy | None = None,
        environ: Mapping[str, str] | None = None,
        prefix: str = "IDLEGUARD_",
    ) -> Policy:
        """Build a policy from environment variables, over `base`.

        `IDLEGUARD_IDLE_TIMEOUT`, `IDLEGUARD_ABSOLUTE_TIMEOUT`,
        `IDLEGUARD_WARN_BEFORE` and `IDLEGUARD_TOUCH_INTERVAL` are read as
        durations (`900`, `15m`, `1h30m`; see `idleguard.durations`); the words
        `none` or `off` turn a limit off, and the warning (`0`). A value that is
        not a duration is an error at start-up, never a silent default; every error
        names the variables it is about.

        Args:
            base: The policy the variables change. Default: the default policy.
            environ: Where to read the variables. Default: `os.environ`.
            prefix: What the variables' names start with.

        Returns:
            `base` with the fields the environment sets.

        Raises:
            PolicyError: A value that is not a duration nor one of those words,
                or a policy that makes no sense.
        """
        env = os.environ if environ is None else environ
        policy = base if base is not None else cls()
        changes: dict[str, float | None] = {}
        written: dict[str, str] = {}
        for field in POLICY_FIELDS:
            name = prefix + field.upper()
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                continue
            try:
                seconds = durations.parse_limit(raw)
            except ValueError as error:
                raise PolicyError(f"{name}: {error}", about=(field,)) from None
            # "off" for the warning is no warning; None would be the default one.
            changes[field] = 0.0 if seconds is None and field == "warn_before" else seconds
            written[field] = f"{name}={raw.strip()}"
        if not changes:
            return policy
        try:
            return policy.replace(**changes)
        except PolicyError as error:
            error.located(written[field] for field in error.about if field in written)
            for field in error.about:
                if field not in written and field in POLICY_FIELDS:
                    error.args = (
                        f"{error}; {field} is the base policy's: set {prefix}{field.upper()} "
                        "to change it",
                    )
            raise
