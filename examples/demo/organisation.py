"""The organisation's session security settings, kept where the guard reads them.

In a real app this is a row in the database. The middleware reads it through
:meth:`Organisation.tenant_policy` and :meth:`Organisation.user_choice`, its
``tenants=`` and ``users=`` resolvers, and caches their answers; the settings
pages write it, then tell the policy engine, so the change applies from the
next request.
"""

from __future__ import annotations

import dataclasses
import threading

from idleguard import NEVER, Policy, TenantPolicy, UserChoice

from ..session_end import in_words

__all__ = [
    "ABSOLUTE_HOURS",
    "DEFAULT_RUNG",
    "LADDER",
    "USER_OPTIONS",
    "Organisation",
    "Rung",
    "SettingError",
    "UserOption",
]

HOUR = 3600.0
#: The session expiration an admin may pick, in hours; it cannot be turned off.
ABSOLUTE_HOURS = range(1, 25)


class SettingError(ValueError):
    """A setting the organisation cannot have; the message says why, in words."""


@dataclasses.dataclass(frozen=True, slots=True)
class Rung:
    """One step of the inactivity ladder: the preset it names and what it suits."""

    preset: str
    idle_timeout: float | None
    label: str
    use_case: str


LADDER = (
    Rung("disabled", None, "Disabled", "No sign-out for inactivity; sessions still expire."),
    Rung("15m", 15 * 60.0, "15 minutes", "PCI DSS 8.2.8; high-security environments."),
    Rung("30m", 30 * 60.0, "30 minutes", "General enterprise security; NIST 800-63B rev. 3 AAL2."),
    Rung("1h", HOUR, "1 hour", "Balanced security and usability; NIST 800-63B rev. 4 AAL2."),
    Rung("2h", 2 * HOUR, "2 hours", "Development teams with long focused sessions."),
    Rung("4h", 4 * HOUR, "4 hours", "Low-risk environments."),
    Rung("8h", 8 * HOUR, "8 hours", "Minimal security: a full workday."),
)
DEFAULT_RUNG = "30m"


@dataclasses.dataclass(frozen=True, slots=True)
class UserOption:
    """One answer to "sign me out after": ``value`` is what the form sends."""

    value: str
    label: str
    choice: UserChoice | None


USER_OPTIONS = (
    UserOption("organisation", "My organisation's setting", None),
    UserOption("never", "Never (until I sign out)", UserChoice("never")),
    UserOption("15", "15 minutes", UserChoice(15 * 60)),
    UserOption("30", "30 minutes", UserChoice(30 * 60)),
    UserOption("60", "1 hour", UserChoice(HOUR)),
)


class Organisation:
    """One customer organisation (an idleguard tenant) and its settings; thread-safe."""

    def __init__(self, tenant: str, name: str, policy: Policy) -> None:
        self.tenant = tenant
        self.name = name
        self._policy = policy
        self._choices: dict[str, UserChoice] = {}
        self._lock = threading.Lock()

    @property
    def policy(self) -> Policy:
        """The organisation's policy: its inactivity timeout and session expiration."""
        with self._lock:
            return self._policy

    @property
    def bounds(self) -> TenantPolicy:
        """What the organisation allows: a user's own choice may only be shorter."""
        return TenantPolicy(self.policy)

    def rung(self) -> Rung | None:
        """The ladder step in force, ``None`` when the policy came from elsewhere."""
        idle = self.policy.idle_timeout
        return next((rung for rung in LADDER if rung.idle_timeout == idle), None)

    # -- the guard's resolvers ------------------------------------------------
    def tenant_policy(self, tenant: str) -> TenantPolicy | None:
        """``tenants=``: this organisation's bounds; ``None`` for any other tenant."""
        return self.bounds if tenant == self.tenant else None

    def user_choice(self, subject: str, tenant: str | None) -> UserChoice | None:
        """``users=``: the user's own choice, ``None`` for the organisation's setting."""
        with self._lock:
            return self._choices.get(subject) if tenant == self.tenant else None

    # -- what the settings pages write ------------------------------------------
    def policy_for(self, preset: str, absolute_hours: str) -> Policy:
        """The policy an admin asked for on the Session security page."""
        rung = next((rung for rung in LADDER if rung.preset == preset), None)
        if rung is None:
            raise SettingError("Choose an inactivity timeout from the list.")
        try:
            hours = int(absolute_hours)
        except ValueError:
            raise SettingError("The session expiration must be a whole number of hours.") from None
        if hours not in ABSOLUTE_HOURS:
            raise SettingError(
                f"The session expiration must be between {ABSOLUTE_HOURS[0]} and "
                f"{ABSOLUTE_HOURS[-1]} hours."
            )
        if rung.idle_timeout is not None and rung.idle_timeout > hours * HOUR:
            raise SettingError(
                f"An inactivity timeout of {rung.label} can never be reached when every session "
                f"ends {in_words(hours * HOUR)} after sign-in: choose a shorter timeout or a "
                "longer expiration."
            )
        warn_before = self.policy.warn_before
        if rung.idle_timeout is not None:
            # A warning must come after some inactivity, whatever the lead time started as.
            warn_before = min(warn_before, rung.idle_timeout / 2)
        return Policy.preset(rung.preset, absolute_timeout=hours * HOUR, warn_before=warn_before)

    def save_policy(self, policy: Policy) -> None:
        with self._lock:
            self._policy = policy

    def choice_of(self, subject: str) -> UserChoice | None:
        with self._lock:
            return self._choices.get(subject)

    def allows(self, choice: UserChoice | None) -> bool:
        """Whether a user of this organisation may choose ``choice``."""
        if choice is None or choice.idle_timeout is None:
            return True
        bounds = self.bounds
        chosen = choice.idle_timeout
        if chosen == NEVER:
            return bounds.allow_never
        maximum = bounds.max_idle_timeout
        return maximum is None or (isinstance(chosen, float) and chosen <= maximum)

    def save_choice(self, subject: str, choice: UserChoice | None) -> None:
        if not self.allows(choice):
            raise SettingError("Your organisation does not allow a longer inactivity timeout.")
        with self._lock:
            if choice is None:
                self._choices.pop(subject, None)
            else:
                self._choices[subject] = choice
