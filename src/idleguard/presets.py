"""Named policies: the ladder an admin picks from, and the compliance presets.

Each preset records where its numbers come from. A number the standard sets
is cited by clause; a number the standard leaves to the organisation's risk
assessment is marked as idleguard's choice (`chosen`), so nobody mistakes
it for a requirement. `docs/policies.md` shows the same table, and a test
keeps the two in step.
"""

from __future__ import annotations

import dataclasses
import difflib

from .errors import PolicyError

__all__ = ["PRESETS", "Preset", "lookup", "preset_names", "suggest"]

MINUTE = 60.0
HOUR = 3600.0


@dataclasses.dataclass(frozen=True, slots=True)
class Preset:
    """A named policy and its provenance.

    `idle_timeout` and `absolute_timeout` are seconds (`None`: that limit
    is off). `source` names the standard and its revision, `clause` the
    clause each number answers. `chosen` lists the fields whose numbers the
    standard leaves to a risk assessment: idleguard picked them, and the docs
    say so.
    """

    name: str
    idle_timeout: float | None
    absolute_timeout: float | None
    source: str
    clause: str
    chosen: tuple[str, ...] = ()
    note: str = ""


_LADDER_SOURCE = "idleguard ladder"
_DEFAULT_ABSOLUTE = 8 * HOUR


def _ladder(name: str, idle: float | None) -> Preset:
    return Preset(
        name,
        idle,
        _DEFAULT_ABSOLUTE,
        _LADDER_SOURCE,
        "none: an administrator's choice",
        ("idle_timeout", "absolute_timeout"),
    )


#: Every named policy, by name.
PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        _ladder("disabled", None),
        _ladder("15m", 15 * MINUTE),
        _ladder("30m", 30 * MINUTE),
        _ladder("1h", HOUR),
        _ladder("2h", 2 * HOUR),
        _ladder("4h", 4 * HOUR),
        _ladder("8h", 8 * HOUR),
        Preset(
            "pci-dss",
            15 * MINUTE,
            _DEFAULT_ABSOLUTE,
            "PCI DSS v4.0.1",
            "Req. 8.2.8: re-authenticate after more than 15 minutes idle",
            ("absolute_timeout",),
            "PCI DSS sets no absolute limit; 8 h is idleguard's default.",
        ),
        Preset(
            "fedramp-moderate",
            15 * MINUTE,
            12 * HOUR,
            "FedRAMP Rev. 5 Moderate baseline (NIST SP 800-53 Rev. 5)",
            "AC-11(a): device lock after 15 minutes (FedRAMP parameter); SC-10: 15 minutes "
            "for user sessions; IA-11 guidance: 12 hours at AAL2",
            (),
            "AC-12 leaves its conditions to the organisation; AC-11's 15 minutes is the "
            "binding idle number. Privileged sessions: SC-10 sets 10 minutes, add a path rule.",
        ),
        Preset(
            "nist-800-63b-rev4-aal2",
            HOUR,
            24 * HOUR,
            "NIST SP 800-63B-4 (2025)",
            "Sec. 2.2.3: overall timeout SHOULD be no more than 24 hours; inactivity "
            "timeout SHOULD be no more than 1 hour",
        ),
        Preset(
            "nist-800-63b-rev4-aal3",
            15 * MINUTE,
            12 * HOUR,
            "NIST SP 800-63B-4 (2025)",
            "Sec. 2.3.3: overall timeout SHALL be no more than 12 hours; inactivity "
            "timeout SHOULD be no more than 15 minutes",
        ),
        Preset(
            "nist-800-63b-rev3-aal2",
            30 * MINUTE,
            12 * HOUR,
            "NIST SP 800-63B (2017, rev. 3)",
            "Sec. 4.2.3: reauthenticate at least once per 12 hours and after 30 minutes "
            "of inactivity (SHALL)",
        ),
        Preset(
            "nist-800-63b-rev3-aal3",
            15 * MINUTE,
            12 * HOUR,
            "NIST SP 800-63B (2017, rev. 3)",
            "Sec. 4.3.3: reauthenticate at least once per 12 hours and after 15 minutes "
            "of inactivity (SHALL)",
        ),
        Preset(
            "hipaa",
            15 * MINUTE,
            _DEFAULT_ABSOLUTE,
            "HIPAA Security Rule, 45 CFR 164.312(a)(2)(iii)",
            "Automatic logoff (addressable): terminate a session after a "
            "'predetermined time of inactivity'; no number",
            ("idle_timeout", "absolute_timeout"),
            "The rule sets no number: your risk analysis (164.308(a)(1)(ii)(A)) must "
            "confirm 15 minutes or pick another.",
        ),
        Preset(
            "soc2",
            30 * MINUTE,
            _DEFAULT_ABSOLUTE,
            "AICPA Trust Services Criteria (2017, rev. 2022)",
            "CC6.1: logical access security over protected information assets; no number",
            ("idle_timeout", "absolute_timeout"),
            "CC6.1 sets no number: the numbers are idleguard's defaults, which your "
            "own policy and risk assessment must adopt.",
        ),
    )
}

#: Short names that mean the current revision of a standard.
ALIASES = {
    "nist-800-63b-aal2": "nist-800-63b-rev4-aal2",
    "nist-800-63b-aal3": "nist-800-63b-rev4-aal3",
}


def preset_names() -> list[str]:
    """Every accepted name, aliases included."""
    return [*PRESETS, *ALIASES]


def suggest(name: str) -> str | None:
    """The valid name closest to a mistyped one, if any is close."""
    candidates = difflib.get_close_matches(name.strip().lower(), preset_names(), n=1, cutoff=0.5)
    return candidates[0] if candidates else None


def lookup(name: str) -> Preset:
    """The preset called `name` (case-insensitive).

    Raises:
        PolicyError: No preset has that name (the message names the closest).
    """
    if not isinstance(name, str):
        raise PolicyError(f"a preset name must be a string, not {type(name).__name__}")
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    preset = PRESETS.get(key)
    if preset is None:
        close = suggest(name)
        hint = f"; did you mean {close!r}?" if close else ""
        raise PolicyError(
            f"unknown policy preset {name!r}{hint} Valid names: {', '.join(preset_names())}"
        )
    return preset
