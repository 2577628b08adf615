"""Rules over the request: stricter limits per path, a default per device.

[`PathRule`][idleguard.PathRule] and [`DeviceRule`][idleguard.DeviceRule]. Pure code:
no I/O, no clock.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal, Union

from .facts import RequestFacts, path_matches
from .policy import Duration, PolicyError, to_seconds

__all__ = ["MOBILE_USER_AGENT", "DeviceRule", "PathRule", "Rule", "check_rules"]
#: What `DeviceRule("mobile", ...)` matches: the tokens phone and tablet browsers send.
MOBILE_USER_AGENT = r"Mobi|Android|iPhone|iPad|iPod|Windows Phone|webOS|BlackBerry"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _pattern_regex(pattern: str) -> re.Pattern[str] | None:
    """`/orgs/*/billing`: `*` is one path segment, `**` any number; `None` for a prefix."""
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

    Args:
        pattern: A path prefix (`"/billing"` matches `/billing` and everything
            below it, on a segment boundary) or a pattern where `*` stands for
            one segment and `**` for any number (`"/orgs/*/billing"`).
        idle_timeout: The idle limit (seconds or timedelta) for requests on
            these paths. A maximum: the shorter of this and every other bound
            applies.
        absolute_timeout: The absolute limit for requests on these paths, a
            maximum likewise.
        on_exceed: `"end"` (default): past the idle limit the session ends, as
            any idle expiry. `"step_up"`: the session stays, and the request is
            answered `401 step_up_required` until the user reauthenticates.
        authenticated_within: The request needs an authentication at most this
            old (the sign-in or the last
            [`idleguard.reauthenticated`][idleguard.reauthenticated]), else
            step-up.
        methods: HTTP methods the rule applies to (default: all).
        name: What [`idleguard.explain`][idleguard.explain] and events call the
            rule (default: `path:` and the pattern).

    Raises:
        PolicyError: The rule sets nothing, a limit makes no sense, or
            `methods` is a string, empty or names an unknown method.
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
        """True when this rule applies to the request (its path and method).

        Args:
            facts: The request.

        Returns:
            Whether it applies.
        """
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
    """A default idle limit for some clients, matched on the `User-Agent` header.

    The first matching device rule replaces the default idle limit; it may be
    longer than the default only up to the tenant's `max_idle_timeout`.

    A user agent is a hint, not a proof: any client can send any string. Use
    device rules for convenience (a phone kept signed in longer), never to
    grant access; bounds that protect something belong in path rules.

    Args:
        user_agent: A regular expression searched in the header, or `"mobile"`
            for the tokens phone and tablet browsers send.
        idle_timeout: The idle limit for those clients (seconds or timedelta).
        name: What [`idleguard.explain`][idleguard.explain] and events call the
            rule (default: `device:` and `user_agent`).

    Raises:
        PolicyError: `user_agent` is empty or not a regular expression, or
            `idle_timeout` is not a positive duration.
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
        """True when the request's `User-Agent` matches.

        Args:
            facts: The request.

        Returns:
            Whether it matches.
        """
        agent = facts.headers.get("user-agent")
        return agent is not None and self._regex.search(agent) is not None


#: A rule the guard evaluates per request.
Rule = Union[PathRule, DeviceRule]  # noqa: UP007 - a runtime alias on Python 3.10


def check_rules(rules: Sequence[Any], exempt_paths: Sequence[str]) -> tuple[Rule, ...]:
    """Validate the rule list at start-up: right types, nothing that can never match.

    Args:
        rules: The rules, as given.
        exempt_paths: The middleware's exempt path prefixes.

    Returns:
        The rules.

    Raises:
        PolicyError: Something is not a rule, a rule lies under an exempt path,
            or a rule appears twice.
    """
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
