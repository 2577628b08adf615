"""Which limits apply to one request: rules, tenant bounds, user choices, step-up. Pure code.

Nothing here does I/O or reads a clock. `resolve` takes the bounds of
the session's tenant, the user's choice, the request facts and the rules and
returns a [`Resolution`][idleguard.Resolution]: the effective
[`Policy`][idleguard.Policy] and the name of the rule that decided each limit. `step_up_due` says
whether a live session must prove itself again before this request.

How the limits combine (every bound is a maximum; the shortest wins):

1. the default: the tenant's policy (or the guard's, for a session with no tenant);
2. a device rule replaces that default idle limit (a phone may get a longer one);
3. the user's own choice replaces it again ("never" only where the tenant allows it);
4. then every bound that applies cuts it down: the tenant's maximum, the cap of
   each of the user's roles, and every matching path rule that ends sessions.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any, Literal

from .facts import RequestFacts
from .policy import WARNING_SHARE, Policy, default_warn_before
from .rules import DeviceRule, PathRule, Rule
from .tenants import NEVER, TenantPolicy, UserChoice

__all__ = ["Resolution", "StepUp", "resolve", "step_up_due"]


@dataclasses.dataclass(frozen=True, slots=True)
class StepUp:
    """Why a request needs fresh authentication.

    Attributes:
        rule: The rule that asked for it.
        kind: `"idle"` (a `step_up` path rule's idle limit) or
            `"authentication_age"` (`authenticated_within`).
        limit: The limit it set, in seconds.
    """

    rule: str
    kind: Literal["idle", "authentication_age"]
    limit: float


@dataclasses.dataclass(frozen=True, slots=True)
class Resolution:
    """The limits that apply to one request, and which rule decided each.

    Attributes:
        policy: The effective policy.
        idle_rule: The rule, bound or choice that set the idle limit
            (`"default"`, `"tenant:acme"`, `"user"`, `"role:admin"`,
            `"path:/billing"`, `"device:mobile"`, `"tenant maximum"` ...).
        absolute_rule: The same for the absolute limit.
        step_up_idle: A `step_up` path rule's idle limit (seconds) and the rule
            that set it, if one applies.
        authenticated_within: The oldest authentication the request accepts
            (seconds) and the rule that set it, if one applies.
        notes: Every clamp that was applied.
    """

    policy: Policy
    idle_rule: str
    absolute_rule: str
    step_up_idle: tuple[float, str] | None = None
    authenticated_within: tuple[float, str] | None = None
    notes: tuple[str, ...] = ()

    @property
    def asks_step_up(self) -> bool:
        """A step-up condition applies to this request."""
        return self.step_up_idle is not None or self.authenticated_within is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "idle_timeout": self.policy.idle_timeout,
            "absolute_timeout": self.policy.absolute_timeout,
            "idle_rule": self.idle_rule,
            "absolute_rule": self.absolute_rule,
            "step_up_idle": self.step_up_idle[0] if self.step_up_idle else None,
            "authenticated_within": (
                self.authenticated_within[0] if self.authenticated_within else None
            ),
            "step_up_rule": (self.authenticated_within or self.step_up_idle or (None, None))[1],
            "notes": list(self.notes),
        }


def _shorter(current: float | None, bound: float | None) -> bool:
    return bound is not None and (current is None or bound < current)


@functools.lru_cache(maxsize=4096)
def _combine(
    bounds: TenantPolicy,
    label: str,
    device: DeviceRule | None,
    choice: UserChoice | None,
    paths: tuple[PathRule, ...],
) -> Resolution:
    base = bounds.policy
    notes: list[str] = []
    idle, idle_rule = base.idle_timeout, label
    if device is not None:
        idle, idle_rule = device.idle_timeout, device.name
    if choice is not None and choice.idle_timeout is not None:
        if choice.idle_timeout == NEVER:
            if bounds.allow_never:
                idle, idle_rule = None, "user"
            else:
                notes.append("user chose 'never', which the tenant does not allow")
        else:
            idle, idle_rule = float(choice.idle_timeout), "user"
    ceilings: list[tuple[float | None, str]] = []
    if not (idle is None and bounds.allow_never):
        ceilings.append((bounds.max_idle_timeout, "tenant maximum"))
    if choice is not None:
        ceilings.extend(
            (bounds.role_max_idle[role], f"role:{role}")
            for role in sorted(choice.roles)
            if role in bounds.role_max_idle
        )
    ceilings.extend((rule.idle_timeout, rule.name) for rule in paths if rule.on_exceed == "end")
    for ceiling, name in ceilings:
        if _shorter(idle, ceiling):
            if idle_rule in ("user", device.name if device else ""):
                notes.append(f"{idle_rule} idle limit cut to {ceiling:g} s by {name}")
            idle, idle_rule = ceiling, name
    absolute, absolute_rule = base.absolute_timeout, label
    for rule in paths:
        if _shorter(absolute, rule.absolute_timeout):
            absolute, absolute_rule = rule.absolute_timeout, rule.name
    if idle is not None and absolute is not None and idle > absolute:
        notes.append(f"idle limit cut to the absolute limit ({absolute:g} s)")
        idle, idle_rule = absolute, absolute_rule
    warn = base.warn_before
    if base.warning_follows_idle:
        warn = default_warn_before(idle)
    elif idle is not None and warn >= idle:
        # A warning set on purpose stays while it fits; under a shorter path limit it
        # shrinks as the default one does, so it still means something.
        warn = idle * WARNING_SHARE
    if (idle, absolute, warn) == (base.idle_timeout, base.absolute_timeout, base.warn_before):
        policy = base
    else:
        policy = base.replace(idle_timeout=idle, absolute_timeout=absolute, warn_before=warn)
    step_up_idle: tuple[float, str] | None = None
    within: tuple[float, str] | None = None
    for rule in paths:
        if (
            rule.on_exceed == "step_up"
            and rule.idle_timeout is not None
            and (step_up_idle is None or rule.idle_timeout < step_up_idle[0])
        ):
            step_up_idle = (rule.idle_timeout, rule.name)
        if rule.authenticated_within is not None and (
            within is None or rule.authenticated_within < within[0]
        ):
            within = (rule.authenticated_within, rule.name)
    return Resolution(policy, idle_rule, absolute_rule, step_up_idle, within, tuple(notes))


def resolve(
    bounds: TenantPolicy,
    label: str,
    facts: RequestFacts,
    rules: Sequence[Rule],
    choice: UserChoice | None = None,
) -> Resolution:
    """The limits for one request.

    Every bound is a maximum and the shortest wins: the default (a device rule
    replaces its idle limit, then the user's choice does), then the tenant's
    maximum, each of the user's roles' caps and every matching path rule that
    ends sessions cut it down.

    Args:
        bounds: The session's tenant's (or the guard's default).
        label: How to name them (`"default"`, `"tenant:acme"`).
        facts: The request.
        rules: The middleware's rules.
        choice: The user's own setting and roles, if any.

    Returns:
        The effective policy and the rule that decided each limit.
    """
    device: DeviceRule | None = None
    paths: list[PathRule] = []
    for rule in rules:
        if isinstance(rule, PathRule):
            if rule.matches(facts):
                paths.append(rule)
        elif device is None and rule.matches(facts):
            device = rule
    return _combine(bounds, label, device, choice, tuple(paths))


def step_up_due(
    resolution: Resolution, authenticated_at: float, last_activity: float, now: float
) -> StepUp | None:
    """Whether a live session must reauthenticate before this request (times in epoch seconds).

    Two conditions, from the rules that matched: the last authentication is
    older than `authenticated_within`; or the session has been idle longer
    than a `step_up` path rule's idle limit and the user has not
    reauthenticated since. A reauthentication satisfies both, and both decay:
    freshness is measured from `authenticated_at`, never kept as a flag.

    Args:
        resolution: The request's limits and step-up conditions.
        authenticated_at: When the user last proved who they are.
        last_activity: The session's last recorded activity.
        now: The time of the request.

    Returns:
        The condition that asks for step-up, or `None` when the request may go
            on.
    """
    if resolution.authenticated_within is not None:
        limit, rule = resolution.authenticated_within
        if now - authenticated_at >= limit:
            return StepUp(rule, "authentication_age", limit)
    if resolution.step_up_idle is not None:
        limit, rule = resolution.step_up_idle
        if now - last_activity >= limit and now - authenticated_at >= limit:
            return StepUp(rule, "idle", limit)
    return None
