"""Which limits apply to one request: rules, tenant bounds, user choices, step-up. Pure code.

Nothing here does I/O or reads a clock. :func:`resolve` takes the bounds of
the session's tenant, the user's choice, the request facts and the rules and
returns a :class:`Resolution`: the effective :class:`~idleguard.Policy` and
the name of the rule that decided each limit. :func:`step_up_due` says
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
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, Union

from .facts import RequestFacts, path_matches
from .policy import Duration, Policy, PolicyError, check_keys, to_seconds

__all__ = [
    "MOBILE_USER_AGENT",
    "NEVER",
    "DeviceRule",
    "PathRule",
    "Resolution",
    "Rule",
    "StepUp",
    "TenantPolicy",
    "UserChoice",
    "check_rules",
    "resolve",
    "step_up_due",
    "to_policy",
    "to_tenant_policy",
    "to_user_choice",
]

#: A user's choice of no idle limit at all.
NEVER = "never"
#: What ``DeviceRule("mobile", ...)`` matches: the tokens phone and tablet browsers send.
MOBILE_USER_AGENT = r"Mobi|Android|iPhone|iPad|iPod|Windows Phone|webOS|BlackBerry"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _pattern_regex(pattern: str) -> re.Pattern[str] | None:
    """``/orgs/*/billing``: ``*`` is one path segment, ``**`` any number; ``None`` for a prefix."""
    if "*" not in pattern:
        return None
    parts = []
    for segment in pattern.rstrip("/").split("/"):
        if segment == "**":
            parts.append(".*")
        else:
            parts.append("[^/]*".join(re.escape(piece) for piece in segment.split("*")))
    # Everything below a matching path matches too, as with a prefix.
    return re.compile("/".join(parts) + "(?:/.*)?")


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class PathRule:
    """Stricter limits, or fresh authentication, for some paths.

    ``pattern``
        A path prefix (``"/billing"`` matches ``/billing`` and everything
        below it, on a segment boundary) or a pattern where ``*`` stands for
        one segment and ``**`` for any number (``"/orgs/*/billing"``).
    ``idle_timeout``, ``absolute_timeout``
        Limits (seconds or timedelta) for requests on these paths; each is a
        maximum: the shorter of this and every other bound applies.
    ``on_exceed``
        ``"end"`` (default): past the idle limit the session ends, as any idle
        expiry. ``"step_up"``: the session stays, and the request is answered
        ``401 step_up_required`` until the user reauthenticates.
    ``authenticated_within``
        Seconds: the request needs an authentication at most this old (the
        sign-in or the last :func:`idleguard.reauthenticated`), else step-up.
    ``methods``
        HTTP methods the rule applies to (default: all).
    ``name``
        What :func:`idleguard.explain` and events call the rule (default: the pattern).
    """

    pattern: str
    idle_timeout: float | None
    absolute_timeout: float | None
    on_exceed: Literal["end", "step_up"]
    authenticated_within: float | None
    methods: frozenset[str] | None
    name: str
    _regex: re.Pattern[str] | None = dataclasses.field(repr=False, compare=False)

    def __init__(
        self,
        pattern: str,
        *,
        idle_timeout: Duration | None = None,
        absolute_timeout: Duration | None = None,
        on_exceed: Literal["end", "step_up"] = "end",
        authenticated_within: Duration | None = None,
        methods: Iterable[str] | None = None,
        name: str | None = None,
    ) -> None:
        if not isinstance(pattern, str) or not pattern.startswith("/"):
            raise PolicyError(
                f"PathRule pattern {pattern!r} can never match: request paths start with '/'"
            )
        if "**" in pattern.replace("/**", ""):
            raise PolicyError(f"PathRule pattern {pattern!r}: '**' must be a whole segment")
        idle = to_seconds(idle_timeout, "PathRule idle_timeout")
        absolute = to_seconds(absolute_timeout, "PathRule absolute_timeout")
        within = to_seconds(authenticated_within, "PathRule authenticated_within")
        for label, value in (("idle_timeout", idle), ("absolute_timeout", absolute)):
            if value == 0:
                raise PolicyError(f"PathRule {pattern!r}: {label} of 0 would end every session")
        if on_exceed not in ("end", "step_up"):
            raise PolicyError(f"PathRule {pattern!r}: on_exceed must be 'end' or 'step_up'")
        if on_exceed == "step_up" and idle is None:
            raise PolicyError(f"PathRule {pattern!r}: on_exceed='step_up' needs an idle_timeout")
        if idle is None and absolute is None and within is None:
            raise PolicyError(
                f"PathRule {pattern!r} sets nothing: give idle_timeout, absolute_timeout "
                "or authenticated_within"
            )
        method_set: frozenset[str] | None = None
        if methods is not None:
            if isinstance(methods, str):
                raise PolicyError(f"PathRule {pattern!r}: methods must be a list, not a string")
            method_set = frozenset(method.upper() for method in methods)
            if not method_set:
                raise PolicyError(f"PathRule {pattern!r} with no methods can never match")
            unknown = method_set - _METHODS
            if unknown:
                raise PolicyError(
                    f"PathRule {pattern!r}: unknown method(s) {', '.join(sorted(unknown))}"
                )
        normalized = pattern if pattern == "/" else pattern.rstrip("/")
        object.__setattr__(self, "pattern", normalized)
        object.__setattr__(self, "idle_timeout", idle)
        object.__setattr__(self, "absolute_timeout", absolute)
        object.__setattr__(self, "on_exceed", on_exceed)
        object.__setattr__(self, "authenticated_within", within)
        object.__setattr__(self, "methods", method_set)
        object.__setattr__(self, "name", name or f"path:{normalized}")
        object.__setattr__(self, "_regex", _pattern_regex(normalized))

    def matches(self, facts: RequestFacts) -> bool:
        """True when this rule applies to the request (its path and method)."""
        # HEAD is answered by the GET handler in every common framework.
        method = "GET" if facts.method == "HEAD" else facts.method
        if (
            self.methods is not None
            and method not in self.methods
            and facts.method not in self.methods
        ):
            return False
        if self._regex is not None:
            return self._regex.fullmatch(facts.path) is not None
        prefix = self.pattern
        path = facts.path
        return prefix == "/" or path == prefix or path.startswith(prefix + "/")


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class DeviceRule:
    """A default idle limit for some clients, matched on the ``User-Agent`` header.

    ``user_agent`` is a regular expression searched in the header, or
    ``"mobile"`` for :data:`MOBILE_USER_AGENT`. The first matching device rule
    replaces the default idle limit; it may be longer than the default only
    up to the tenant's ``max_idle_timeout``.

    A user agent is a hint, not a proof: any client can send any string. Use
    device rules for convenience (a phone kept signed in longer), never to
    grant access; bounds that protect something belong in path rules.
    """

    user_agent: str
    idle_timeout: float
    name: str
    _regex: re.Pattern[str] = dataclasses.field(repr=False, compare=False)

    def __init__(self, user_agent: str, *, idle_timeout: Duration, name: str | None = None) -> None:
        if not isinstance(user_agent, str) or not user_agent.strip():
            raise PolicyError("DeviceRule needs a user_agent pattern, e.g. 'mobile'")
        expression = MOBILE_USER_AGENT if user_agent == "mobile" else user_agent
        try:
            regex = re.compile(expression)
        except re.error as error:
            raise PolicyError(f"DeviceRule user_agent {user_agent!r}: {error}") from None
        idle = to_seconds(idle_timeout, "DeviceRule idle_timeout")
        if not idle:
            raise PolicyError("DeviceRule idle_timeout must be a positive duration")
        object.__setattr__(self, "user_agent", user_agent)
        object.__setattr__(self, "idle_timeout", idle)
        object.__setattr__(self, "name", name or f"device:{user_agent}")
        object.__setattr__(self, "_regex", regex)

    def matches(self, facts: RequestFacts) -> bool:
        """True when the request's ``User-Agent`` matches."""
        agent = facts.headers.get("user-agent")
        return agent is not None and self._regex.search(agent) is not None


