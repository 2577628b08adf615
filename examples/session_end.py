"""What a sign-in page tells a user whose session has ended, in words.

The middleware sends a browser to the sign-in page with ``?reason=idle`` (or
``absolute``, ``signed_out``, ``revoked``, ...). That code is for programs; a
person reads :func:`describe_end`'s sentence instead. The query string is
anyone's to write, so a code this module does not know gets the general
sentence and is never echoed back.
"""

from __future__ import annotations

from idleguard import Policy

__all__ = ["describe_end", "in_words"]


def in_words(seconds: float) -> str:
    """A duration as a person says it: ``"30 minutes"``, ``"1 hour and 30 minutes"``."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{count} {unit}{'' if count == 1 else 's'}"
        for count, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second"))
        if count
    ]
    if not parts:
        return "0 seconds"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def describe_end(reason: str, policy: Policy) -> str:
    """The sentence for a session that ended with ``reason`` under ``policy``."""
    if reason == "idle":
        if policy.idle_timeout is None:
            return "You were signed out after a period without activity."
        return f"You were signed out after {in_words(policy.idle_timeout)} without activity."
    if reason == "absolute":
        if policy.absolute_timeout is None:
            return "Your session reached its time limit. Please sign in again."
        return (
            f"Your session ended {in_words(policy.absolute_timeout)} after you signed in. "
            "Please sign in again."
        )
    if reason == "signed_out":
        return "You signed out."
    if reason == "revoked":
        return "Your session was ended by an administrator or by a sign-out elsewhere."
    return "Your session has ended. Please sign in again."
