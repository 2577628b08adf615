"""The two families of errors idleguard raises, at the bottom of the package so every module can.

* [`ConfigError`][idleguard.ConfigError] (a `ValueError`): a setting that cannot be
  enforced as written. Raised at start-up, with a message that says what to change.
* [`StoreUnavailable`][idleguard.StoreUnavailable]: the session store could not answer
  (its driver's declared errors, a timeout). The middleware answers `503`, or serves
  unguarded under `fail_open`. Nothing else is an outage: any other error is a bug,
  refused and logged.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ConfigError", "PolicyError", "ReplicationUnconfirmed", "StoreUnavailable"]


class ConfigError(ValueError):
    """A configuration that cannot be enforced as written; the message says what to change.

    Args:
        message: What is wrong and what to change.
        about: The settings the error is about, by their names (`"secret_key"`,
            `"idle_timeout"`), so that a front end can say where its user wrote them.

    Attributes:
        about: As above; empty when the error is about no one setting.
    """

    def __init__(self, message: str, *, about: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.about = tuple(about)

    def located(self, places: Iterable[str]) -> None:
        """Begin the message with where the settings it is about were written, in place.

        The error keeps its class and its traceback, so it can be raised again as it is.

        Args:
            places: Where the user wrote them (`app.config['SECRET_KEY']`); none leaves
                the message as it is.
        """
        written = ", ".join(places)
        if written and not str(self).startswith(written):
            self.args = (f"{written}: {self}",)


class PolicyError(ConfigError):
    """A policy that cannot be enforced as written; the message says what to change."""


class StoreUnavailable(Exception):
    """The store could not answer in time; the middleware turns it into a defined response."""


class ReplicationUnconfirmed(StoreUnavailable):
    """A tombstone was written, but no replica confirmed it within the durable timeout.

    The sign-out or revocation is on the primary; a failover before the
    replicas catch up could lose it. The middleware answers `503` (the
    cookie is cleared all the same) so the caller knows the ending is not yet
    safe, and a retry waits for the replicas again.
    """
