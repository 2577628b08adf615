"""A progress line on standard error for a long run: what it waits for, and how long."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TextIO

from .timeline import Timeline

__all__ = ["Progress"]

#: Waits shorter than this (seconds) are not worth a line.
SHOWN_WAIT = 1.0


def _length(seconds: float) -> str:
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


class Progress:
    """A [`Scheduler`][idleguard.verify.Scheduler]'s `on_wait`: one line per wait worth telling.

    On a terminal the line rewrites itself; elsewhere (a CI log) each wait is a line.

    Args:
        timeline: Where the time is read.
        stream: Where the lines go (standard error).
    """

    def __init__(self, timeline: Timeline, stream: TextIO) -> None:
        self.timeline = timeline
        self.stream = stream
        self.terminal = stream.isatty()
        self.lines = 0

    def __call__(self, moment: float, running: int) -> None:
        left = moment - self.timeline.now()
        if left < SHOWN_WAIT:
            return
        until = datetime.fromtimestamp(moment, timezone.utc).strftime("%H:%M:%SZ")
        line = (
            f"idleguard verify: waiting {_length(left)} (until {until}), {running} probe(s) running"
        )
        if self.terminal:
            self.stream.write("\r\x1b[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.lines += 1

    def done(self) -> None:
        """End the rewritten line, if there is one."""
        if self.terminal and self.lines:
            self.stream.write("\n")
            self.stream.flush()
