"""The pure resolution: which limits win, step-up, and loud misconfiguration."""

from __future__ import annotations

from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idleguard import (
    ConfigError,
    DeviceRule,
    IdleGuard,
    PathRule,
    Policy,
    PolicyError,
    TenantPolicy,
    UserChoice,
)
from idleguard.engine import PolicyEngine
from idleguard.facts import RequestFacts
from idleguard.resolution import StepUp, resolve, step_up_due
from idleguard.rules import Rule
from idleguard.settings import Settings

PHONE = {"user-agent": "Mozilla/5.0 (Linux; Android 14) Mobile Safari"}
DEFAULT = TenantPolicy("30m", max_idle_timeout=7200, role_max_idle={"admin": 600})
OPEN = TenantPolicy("disabled", role_max_idle={"admin": 600})
BILLING_END = PathRule("/billing", idle_timeout=300)
BILLING_STEP_UP = PathRule("/billing", idle_timeout=300, on_exceed="step_up")
ADMIN = PathRule("/admin", idle_timeout=600, absolute_timeout=3600)
ORGS = PathRule("/orgs/*/billing", idle_timeout=120)
MOBILE = DeviceRule("mobile", idle_timeout=3600)


def facts(path: str = "/page", method: str = "GET", **headers: str) -> RequestFacts:
    return RequestFacts(method, path, headers)


@pytest.mark.parametrize(
    ("bounds", "request_facts", "rules", "choice", "idle", "idle_rule", "absolute"),
    [
        pytest.param(DEFAULT, facts(), [], None, 1800, "tenant:t", 28800, id="tenant-default"),
        pytest.param(
            DEFAULT,
            facts("/billing/x"),
            [BILLING_END],
            None,
            300,
            "path:/billing",
            28800,
            id="path-end-is-a-bound",
        ),
        pytest.param(
            DEFAULT,
            facts("/billing"),
            [BILLING_STEP_UP],
            None,
            1800,
            "tenant:t",
            28800,
            id="path-step-up-is-not-a-bound",
        ),
        pytest.param(
            DEFAULT,
            facts("/admin"),
            [ADMIN],
            None,
            600,
            "path:/admin",
            3600,
            id="path-absolute",
        ),
        pytest.param(
            DEFAULT,
            facts("/orgs/acme/billing/2"),
            [ORGS],
            None,
            120,
            "path:/orgs/*/billing",
            28800,
            id="pattern-one-segment",
        ),
        pytest.param(
            DEFAULT,
            facts("/orgs/a/b/billing"),
            [ORGS],
            None,
            1800,
            "tenant:t",
            28800,
            id="pattern-no-match-two-segments",
        ),
        pytest.param(
            DEFAULT,
            facts(**PHONE),
            [MOBILE],
            None,
            3600,
            "device:mobile",
            28800,
            id="device-longer-within-max",
        ),
        pytest.param(
            TenantPolicy("30m"),
            facts(**PHONE),
            [MOBILE],
            None,
            1800,
            "tenant maximum",
            28800,
            id="device-cut-to-max",
        ),
        pytest.param(
            DEFAULT,
            facts(),
            [],
            UserChoice(900),
            900,
            "user",
            28800,
            id="user-shorter",
        ),
        pytest.param(
            DEFAULT,
            facts(),
            [],
            UserChoice(9000),
            7200,
            "tenant maximum",
            28800,
            id="user-above-max-clamped",
        ),
        pytest.param(
            DEFAULT,
            facts(),
            [],
            UserChoice("never"),
            1800,
            "tenant:t",
            28800,
            id="never-not-allowed-keeps-default",
        ),
        pytest.param(
            OPEN,
            facts(),
            [],
            UserChoice("never"),
            None,
            "user",
            28800,
            id="never-allowed",
        ),
        pytest.param(
            OPEN,
            facts(),
            [],
            UserChoice("never", roles=["admin"]),
            600,
            "role:admin",
            28800,
            id="never-but-admin",
        ),
        pytest.param(
            DEFAULT,
            facts(**PHONE),
            [MOBILE],
            UserChoice(7000, roles=["admin"]),
            600,
            "role:admin",
            28800,
            id="device-user-role",
        ),
        pytest.param(
            DEFAULT,
            facts("/billing"),
            [BILLING_END],
            UserChoice(60),
            60,
            "user",
            28800,
            id="user-stricter-than-path",
        ),
        pytest.param(
            TenantPolicy(Policy(idle_timeout=3600, absolute_timeout=3600), max_idle_timeout=7200),
            facts(),
            [],
            UserChoice(7200),
            3600,
            "tenant:t",
            3600,
            id="idle-cut-to-absolute",
        ),
    ],
)
def test_resolve(
    bounds: TenantPolicy,
    request_facts: RequestFacts,
    rules: list[Rule],
    choice: UserChoice | None,
    idle: float | None,
    idle_rule: str,
    absolute: float | None,
) -> None:
    resolution = resolve(bounds, "tenant:t", request_facts, rules, choice)
    assert resolution.policy.idle_timeout == idle
    assert resolution.idle_rule == idle_rule
    assert resolution.policy.absolute_timeout == absolute