#: A rule the guard evaluates per request.
Rule = Union[PathRule, DeviceRule]  # noqa: UP007 - a runtime alias on Python 3.10


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class TenantPolicy:
    """What one tenant (customer organisation) allows; also the guard's own default.

    ``policy``
        The tenant's default :class:`~idleguard.Policy`, or a preset name.
    ``max_idle_timeout``
        The longest idle limit a device rule or a user's choice may reach
        (seconds). Default: the policy's own idle limit, so choices can only
        shorten it.
    ``allow_never``
        Whether a user may choose no idle limit at all. Default: only when the
        tenant's own policy has none.
    ``role_max_idle``
        Role name -> the longest idle limit (seconds) for users with that role,
        e.g. ``{"admin": 600}``: admins get at most 10 minutes whatever they choose.
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
        """From configuration: ``policy`` (a preset name or a mapping) and the keyword fields."""
        check_keys(data, ("policy", "max_idle_timeout", "allow_never", "role_max_idle"), "tenant")
        values = dict(data)
        policy = values.pop("policy", None)
        if isinstance(policy, Mapping):
            policy = Policy.from_mapping(policy)
        return cls(policy, **values)

    def as_dict(self) -> dict[str, Any]:
        """Plain values (seconds), for events and :func:`idleguard.explain`."""
        return {
            **self.policy.as_dict(),
            "max_idle_timeout": self.max_idle_timeout,
            "allow_never": self.allow_never,
            "role_max_idle": dict(self.role_max_idle),
        }


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class UserChoice:
    """A user's own setting and roles.

    ``idle_timeout`` is the limit the user chose (seconds or timedelta),
    :data:`NEVER` for none, or ``None`` for no choice (the default applies).
    ``roles`` name the roles whose caps (``TenantPolicy.role_max_idle``) apply.
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
        if isinstance(idle_timeout, str):
            if idle_timeout != NEVER:
                raise PolicyError(
                    f"a user's idle_timeout must be a duration or 'never', not {idle_timeout!r}"
                )
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
    """A policy from a :class:`~idleguard.Policy`, a preset name or a configuration mapping."""
    if isinstance(value, Policy):
        return value
    if isinstance(value, str):
        return Policy.preset(value)
    if isinstance(value, Mapping):
        return Policy.from_mapping(value)
    raise PolicyError(f"a policy must be a Policy, a preset name or a mapping, not {value!r}")


