"""Lengths of time as people write them: `900`, `15m`, `8h`, `90s`, `1h30m`.

One reader for every place a number of seconds arrives as text (environment variables,
Flask's `app.config`, Django's `settings.IDLEGUARD`, a configuration file, a
`Policy` field), so `15m` means the same everywhere, and the same as
the preset of that name.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Union

from .errors import ConfigError

__all__ = ["OFF_WORDS", "Duration", "parse_duration", "parse_limit", "read_limit", "to_seconds"]

#: A length of time: seconds as an `int`/`float`, a `datetime.timedelta`, or
#: text such as `"900"`, `"15m"` or `"1h30m"` (see `parse_duration`).
Duration = Union[float, int, timedelta, str]  # noqa: UP007 - a runtime alias on Python 3.10

#: Words that turn a limit off where it is written as text.
OFF_WORDS = frozenset({"none", "off", "disabled"})

_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
# Units largest first, each at most once: "1h30m" and "1h 30m" read, "30m1h" does not,
# so a length reads one way only.
_LENGTH = re.compile(
    r"\s*".join(rf"(?:(?P<{unit}>\d+(?:\.\d+)?)\s*{unit})?" for unit in _UNITS),
    re.IGNORECASE,
)
_ACCEPTED = "seconds (900), or a length such as 15m, 8h, 90s, 1h30m"


def parse_duration(text: str) -> float:
    """Seconds from text: a number of seconds, or a length in days, hours, minutes, seconds.

    Args:
        text: `"900"`, `"2.5"`, `"15m"`, `"8h"`, `"90s"`, `"1h30m"`,
            `"1h 30m"`, `"1d"`; case and surrounding spaces do not matter.

    Returns:
        The number of seconds (not checked: a negative number is for the caller to refuse).

    Raises:
        ValueError: The text is neither; the message shows it and says what is accepted.
    """
    stripped = text.strip()
    try:
        return float(stripped)
    except ValueError:
        pass
    match = _LENGTH.fullmatch(stripped)
    if stripped and match is not None:
        return sum(
            float(amount) * _UNITS[unit.lower()]
            for unit, amount in match.groupdict().items()
            if amount is not None
        )
    raise ValueError(f"{text!r} is not a duration: write {_ACCEPTED}")


def parse_limit(text: str) -> float | None:
    """Like `parse_duration`, with `OFF_WORDS` meaning no limit (`None`)."""
    return None if text.strip().lower() in OFF_WORDS else parse_duration(text)


def to_seconds(
    value: Duration | None, name: str, error: type[ConfigError] = ConfigError
) -> float | None:
    """Turn a `Duration` into seconds, keeping `None` (meaning "no limit").

    Args:
        value: Seconds, a timedelta, text (`parse_duration`), or None.
        name: The setting it is, for the message.
        error: The class of error to raise (`PolicyError` for a policy's fields).

    Returns:
        The seconds, finite and not negative; None for None.

    Raises:
        ConfigError: The value is not a duration, is negative or is not finite.
    """
    if value is None:
        return None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, str):
        try:
            seconds = parse_duration(value)
        except ValueError as refused:
            raise error(f"{name}: {refused}", about=(name,)) from None
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(
            f"{name} must be a number of seconds, a timedelta or a length such as '15m', "
            f"not {type(value).__name__}",
            about=(name,),
        )
    else:
        seconds = float(value)
    if math.isnan(seconds) or math.isinf(seconds):
        raise error(f"{name} must be a finite number of seconds, got {value!r}", about=(name,))
    if seconds < 0:
        raise error(f"{name} must not be negative, got {seconds:g} s", about=(name,))
    return seconds


def read_limit(text: str, name: str = "a length") -> float | None:
    """A limit from a command line: `parse_limit`, then finite and not negative.

    Args:
        text: `"900"`, `"15m"`, `"8h"`, `"1h30m"`, or an `OFF_WORDS` word.
        name: What it is, for the message when it is negative or not finite.

    Returns:
        The seconds, or `None` for a word that turns the limit off.

    Raises:
        ValueError: The text is not a duration, or is negative or not finite.
    """
    seconds = parse_limit(text)
    return None if seconds is None else to_seconds(seconds, name)
