"""How the pages say what the server decided: limits, rules and countdowns in words."""

from __future__ import annotations

import re

from ..session_end import in_words

__all__ = ["countdown", "limit_in_words", "note_in_words", "rule_in_words"]

_CUT = re.compile(r"^(?P<who>\S+) idle limit cut to (?P<seconds>[\d.]+) s by (?P<rule>.+)$")


def limit_in_words(seconds: float | None) -> str:
    """A limit as the pages show it; ``None`` is a limit that is off."""
    return "Off" if seconds is None else in_words(seconds)


def countdown(seconds: float | None) -> str:
    """Time left as a clock shows it: ``14:59``, ``7:59:59``; an em dash when there is no limit."""
    if seconds is None:
        return "—"
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def rule_in_words(rule: str) -> str:
    """What set a limit, from the rule name :func:`idleguard.explain` gives."""
    if rule.startswith("tenant:"):
        return "your organisation's setting"
    if rule == "user":
        return "your own choice"
    if rule == "tenant maximum":
        return "your organisation's limit"
    if rule == "default" or rule.startswith("preset:"):
        return "the default policy"
    if rule.startswith("role:"):
        return f"the limit for the {rule.removeprefix('role:')} role"
    if rule.startswith("device:"):
        return "the limit for your device"
    if rule.startswith("path:"):
        return f"the rule for {rule.removeprefix('path:')}"
    return rule


def note_in_words(note: str) -> str:
    """A clamp :func:`idleguard.explain` noted, as a sentence for the user."""
    cut = _CUT.match(note)
    if cut is not None and cut["who"] == "user":
        return (
            f"Your own choice is cut to {in_words(float(cut['seconds']))} by "
            f"{rule_in_words(cut['rule'])}."
        )
    if note.startswith("user chose 'never'"):
        return "You chose never to be signed out, which your organisation does not allow."
    return note[:1].upper() + note[1:] + "."