def to_tenant_policy(value: Any) -> TenantPolicy:
    """A :class:`TenantPolicy` from itself, a policy, a preset name or a configuration mapping."""
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
    """A :class:`UserChoice` from itself, a duration, ``"never"``, a mapping, or ``None``."""
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


# -- resolution ----------------------------------------------------------------
@dataclasses.dataclass(frozen=True, slots=True)
class StepUp:
    """Why a request needs fresh authentication: the rule, and the age limit it set (seconds)."""

    rule: str
    kind: Literal["idle", "authentication_age"]
    limit: float


@dataclasses.dataclass(frozen=True, slots=True)
class Resolution:
    """The limits that apply to one request, and which rule decided each.

    ``policy`` is the effective policy. ``idle_rule`` and ``absolute_rule``
    name the rule, bound or choice that set each limit (``"default"``,
    ``"tenant:acme"``, ``"user"``, ``"role:admin"``, ``"path:/billing"``,
    ``"device:mobile"``, ``"tenant maximum"`` ...). ``step_up_idle`` and
    ``authenticated_within`` are the step-up conditions (seconds), each with
    the rule that set it. ``notes`` record every clamp that was applied.
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
    if idle is not None and warn >= idle:
        # A short path limit keeps the warning meaningful: half the limit at most.
        warn = idle / 2
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

    ``bounds`` are the session's tenant's (or the guard's default), ``label``
    how to name them (``"default"``, ``"tenant:acme"``); ``choice`` the user's
    own setting and roles, if any. See the module docstring for the order.
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
    older than ``authenticated_within``; or the session has been idle longer
    than a ``step_up`` path rule's idle limit and the user has not
    reauthenticated since. A reauthentication satisfies both, and both decay:
    freshness is measured from ``authenticated_at``, never kept as a flag.
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


def check_rules(rules: Sequence[Any], exempt_paths: Sequence[str]) -> tuple[Rule, ...]:
    """Validate the rule list at start-up: right types, nothing that can never match."""
    if isinstance(rules, (str, PathRule, DeviceRule)):
        raise PolicyError("rules must be a list of PathRule and DeviceRule")
    checked: list[Rule] = []
    seen: set[tuple[Any, ...]] = set()
    for rule in rules:
        if not isinstance(rule, (PathRule, DeviceRule)):
            raise PolicyError(f"not a rule: {rule!r}; use PathRule or DeviceRule")
        if isinstance(rule, PathRule):
            identity: tuple[Any, ...] = ("path", rule.pattern, rule.methods)
            probe = rule.pattern.replace("**", "x").replace("*", "x")
            if exempt_paths and path_matches(probe, tuple(exempt_paths)):
                raise PolicyError(
                    f"{rule.name} can never match: it lies under an exempt path, and "
                    "exempt requests are never checked"
                )
        else:
            identity = ("device", rule.user_agent)
        if identity in seen:
            raise PolicyError(f"{rule.name} appears twice; the second can never decide anything")
        seen.add(identity)
        checked.append(rule)
    return tuple(checked)
