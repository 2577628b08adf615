"""What a tenant allows and what a user chooses.

[`TenantPolicy`][idleguard.TenantPolicy] and [`UserChoice`][idleguard.UserChoice].

Pure values, validated when built; the policy engine looks them up, and
`idleguard.resolution` combines them with the rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

from .policy import Duration, Policy, PolicyError, check_keys, to_seconds

__all__ = [
    "NEVER",
    "TenantPolicy",
    "UserChoice",
    "check_choice",
    "to_policy",
    "to_tenant_policy",
    "to_user_choice",
]

NEVER: Final = "never"
"""A user's choice of no idle limit at all (`UserChoice(NEVER)`)."""


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class TenantPolicy:
    """What one tenant (customer organisation) allows; also the guard's own default.

    Args:
        policy: The tenant's default [`Policy`][idleguard.Policy], or a preset
            name. Default: the default policy.
        max_idle_timeout: The longest idle limit a device rule or a user's
            choice may reach (seconds or timedelta). Default: the policy's own
            idle limit, so choices can only shorten it.
        allow_never: Whether a user may choose no idle limit at all. Default:
            only when the tenant's own policy has none.
        role_max_idle: Role name -> the longest idle limit (seconds or
            timedelta) for users with that role, e.g. `{"admin": 600}`: admins
            get at most 10 minutes whatever they choose.

    Raises:
        PolicyError: The bounds contradict each other or the policy (the
            message says how); a role's cap is not below `max_idle_timeout`.
    """

    policy: Policy
    max_idle_timeout: float | None
    allow_never: bool
    role_max_idle: Mapping[str, float]

    def __init__(
        self,
        policy: Policy | str | None = None,
        *,
        max_idle_timeout: Duration | None = None,
        allow_never: bool | None = None,
        role_max_idle: Mapping[str, Duration] | None = None,
    ) -> None:
        resolved = to_policy(policy) if policy is not None else Policy()
        idle = resolved.idle_timeout
        maximum = to_seconds(max_idle_timeout, "max_idle_timeout")
        if maximum is None:
            maximum = idle
        elif idle is not None and idle > maximum:
            raise PolicyError(
                f"the tenant's idle_timeout ({idle:g} s) is above its max_idle_timeout "
                f"({maximum:g} s): lower the policy or raise the maximum"
            )
        if maximum == 0:
            raise PolicyError("max_idle_timeout of 0 would end every session at once")
        never = idle is None if allow_never is None else bool(allow_never)
        if idle is None and not never:
            raise PolicyError(
                "the tenant's policy has no idle limit but allow_never=False refuses exactly "
                "that: set an idle_timeout or allow_never=True"
            )
        if idle is None and max_idle_timeout is not None:
            raise PolicyError("max_idle_timeout has no effect on a policy with no idle limit")
        roles: dict[str, float] = {}
        for role, value in (role_max_idle or {}).items():
            cap = to_seconds(value, f"role_max_idle[{role!r}]")
            if not cap:
                raise PolicyError(f"role_max_idle[{role!r}] must be a positive duration")
            if maximum is not None and cap >= maximum:
                raise PolicyError(
                    f"role_max_idle[{role!r}] ({cap:g} s) is not below max_idle_timeout "
                    f"({maximum:g} s), so it could never apply"
                )
            roles[role] = cap
        object.__setattr__(self, "policy", resolved)
        object.__setattr__(self, "max_idle_timeout", maximum)
        object.__setattr__(self, "allow_never", never)
        object.__setattr__(self, "role_max_idle", roles)

    def __hash__(self) -> int:
        return hash((self.policy, self.max_idle_timeout, self.allow_never))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TenantPolicy:
        """From configuration: `policy` (a preset name or a mapping) and the keyword fields.

        Args:
            data: `policy`, `max_idle_timeout`, `allow_never` and
                `role_max_idle`, by name.

        Returns:
            The tenant policy.

        Raises:
            PolicyError: An unknown key (the message names the closest one), or
                values that make no sense.
        """
        check_keys(data, ("policy", "max_idle_timeout", "allow_never", "role_max_idle"), "tenant")
        values = dict(data)
        policy = values.pop("policy", None)
        if isinstance(policy, Mapping):
            policy = Policy.from_mapping(policy)
        return cls(policy, **values)

    def as_dict(self) -> dict[str, Any]:
        """Plain values (seconds), for events and [`idleguard.explain`][idleguard.explain]."""
        return {
            **self.policy.as_dict(),
            "max_idle_timeout": self.max_idle_timeout,
            "allow_never": self.allow_never,
            "role_max_idle": dict(self.role_max_idle),
        }


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class UserChoice:
    """A user's own setting and roles.

    Args:
        idle_timeout: The limit the user chose (seconds or timedelta),
            [`NEVER`][idleguard.NEVER] for none, or `None` for no choice (the
            default applies).
        roles: The roles whose caps (`TenantPolicy.role_max_idle`) apply.

    Raises:
        PolicyError: `roles` is one string, or `idle_timeout` is zero, negative
            or a string other than `"never"`.
    """

    idle_timeout: float | Literal["never"] | None
    roles: frozenset[str]

    def __init__(
        self,
        idle_timeout: Duration | Literal["never"] | None = None,
        *,
        roles: Iterable[str] = (),
    ) -> None:
        if isinstance(roles, str):
            raise PolicyError("roles must be a list of role names, not one string")
        choice: float | Literal["never"] | None
        if isinstance(idle_timeout, str) and idle_timeout == NEVER:
            choice = NEVER
        else:
            seconds = to_seconds(idle_timeout, "user idle_timeout")
            if seconds == 0:
                raise PolicyError("a user's idle_timeout of 0 would end every session")
            choice = seconds
        object.__setattr__(self, "idle_timeout", choice)
        object.__setattr__(self, "roles", frozenset(roles))

    def as_dict(self) -> dict[str, Any]:
        return {"idle_timeout": self.idle_timeout, "roles": sorted(self.roles)}


