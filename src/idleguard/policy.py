"""The limits a session lives under: [`Policy`][idleguard.Policy].

A policy is a frozen value. It validates itself when it is built, so a policy
that makes no sense stops the application at start-up with a message that says
how to fix it, instead of quietly guarding nothing.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Union

from . import presets
from .core import Limits
from .errors import PolicyError

__all__ = ["Duration", "Limits", "Policy", "PolicyError", "check_keys", "to_seconds"]

#: A length of time: seconds as an `int`/`float`, or a `datetime.timedelta`.
Duration = Union[float, int, timedelta]  # noqa: UP007 - a runtime alias on Python 3.10

DEFAULT_IDLE_TIMEOUT = 30 * 60.0
DEFAULT_ABSOLUTE_TIMEOUT = 8 * 60 * 60.0
DEFAULT_WARN_BEFORE = 120.0
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
                f"unknown {what} field {key!r}{hint}; valid fields: {', '.join(valid)}"
            )


def to_seconds(value: Duration | None, name: str) -> float | None:
    """Turn a `Duration` into seconds, keeping `None` (meaning "no limit")."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PolicyError(
            f"{name} must be a number of seconds or a timedelta, not {type(value).__name__}"
        )
    else:
        seconds = float(value)
    if math.isnan(seconds) or math.isinf(seconds):
        raise PolicyError(f"{name} must be a finite number of seconds, got {value!r}")
    if seconds < 0:
        raise PolicyError(f"{name} must not be negative, got {seconds:g} s")
    return seconds


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class Policy:
    """How long a session may live.

    Every duration is a number of seconds or a `datetime.timedelta`; the fields
    hold seconds as `float`.

    Args:
        idle_timeout: The session ends after this long without user activity.
            `None` turns the idle limit off. Default: 30 minutes.
        absolute_timeout: The session ends this long after sign-in, however active
            it is. `None` turns the absolute limit off. Default: 8 hours.
        warn_before: How long before the idle deadline the browser client shows
            its warning. Default: 2 minutes.
        touch_interval: How stale the stored last activity may become before a
            request writes it again. Expiry can come at most this much early, so
            the default (`None`) is 2 % of the idle limit; `0` writes on every
            request.

    Raises:
        PolicyError: A limit is negative, zero, not a number, or cannot be
            reached (an idle limit longer than the absolute one, a warning or a
            touch interval as long as the idle limit); the message says how to
            fix it.
    """

    idle_timeout: float | None
    absolute_timeout: float | None
    warn_before: float
    touch_interval: float
    limits: Limits = dataclasses.field(repr=False, compare=False)

    def __init__(
        self,
        idle_timeout: Duration | None = DEFAULT_IDLE_TIMEOUT,
        absolute_timeout: Duration | None = DEFAULT_ABSOLUTE_TIMEOUT,
        warn_before: Duration = DEFAULT_WARN_BEFORE,
        touch_interval: Duration | None = None,
    ) -> None:
        idle = to_seconds(idle_timeout, "idle_timeout")
        absolute = to_seconds(absolute_timeout, "absolute_timeout")
        warn = to_seconds(warn_before, "warn_before")
        if warn is None:
            raise PolicyError("warn_before must be a duration; use 0 for no warning")
        touch = to_seconds(touch_interval, "touch_interval")
        if idle == 0:
            raise PolicyError(
                "idle_timeout of 0 would end every session at once; use None to turn it off"
            )
        if absolute == 0:
            raise PolicyError(
                "absolute_timeout of 0 would end every session at once; use None to turn it off"
            )
        if idle is not None and absolute is not None and idle > absolute:
            raise PolicyError(
                f"idle_timeout ({idle:g} s) is longer than absolute_timeout ({absolute:g} s): "
                "the idle limit could never be reached; shorten it or lengthen absolute_timeout"
            )
        if idle is not None and warn >= idle:
            raise PolicyError(
                f"warn_before ({warn:g} s) must be shorter than idle_timeout ({idle:g} s), "
                "or the warning would show before any inactivity"
            )
        if touch is None:
            touch = idle * DEFAULT_TOUCH_SHARE if idle is not None else 60.0
        if idle is not None and touch >= idle:
            raise PolicyError(
                f"touch_interval ({touch:g} s) must be shorter than idle_timeout ({idle:g} s), "
                "or activity would never be recorded in time"
            )
        object.__setattr__(self, "idle_timeout", idle)
        object.__setattr__(self, "absolute_timeout", absolute)
        object.__setattr__(self, "warn_before", warn)
        object.__setattr__(self, "touch_interval", touch)
        object.__setattr__(self, "limits", Limits(idle, absolute, touch))

    def replace(self, **changes: Any) -> Policy:
        """Return a copy with some fields changed, validated like a new policy.

        Changing `idle_timeout` alone also resets `touch_interval` to its default
        share of the new limit.

        Args:
            **changes: Fields to change, by name (seconds or timedeltas).

        Returns:
            The new policy.

        Raises:
            PolicyError: A name is not a field (the message names the closest
                one), or the new policy makes no sense.
        """
        fields: dict[str, Any] = {
            "idle_timeout": self.idle_timeout,
            "absolute_timeout": self.absolute_timeout,
            "warn_before": self.warn_before,
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
            **overrides: Fields of the preset to change (seconds or timedeltas).

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
        fields = ("idle_timeout", "absolute_timeout", "warn_before", "touch_interval")
        check_keys(data, (*fields, "preset"), "policy")
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
        seconds; the words `none`, `off` or `disabled` turn a limit off. A value that is
        not a number is an error at start-up, never a silent default.

        Args:
            base: The policy the variables change. Default: the default policy.
            environ: Where to read the variables. Default: `os.environ`.
            prefix: What the variables' names start with.

        Returns:
            `base` with the fields the environment sets.

        Raises:
            PolicyError: A value that is neither a number of seconds nor one of
                those words, or a policy that makes no sense.
        """
        env = os.environ if environ is None else environ
        policy = base if base is not None else cls()
        changes: dict[str, float | None] = {}
        for field in ("idle_timeout", "absolute_timeout", "warn_before", "touch_interval"):
            name = prefix + field.upper()
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                continue
            text = raw.strip().lower()
            if text in {"none", "off", "disabled"}:
                changes[field] = None
                continue
            try:
                changes[field] = float(text)
            except ValueError:
                raise PolicyError(f"{name}={raw!r} is not a number of seconds") from None
        return policy.replace(**changes) if changes else policy
