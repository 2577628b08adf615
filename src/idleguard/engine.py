"""The policy engine: tenant and user lookups behind a short cache, runtime changes, explain.

The pure part (which limits win) is `idleguard.resolution`. This module holds what has
state: the tenant and user resolvers the app supplies and their caches, the session ->
(subject, tenant) memory that lets a request be decided with ONE store call, and
[`PolicyEngine.update`][idleguard.PolicyEngine.update], the one way to change a policy at
runtime.

A resolver may be sync or async. Its call is yielded as an op `(callable, args)` from the
same generators the request flow is written in, so the WSGI driver calls it and the ASGI
driver awaits it.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Union, cast

from .events import Event, EventHook, EventType, emit_async, emit_sync
from .facts import RequestFacts
from .policy import Policy, PolicyError
from .resolution import Resolution, resolve
from .resolver_cache import DEFAULT_POLICY_CACHE_TTL, ResolverCache
from .rules import Rule, check_rules
from .steps import Call, StepOf, drive_async, drive_sync
from .tenants import TenantPolicy, UserChoice, check_choice, to_tenant_policy, to_user_choice
from .urls import check_redirect_url

if TYPE_CHECKING:
    from .stores.base import Store

__all__ = ["PolicyEngine", "TenantResolver", "UserResolver"]


logger = logging.getLogger("idleguard")

#: `tenant -> TenantPolicy | Policy | preset name | mapping | None` (`None`: the default).
TenantResolver = Callable[[str], Union[Any, Awaitable[Any]]]  # noqa: UP007
#: `(subject, tenant) -> UserChoice | duration | "never" | mapping | None`.
UserResolver = Callable[[str, Union[str, None]], Union[Any, Awaitable[Any]]]  # noqa: UP007
Step = StepOf


#: Whose a session is, `(subject, tenant)`: what its policy depends on; never changes for a key.
Hint = tuple[Union[str, None], Union[str, None]]  # noqa: UP007


#: How many sessions' (subject, tenant) this process remembers.
SESSION_MEMORY = 100_000


class PolicyEngine:
    """Resolves the policy of each request and applies runtime changes.

    The middleware builds one from its keyword options (`policy`, `rules`, `tenants`,
    `users`, `policy_cache_ttl`, `step_up_url`, `explain_log`); reach it as
    `guard.policies` or `idleguard.policies(request)`.

    Args:
        policy: The default for sessions without a tenant: a [`Policy`][idleguard.Policy],
            a preset name, a [`TenantPolicy`][idleguard.TenantPolicy] or its configuration
            mapping. Default: the default policy.
        rules: [`PathRule`][idleguard.PathRule] and [`DeviceRule`][idleguard.DeviceRule].
        tenants: A mapping `tenant -> policy` or a resolver (sync or async callable
            `tenant -> policy`), for sessions begun with `tenant=`.
        users: A mapping `(tenant, subject) -> choice` (plain `subject` keys when there are
            no tenants) or a resolver (sync or async `(subject, tenant) -> choice`): a
            user's own idle limit and roles.
        cache_ttl: Seconds a resolver's answer is reused. An `update` replaces it at once in
            this process; other processes see it within this time.
        cache_size: How many resolver answers are kept.
        step_up_url: Where a browser navigation that needs step-up is sent (`303` with
            `?next=`); `None` answers `401` JSON to everyone.
        explain_log: Log, at INFO on the `idleguard` logger, which rule decided each request.

    Raises:
        PolicyError: The policy, a rule or a table entry makes no sense.
    """

    def __init__(
        self,
        policy: Policy | str | TenantPolicy | Mapping[str, Any] | None = None,
        *,
        rules: Iterable[Rule] = (),
        tenants: Mapping[str, Any] | TenantResolver | None = None,
        users: Mapping[Any, Any] | UserResolver | None = None,
        cache_ttl: float = DEFAULT_POLICY_CACHE_TTL,
        cache_size: int = 10_000,
        step_up_url: str | None = None,
        explain_log: bool = False,
    ) -> None:
        self.default = to_tenant_policy(policy) if policy is not None else TenantPolicy()
        self.default_label = (
            f"preset:{policy.strip().lower()}" if isinstance(policy, str) else ("default")
        )
        self.rules: tuple[Rule, ...] = check_rules(list(rules), ())
        if isinstance(cache_ttl, bool) or not isinstance(cache_ttl, (int, float)) or cache_ttl < 0:
            raise PolicyError(
                "policy_cache_ttl must be a number of seconds, 0 or more",
                about=("policy_cache_ttl",),
            )
        self._tenant_table: dict[str, TenantPolicy] = {}
        self._tenant_resolver: TenantResolver | None = None
        if isinstance(tenants, Mapping):
            self._tenant_table = {str(k): to_tenant_policy(v) for k, v in tenants.items()}
        elif tenants is not None:
            if not callable(tenants):
                raise PolicyError("tenants must be a mapping or a callable tenant -> policy")
            self._tenant_resolver = tenants
        # Keyed (tenant, subject): the same user id may exist in two tenants.
        self._user_table: dict[Hint, UserChoice | None] = {}
        self._user_resolver: UserResolver | None = None
        if isinstance(users, Mapping):
            for where, value in users.items():
                tenant, subject = where if isinstance(where, tuple) else (None, where)
                if tenant is None and tenants is not None:
                    raise PolicyError(
                        f"users: with tenants= configured, key each user as (tenant, subject), "
                        f"not {where!r}: the tenant's bounds decide what the user may choose"
                    )
                choice = to_user_choice(value)
                if choice is not None:
                    bounds = self._tenant_table.get(tenant, self.default) if tenant else None
                    # A resolver's tenants are unknown until runtime; there the choice is clamped.
                    if bounds is not None or tenant is None:
                        check_choice(bounds or self.default, choice)
                self._user_table[(tenant, str(subject))] = choice
        elif users is not None:
            if not callable(users):
                raise PolicyError(
                    "users must be a mapping or a callable (subject, tenant) -> choice"
                )
            self._user_resolver = users
        self._tenant_cache: ResolverCache[str, TenantPolicy | None] = ResolverCache(
            cache_ttl, cache_size
        )
        self._user_cache: ResolverCache[Hint, UserChoice | None] = ResolverCache(
            cache_ttl, cache_size
        )
        self._sessions: collections.OrderedDict[str, Hint] = collections.OrderedDict()
        self._sessions_lock = threading.Lock()
        if step_up_url is not None:
            try:
                check_redirect_url("step_up_url", step_up_url)
            except ValueError as error:
                raise PolicyError(str(error), about=("step_up_url",)) from None
        self.step_up_url = step_up_url
        self.explain_log = explain_log
        self._plain: tuple[TenantPolicy, Resolution] | None = None
        self.clock: Callable[[], float] = time.time
        self.hooks: tuple[EventHook, ...] = ()
        #: The policy depends on the session's tenant or user, which only its record names.
        self.needs_record = False
        self._refresh_needs_record()

    def bind(
        self, clock: Callable[[], float], hooks: tuple[EventHook, ...], exempt: tuple[str, ...]
    ) -> None:
        """Attach the middleware's clock and event hooks; check rules against exempt paths."""
        self.clock = clock
        self.hooks = hooks
        check_rules(list(self.rules), exempt)

    # -- what the flow asks -------------------------------------------------
    def _refresh_needs_record(self) -> None:
        # Read on every request, so kept as a plain attribute and recomputed
        # wherever the tables it depends on change.
        self.needs_record = bool(
            self._tenant_table or self._tenant_resolver or self._user_table or self._user_resolver
        )

    @property
    def may_await(self) -> bool:
        """A resolver is configured: the ASGI adapter must drive the flow asynchronously."""
        return self._tenant_resolver is not None or self._user_resolver is not None

    @property
    def has_step_up_idle(self) -> bool:
        return any(getattr(rule, "on_exceed", None) == "step_up" for rule in self.rules)

    def remember(self, key: str, subject: str | None, tenant: str | None) -> None:
        """Note a session's subject and tenant (they never change for a key)."""
        with self._sessions_lock:
            self._sessions[key] = (subject, tenant)
            self._sessions.move_to_end(key)
            if len(self._sessions) > SESSION_MEMORY:
                self._sessions.popitem(last=False)

    def hint(self, key: str) -> Hint | None:
        """The `(subject, tenant)` of a session this process has seen, else `None`."""
        with self._sessions_lock:
            return self._sessions.get(key)

    def for_facts(self, facts: RequestFacts) -> Resolution:
        """The resolution for a request whose session (tenant, user) is not known."""
        if not self.rules:
            # No rule looks at the request: the answer depends on the default only.
            cached = self._plain
            if cached is None or cached[0] is not self.default:
                cached = (self.default, resolve(self.default, self.default_label, facts, ()))
                self._plain = cached
            return cached[1]
        return resolve(self.default, self.default_label, facts, self.rules)

    def resolve(self, facts: RequestFacts, hint: Hint | None, now: float) -> Step:
        """Generator: the [`Resolution`][idleguard.Resolution] for a request of session `hint`.

        It yields a resolver call only when the cache has no fresh answer.
        """
        if hint is None:
            return self.for_facts(facts)
        subject, tenant = hint
        bounds, label = yield from self._bounds(tenant, now)
        choice = None
        if subject is not None:
            choice = yield from self._choice(subject, tenant, now)
        return resolve(bounds, label, facts, self.rules, choice)

    def _bounds(self, tenant: str | None, now: float) -> Step:
        if tenant is None:
            return self.default, self.default_label
        label = f"tenant:{tenant}"
        table = self._tenant_table.get(tenant)
        if table is not None:
            return table, label
        if self._tenant_resolver is None:
            return self.default, self.default_label
        value = yield from self._cached(
            self._tenant_cache, tenant, self._tenant_resolver, (tenant,), to_tenant_policy, now
        )
        if value is None:
            return self.default, self.default_label
        return value, label

    def _choice(self, subject: str, tenant: str | None, now: float) -> Step:
        where = (tenant, subject)
        if where in self._user_table or self._user_resolver is None:
            return self._user_table.get(where)
        return (
            yield from self._cached(
                self._user_cache,
                where,
                self._user_resolver,
                (subject, tenant),
                to_user_choice,
                now,
            )
        )

    def _cached(
        self,
        cache: ResolverCache[Any, Any],
        key: Any,
        resolver: Callable[..., Any],
        args: tuple[Any, ...],
        coerce: Callable[[Any], Any],
        now: float,
    ) -> Step:
        found, value, fresh = cache.get(key, now)
        if found and fresh:
            return value
        try:
            raw = yield Call(resolver, args)
            value = coerce(raw) if raw is not None else None
        except Exception:
            # The app's resolver failed (its database is down, or a bug): never an
            # outage of idleguard's store, so never the fail_open path.
            if found:
                # Stale beats nothing: the last answer stays until the resolver recovers,
                # retried after a short pause instead of on every request.
                logger.error(
                    "idleguard policy resolver failed for %r; using the last answer",
                    key,
                    exc_info=True,
                )
                cache.put(key, value, now, ttl=min(cache.ttl, 5.0))
                return value
            raise  # the request is refused, and the error logged with its traceback
        cache.put(key, value, now)
        return value

    # -- runtime changes ------------------------------------------------------
    def update(
        self,
        new: Any,
        *,
        actor: str,
        tenant: str | None = None,
        subject: str | None = None,
    ) -> Event:
        """Change a policy at runtime; it applies from the next request of every session.

        With a `tenants` or `users` resolver, save the change where the resolver reads it
        first: this process uses the new value at once, others once their cached answer is
        `cache_ttl` seconds old. From async code, use `aupdate`.

        Args:
            new: The new default (`tenant` and `subject` both `None`), the policy of `tenant`, or
                the choice of user `subject` (a [`UserChoice`][idleguard.UserChoice], a duration,
                `"never"` or `None` to clear it).
            actor: Who made the change, for the event.
            tenant: The tenant whose policy changes (or whose user's choice).
            subject: The user whose choice changes.

        Returns:
            The `inactivity_timeout_updated` event recorded (actor, old and new values, tenant).

        Raises:
            PolicyError: The bounds do not allow the value; nothing changed.
        """
        event: Event = drive_sync(_NO_STORE, self._update(new, actor, tenant, subject))
        if self.hooks:
            emit_sync(self.hooks, [event])
        return event

    async def aupdate(
        self,
        new: Any,
        *,
        actor: str,
        tenant: str | None = None,
        subject: str | None = None,
    ) -> Event:
        """[`update`][idleguard.PolicyEngine.update], awaiting async resolvers and hooks."""
        event: Event = await drive_async(_NO_STORE, self._update(new, actor, tenant, subject), None)
        if self.hooks:
            await emit_async(self.hooks, [event])
        return event

    def _update(self, new: Any, actor: str, tenant: str | None, subject: str | None) -> Step:
        if not isinstance(actor, str) or not actor:
            raise PolicyError("update() needs actor=: who made the change, for the audit log")
        now = self.clock()
        # The value in force until now is the one last cached, even if stale: asked
        # again, the app's resolver may already answer with what it just saved.
        remembered_tenant = self._tenant_cache.get(tenant, now) if tenant is not None else None
        bounds, _ = yield from self._bounds(tenant, now)
        old_value: Any
        new_value: Any
        if subject is not None:
            choice = to_user_choice(new)
            if choice is not None:
                check_choice(bounds, choice)
            old_value = yield from self._choice(subject, tenant, now)
            where = (tenant, subject)
            if self._user_resolver is not None and where not in self._user_table:
                self._user_cache.put(where, choice, now)
            else:
                self._user_table[where] = choice
                self._refresh_needs_record()
            scope, new_value, policy = "user", choice, None
        elif tenant is not None:
            value = to_tenant_policy(new)
            old_value = None if bounds is self.default else bounds
            if remembered_tenant is not None and remembered_tenant[0]:
                old_value = remembered_tenant[1]
            if self._tenant_resolver is not None and tenant not in self._tenant_table:
                self._tenant_cache.put(tenant, value, now)
            else:
                self._tenant_table[tenant] = value
                self._refresh_needs_record()
            scope, new_value, policy = "tenant", value, value.policy.as_dict()
        else:
            value = to_tenant_policy(new)
            old_value = self.default
            self.default = value
            self._plain = None
            self.default_label = (
                f"preset:{new.strip().lower()}" if isinstance(new, str) else ("default")
            )
            scope, new_value, policy = "default", value, value.policy.as_dict()
        return Event(
            type=EventType.INACTIVITY_TIMEOUT_UPDATED,
            at=now,
            subject=subject,
            tenant=tenant,
            policy=policy,
            metadata={
                "actor": actor,
                "scope": scope,
                "old": _plain(old_value),
                "new": _plain(new_value),
            },
        )

    # -- seeing what applies --------------------------------------------------
    def explain(self, context: Any) -> dict[str, Any]:
        """What applied to a request and why: [`idleguard.explain`][idleguard.explain]'s answer."""
        result: dict[str, Any] = context.explain()
        return result


#: The update step yields resolver calls only; it never names a store method.
_NO_STORE = cast("Store", None)


def _choice(value: Any) -> UserChoice | None:
    return to_user_choice(value)


def _plain(value: Any) -> Any:
    if value is None:
        return None
    as_dict = getattr(value, "as_dict", None)
    return as_dict() if callable(as_dict) else value