def to_policy(value: Policy | str | Mapping[str, Any]) -> Policy:
    """A policy from a [`Policy`][idleguard.Policy], a preset name or a configuration mapping.

    Raises:
        PolicyError: `value` is none of those, or makes no sense.
    """
    if isinstance(value, Policy):
        return value
    if isinstance(value, str):
        return Policy.preset(value)
    if isinstance(value, Mapping):
        return Policy.from_mapping(value)
    raise PolicyError(f"a policy must be a Policy, a preset name or a mapping, not {value!r}")


def to_tenant_policy(value: Any) -> TenantPolicy:
    """A tenant policy from itself, a policy, a preset name or a configuration mapping.

    Raises:
        PolicyError: `value` is none of those, or makes no sense.
    """
    if isinstance(value, TenantPolicy):
        return value
    if isinstance(value, (Policy, str)):
        return TenantPolicy(value)
    if isinstance(value, Mapping):
        if "policy" in value or "max_idle_timeout" in value or "allow_never" in value:
            return TenantPolicy.from_mapping(value)
        return TenantPolicy(Policy.from_mapping(value))
    raise PolicyError(f"a tenant policy must be a TenantPolicy, Policy or name, not {value!r}")


def to_user_choice(value: Any) -> UserChoice | None:
    """A user's choice from itself, a duration, `"never"`, a mapping, or `None`.

    Raises:
        PolicyError: `value` is none of those, or makes no sense.
    """
    if value is None or isinstance(value, UserChoice):
        return value
    if isinstance(value, Mapping):
        check_keys(value, ("idle_timeout", "roles"), "user choice")
        return UserChoice(value.get("idle_timeout"), roles=value.get("roles", ()))
    return UserChoice(value)


def check_choice(bounds: TenantPolicy, choice: UserChoice) -> None:
    """Refuse a choice the tenant does not allow (a configuration or update error)."""
    chosen = choice.idle_timeout
    if chosen == NEVER:
        if not bounds.allow_never:
            raise PolicyError("this tenant does not allow 'never' as an idle limit")
        return
    maximum = bounds.max_idle_timeout
    if isinstance(chosen, float) and maximum is not None and chosen > maximum:
        raise PolicyError(
            f"the chosen idle_timeout ({chosen:g} s) is above the tenant's maximum "
            f"({bounds.max_idle_timeout:g} s)"
        )
