"""What a sign-in page tells a user whose session has ended, in words.

The middleware sends a browser to the sign-in page with ``?reason=idle`` (or
``absolute``, ``signed_out``, ``revoked``, ...). That code is for programs; a
person reads :func:`describe_end`'s sentence instead. The query string is
anyone's to write, so a code this module does not know gets the general
sentence and is never echoed back.
"""

from __future__ import annotations

import idleguard
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
    """The sentence for a session that ended with ``reason`` under ``policy``.

    The library's own sentences (:func:`idleguard.describe_end`), in the page's
    language when it passes ``locale=``; a code it does not know gets the general
    sentence, never echoed back.
    """
    return idleguard.describe_end(reason, policy)