def test_a_short_path_limit_shortens_the_warning() -> None:
    short = PathRule("/pay", idle_timeout=60)
    resolution = resolve(TenantPolicy(), "default", facts("/pay"), [short])
    assert resolution.policy.warn_before < 60


@pytest.mark.parametrize(
    ("rules", "since_auth", "since_activity", "expected"),
    [
        pytest.param([BILLING_STEP_UP], 10, 299, None, id="idle-under"),
        pytest.param(
            [BILLING_STEP_UP], 400, 300, StepUp("path:/billing", "idle", 300), id="idle-over"
        ),
        pytest.param([BILLING_STEP_UP], 100, 400, None, id="idle-but-reauthenticated"),
        pytest.param(
            [PathRule("/billing", authenticated_within=120)],
            120,
            0,
            StepUp("path:/billing", "authentication_age", 120),
            id="auth-age-at-limit",
        ),
        pytest.param(
            [PathRule("/billing", authenticated_within=120)], 119, 0, None, id="auth-age-under"
        ),
        pytest.param([], 10_000, 10_000, None, id="no-rule"),
    ],
)
def test_step_up_due(
    rules: list[Rule], since_auth: float, since_activity: float, expected: StepUp | None
) -> None:
    now = 1_000_000.0
    resolution = resolve(TenantPolicy(), "default", facts("/billing"), rules)
    assert step_up_due(resolution, now - since_auth, now - since_activity, now) == expected


