"""What an operator does to a deployment, as functions the commands are thin layers over.

* `idleguard.operations.configuration`: read a configuration from the environment or
  a file, with the names the framework integrations use, and build the middleware's
  settings from it exactly as the middleware does;
* `idleguard.operations.check`: whether a configuration would start, and whether
  its store answers;
* `idleguard.operations.sessions`: a subject's sessions, revoking them, sweeping
  the expired ones, each reported to the audit trail as the middleware would.

`idleguard` (`idleguard.cli`) and `manage.py idleguard` (the Django app's
management command) parse arguments and print; everything they do is here.
"""

from __future__ import annotations

from .check import CheckResult, StoreProbe, check, check_built, probe
from .configuration import (
    Configuration,
    ConfigurationRefused,
    build_settings,
    from_environment,
    from_file,
    unknown_names,
)
from .sessions import SessionRow, list_sessions, purge_expired, revoke_sessions, revoked_event

__all__ = [
    "CheckResult",
    "Configuration",
    "ConfigurationRefused",
    "SessionRow",
    "StoreProbe",
    "build_settings",
    "check",
    "check_built",
    "from_environment",
    "from_file",
    "list_sessions",
    "probe",
    "purge_expired",
    "revoke_sessions",
    "revoked_event",
    "unknown_names",
]
