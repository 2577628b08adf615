"""The two families of errors idleguard raises, at the bottom of the package so every module can.

* [`ConfigError`][idleguard.ConfigError] (a `ValueError`): a setting that cannot be
  enforced as written. Raised at start-up, with a message that says what to change.
* [`StoreUnavailable`][idleguard.StoreUnavailable]: the session store could not answer
  (its driver's declared errors, a timeout). The middleware answers `503`, or serves
  unguarded under `fail_open`. Nothing else is an outage: any other error is a bug,
  refused and logged.
"""

from __future__ import annotations

__all__ = ["ConfigError", "PolicyError", "StoreUnavailable"]


class ConfigError(ValueError):
    """A configuration that cannot be enforced as written; the message says what to change."""


class PolicyError(ConfigError):
    """A policy that cannot be enforced as written; the message says what to change."""


class StoreUnavailable(Exception):
    """The store could not answer in time; the middleware turns it into a defined response."""