# -- loud misconfiguration ----------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(lambda: PathRule("billing", idle_timeout=60), "never match", id="no-slash"),
        pytest.param(
            lambda: PathRule("/x", idle_timeout=5, methods=[]), "never match", id="no-methods"
        ),
        pytest.param(
            lambda: PathRule("/x", idle_timeout=60, methods=["FETCH"]),
            "unknown method",
            id="bad-method",
        ),
        pytest.param(lambda: PathRule("/x"), "sets nothing", id="empty-rule"),
        pytest.param(
            lambda: PathRule("/x", on_exceed="step_up", authenticated_within=5),
            "needs an idle_timeout",
            id="step-up-without-idle",
        ),
        pytest.param(lambda: PathRule("/a**", idle_timeout=5), "whole segment", id="bad-glob"),
        pytest.param(lambda: DeviceRule("(", idle_timeout=5), "user_agent", id="bad-regex"),
        pytest.param(
            lambda: TenantPolicy("1h", max_idle_timeout=600),
            "above its max_idle_timeout",
            id="tenant-above-own-max",
        ),
        pytest.param(
            lambda: TenantPolicy("disabled", allow_never=False),
            "allow_never",
            id="disabled-but-never-refused",
        ),
        pytest.param(
            lambda: TenantPolicy("30m", role_max_idle={"admin": 3600}),
            "could never apply",
            id="role-cap-above-max",
        ),
        pytest.param(
            lambda: TenantPolicy.from_mapping({"policy": "1h", "max_idle_timout": 5}),
            "did you mean 'max_idle_timeout'",
            id="tenant-unknown-key",
        ),
        pytest.param(
            lambda: PolicyEngine(users={"alice": UserChoice(7200)}),
            "above the tenant's maximum",
            id="user-choice-above-max",
        ),
        pytest.param(
            lambda: PolicyEngine(
                tenants={"acme": TenantPolicy("30m", max_idle_timeout=3600)},
                users={("acme", "alice"): UserChoice(7200)},
            ),
            "above the tenant's maximum",
            id="user-choice-above-tenant-max",
        ),
        pytest.param(
            lambda: PolicyEngine(users={"bob": UserChoice("never")}),
            "'never'",
            id="user-never-not-allowed",
        ),
        pytest.param(
            lambda: PolicyEngine(tenants={"a": "1h"}, users={"bob": 60}),
            "(tenant, subject)",
            id="users-without-tenant-key",
        ),
        pytest.param(
            lambda: PolicyEngine(rules=[ADMIN, ADMIN]), "appears twice", id="duplicate-rule"
        ),
        pytest.param(
            lambda: PolicyEngine(rules=[cast(Rule, "/admin")]), "not a rule", id="not-a-rule"
        ),
        pytest.param(lambda: PolicyEngine("pci-dds"), "did you mean", id="preset-typo"),
        pytest.param(
            lambda: PolicyEngine(tenants={"acme": "hipa"}),
            "did you mean 'hipaa'",
            id="tenant-preset-typo",
        ),
        pytest.param(lambda: PolicyEngine(step_up_url="//evil"), "step_up_url", id="bad-url"),
        pytest.param(
            lambda: PolicyEngine(step_up_url="/\\evil"), "step_up_url", id="backslash-url"
        ),
        pytest.param(
            lambda: PolicyEngine(step_up_url="/reauth\r\nX: y"), "step_up_url", id="crlf-url"
        ),
    ],
)
def test_misconfiguration_fails_at_start_up(build: Any, message: str) -> None:
    with pytest.raises(PolicyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()


def test_a_rule_under_an_exempt_path_can_never_match() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not called")

    with pytest.raises(PolicyError, match="exempt"):
        IdleGuard(
            app,
            secret_key="k" * 32,
            exempt_paths=["/health"],
            rules=[PathRule("/health/deep", idle_timeout=60)],
        )


def test_policy_and_policies_together_is_an_error() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not called")

    with pytest.raises(ValueError, match="either policies="):
        IdleGuard(app, secret_key="k" * 32, policy="1h", policies=PolicyEngine())


@pytest.mark.parametrize(
    "setting",
    [
        pytest.param({"step_up_url": "/reauth"}, id="step_up_url"),
        pytest.param({"explain_log": True}, id="explain_log"),
        pytest.param({"policy_cache_ttl": 5}, id="policy_cache_ttl"),
        pytest.param({"idle_timeout": "15m"}, id="idle_timeout"),
    ],
)
def test_an_engine_setting_beside_an_engine_is_refused_by_name(setting: dict[str, Any]) -> None:
    # Each belongs to the PolicyEngine: next to the app's own engine it would do nothing.
    (name,) = setting
    with pytest.raises(ConfigError, match=f"not both; set {name} on the PolicyEngine") as refused:
        Settings(secret_key="k" * 32, policies=PolicyEngine(), **setting)
    assert name in refused.value.about


def test_update_needs_an_actor() -> None:
    with pytest.raises(PolicyError, match="actor"):
        PolicyEngine().update("15m", actor="")


# -- the clamp, for any inputs ---------------------------------------------------------
durations = st.integers(min_value=61, max_value=48 * 3600).map(float)
maybe = st.none() | durations


@given(
    idle=maybe,
    absolute=maybe,
    maximum=maybe,
    allow_never=st.booleans(),
    role_cap=maybe,
    user_roles=st.sets(st.sampled_from(["admin", "staff"])),
    choice=st.none() | st.just("never") | durations,
    device=maybe,
    path_idle=maybe,
    path_absolute=maybe,
    on_path=st.booleans(),
    on_phone=st.booleans(),
)
def test_effective_limit_never_exceeds_any_bound(
    idle: float | None,
    absolute: float | None,
    maximum: float | None,
    allow_never: bool,
    role_cap: float | None,
    user_roles: set[str],
    choice: Any,
    device: float | None,
    path_idle: float | None,
    path_absolute: float | None,
    on_path: bool,
    on_phone: bool,
) -> None:
    try:
        policy = Policy(idle_timeout=idle, absolute_timeout=absolute)
        roles = {"admin": role_cap} if role_cap is not None else {}
        bounds = TenantPolicy(
            policy,
            max_idle_timeout=maximum,
            allow_never=allow_never if idle is not None else None,
            role_max_idle=roles,
        )
    except PolicyError:
        return  # an invalid configuration is refused at start-up, never resolved
    rules: list[Rule] = []
    if device is not None:
        rules.append(DeviceRule("mobile", idle_timeout=device))
    if path_idle is not None or path_absolute is not None:
        rules.append(PathRule("/p", idle_timeout=path_idle, absolute_timeout=path_absolute))
    user = UserChoice(choice, roles=user_roles)
    request = facts("/p" if on_path else "/q", **(PHONE if on_phone else {}))
    effective = resolve(bounds, "t", request, rules, user).policy

    applying: list[float] = []
    if bounds.max_idle_timeout is not None and not (choice == "never" and bounds.allow_never):
        applying.append(bounds.max_idle_timeout)
    if "admin" in user_roles and role_cap is not None:
        applying.append(role_cap)
    if on_path and path_idle is not None:
        applying.append(path_idle)
    if effective.absolute_timeout is not None and effective.idle_timeout is not None:
        applying.append(effective.absolute_timeout)
    for bound in applying:
        assert effective.idle_timeout is not None
        assert effective.idle_timeout <= bound
    absolute_bounds = [a for a in (absolute, path_absolute if on_path else None) if a is not None]
    for bound in absolute_bounds:
        assert effective.absolute_timeout is not None
        assert effective.absolute_timeout <= bound
    if effective.idle_timeout is None:
        # No idle limit only where the tenant allows "never".
        assert bounds.allow_never


def test_a_runtime_change_reports_the_value_in_force_before_it() -> None:
    # The app saves first, then tells the engine: asked again, its resolver already
    # answers with the new value, so the old one must come from what was cached.
    from idleguard.engine import PolicyEngine
    from idleguard.facts import RequestFacts
    from idleguard.steps import drive_sync
    from idleguard.testing import SettableClock

    clock = SettableClock()
    table = {"acme": "30m"}
    engine = PolicyEngine(tenants=table.get, cache_ttl=30)
    engine.bind(clock, (), ())
    facts = RequestFacts("GET", "/", {})
    resolution = drive_sync(None, engine.resolve(facts, ("ann", "acme"), clock()))  # type: ignore[arg-type]
    assert resolution.policy.idle_timeout == 1800
    clock.advance(31)  # the cached answer is stale now
    table["acme"] = "15m"
    event = engine.update("15m", actor="admin", tenant="acme")
    assert event.metadata["old"]["idle_timeout"] == 1800
    assert event.metadata["new"]["idle_timeout"] == 900


def test_a_users_choice_reads_durations_as_a_policy_does() -> None:
    assert UserChoice("15m").idle_timeout == 900
    assert UserChoice("never").idle_timeout == "never"
    with pytest.raises(PolicyError, match="user idle_timeout: 'soon' is not a duration"):
        UserChoice("soon")


def test_a_path_limit_shortens_the_default_warning_as_the_policy_would() -> None:
    # The default warning follows the limit in force: half of a limit under four minutes.
    resolution = resolve(
        TenantPolicy(), "default", facts("/pay"), [PathRule("/pay", idle_timeout=200)]
    )
    assert resolution.policy.warn_before == 100
    chosen = TenantPolicy(Policy(warn_before=90))
    resolution = resolve(chosen, "default", facts("/pay"), [PathRule("/pay", idle_timeout=200)])
    assert resolution.policy.warn_before == 90  # set on purpose, and it fits
