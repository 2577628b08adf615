"""Which control each probe of `idleguard verify` evidences, as an assessor names it."""

from __future__ import annotations

__all__ = ["CONTROLS", "PROBES", "controls_of"]

#: Every control named in a report, with what it asks.
CONTROLS: dict[str, str] = {
    "PCI DSS 8.2.8": "re-authenticate after more than 15 minutes of idle session",
    "NIST AC-11": "device lock: conceal and lock after a period of inactivity",
    "NIST AC-12": "session termination: terminate a session after defined conditions",
    "NIST AC-12(1)": "user-initiated logouts, with an explicit logout message",
    "SOC 2 CC6.1": "logical access security over protected information assets",
    "OWASP ASVS V3": "session management (V3.3 termination, V3.4 cookie attributes)",
    "OWASP ASVS V7": "session management in ASVS 5 (V7.3 timeout, V7.4 termination)",
    "WSTG-SESS-02": "testing for cookie attributes",
    "WSTG-SESS-03": "testing for session fixation",
    "WSTG-SESS-06": "testing for logout functionality",
    "WSTG-SESS-07": "testing session timeout",
}

#: Each probe: its title and the controls its evidence supports.
PROBES: dict[str, tuple[str, tuple[str, ...]]] = {
    "idle-expiry": (
        "Idle session expires at the idle limit",
        (
            "PCI DSS 8.2.8",
            "NIST AC-11",
            "NIST AC-12",
            "SOC 2 CC6.1",
            "OWASP ASVS V3",
            "OWASP ASVS V7",
            "WSTG-SESS-07",
        ),
    ),
    "absolute-expiry": (
        "Active session expires at the absolute limit",
        ("NIST AC-12", "SOC 2 CC6.1", "OWASP ASVS V3", "OWASP ASVS V7", "WSTG-SESS-07"),
    ),
    "passive-path": (
        "Background requests do not extend a session",
        ("PCI DSS 8.2.8", "NIST AC-11", "NIST AC-12", "WSTG-SESS-07"),
    ),
    "keepalive-bound": (
        "Keepalive cannot carry a session past the absolute limit",
        ("NIST AC-12", "OWASP ASVS V3", "OWASP ASVS V7", "WSTG-SESS-07"),
    ),
    "sign-out-replay": (
        "A signed-out session's cookie is refused when replayed",
        ("NIST AC-12(1)", "SOC 2 CC6.1", "OWASP ASVS V3", "OWASP ASVS V7", "WSTG-SESS-06"),
    ),
    "sign-out-headers": (
        "Sign-out answers with Cache-Control: no-store and Clear-Site-Data",
        ("NIST AC-12(1)", "OWASP ASVS V3", "OWASP ASVS V7", "WSTG-SESS-06"),
    ),
    "cookie-attributes": (
        "Session cookie is Secure, HttpOnly, SameSite, and outlives no limit",
        ("OWASP ASVS V3", "OWASP ASVS V7", "WSTG-SESS-02"),
    ),
    "session-rotation": (
        "Sign-in issues a new session id (no fixation)",
        ("OWASP ASVS V3", "OWASP ASVS V7", "WSTG-SESS-03"),
    ),
    "client-endpoints": (
        "idleguard's client endpoints: the limits reported, keepalive refused to another "
        "site, sign-out ending the session",
        ("NIST AC-12", "NIST AC-12(1)", "OWASP ASVS V3", "OWASP ASVS V7"),
    ),
    "shared-session": (
        "One session is accepted by every service",
        ("SOC 2 CC6.1", "NIST AC-12"),
    ),
    "sign-out-everywhere": (
        "A sign-out on one service is refused on the others",
        ("NIST AC-12(1)", "SOC 2 CC6.1", "WSTG-SESS-06"),
    ),
    "limits-parity": (
        "Every service enforces the same limits, within tolerance",
        ("PCI DSS 8.2.8", "NIST AC-12", "SOC 2 CC6.1"),
    ),
}


def controls_of(probe: str) -> tuple[str, ...]:
    """The controls `probe`'s evidence supports."""
    return PROBES[probe][1]
