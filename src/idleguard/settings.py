"""The middleware's configuration, validated once at start-up and shared by both adapters."""

from __future__ import annotations

import contextlib
import enum
import hashlib
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

from .audit import AuditTrail, CounterHook, Redactor, Sink
from .engine import PolicyEngine, TenantResolver, UserResolver
from .errors import ConfigError
from .events import EventHook, session_tag
from .facts import ApiKeyPredicate, ProxyTrust, RequestFacts, default_api_key_exempt, path_matches
from .identity import Identity, SignedCookie, check_adopt
from .policy import Duration, Policy
from .probe import probe
from .provider import IdentityProvider
from .replies import Reply, ReplySettings, expired_reply
from .resolver_cache import DEFAULT_POLICY_CACHE_TTL
from .rules import Rule
from .stores import Store, from_url
from .tenants import TenantPolicy
from .urls import check_local_path, check_origin, check_redirect_url

__all__ = ["FROM_POLICY", "Settings"]

Clock = Callable[[], float]
#: `(settings, facts, reason) -> Reply`: the answer to a request whose session is over.
ExpiredResponse = Callable[[ReplySettings, RequestFacts, str], Reply]
MIN_SECRET_LENGTH = 32


class _FromPolicy(enum.Enum):
    FROM_POLICY = "the policy's own"


#: The default of the policy shorthands (`idle_timeout=` ...): the policy's own value.
FROM_POLICY: Literal[_FromPolicy.FROM_POLICY] = _FromPolicy.FROM_POLICY
#: A policy field given beside `policy`, or `FROM_POLICY`.
PolicyField = Duration | None | Literal[_FromPolicy.FROM_POLICY]


class Settings:
    """The middleware's options, validated once: what both adapters take.

    [`IdleGuard`][idleguard.IdleGuard] and [`IdleGuardWSGI`][idleguard.IdleGuardWSGI] build
    one from their keyword options. Build it once and pass it as `settings=` to middleware
    that must share one store and one policy engine. The keyword arguments are the
    middleware's options: see [`IdleGuard`][idleguard.IdleGuard] for what each one means.

    Raises:
        ConfigError: An option makes no sense; the message says which and how to
            fix it.
        TypeError: `policy` is not a policy, a preset name or a tenant policy.
    """

    def __init__(
        self,
        *,
        policy: Policy | str | TenantPolicy | None = None,
        idle_timeout: PolicyField = FROM_POLICY,
        absolute_timeout: PolicyField = FROM_POLICY,
        warn_before: PolicyField = FROM_POLICY,
        touch_interval: PolicyField = FROM_POLICY,
        store: Store | str = "memory://",
        secret_key: str | bytes | Sequence[str | bytes] | None = None,
        clock: Clock = time.time,
        on_event: EventHook | Sink | Iterable[EventHook | Sink] | None = None,
        login_url: str | None = "/login",
        identity: Identity | None = None,
        https_only: bool = True,
        passive_paths: Iterable[str] = (),
        exempt_paths: Iterable[str] = (),
        api_key_exempt: ApiKeyPredicate | None = default_api_key_exempt,
        fail_open: bool = False,
        expired_response: ExpiredResponse | None = None,
        clear_site_data: bool = True,
        store_timeout: float = 2.0,
        rules: Iterable[Rule] = (),
        tenants: Mapping[str, Any] | TenantResolver | None = None,
        users: Mapping[Any, Any] | UserResolver | None = None,
        policy_cache_ttl: float = DEFAULT_POLICY_CACHE_TTL,
        step_up_url: str | None = None,
        explain_log: bool = False,
        policies: PolicyEngine | None = None,
        redactor: Redactor | None = None,
        counters: CounterHook | None = None,
        trusted_proxy_depth: int = 0,
        trusted_proxies: Iterable[str] = (),
        endpoint_prefix: str = "/_idleguard/",
        trusted_origins: Iterable[str] = (),
        check_store_at_start: bool = False,
        identity_provider: IdentityProvider | None = None,
    ) -> None:
        fields = {
            name: value
            for name, value in (
                ("idle_timeout", idle_timeout),
                ("absolute_timeout", absolute_timeout),
                ("warn_before", warn_before),
                ("touch_interval", touch_interval),
            )
            if value is not FROM_POLICY
        }
        if policies is None:
            if policy is not None and not isinstance(policy, (Policy, str, TenantPolicy)):
                raise TypeError(
                    "policy must be an idleguard.Policy, a preset name or a TenantPolicy, "
                    f"not {type(policy).__name__}"
                )
            if fields:
                policy = _with_fields(policy, fields)
            policies = PolicyEngine(
                policy,
                rules=rules,
                tenants=tenants,
                users=users,
                cache_ttl=policy_cache_ttl,
                step_up_url=step_up_url,
                explain_log=explain_log,
            )
        else:
            # Each of these is the engine's: beside an engine of the app's own it would be
            # silently ignored, so it is refused by name.
            given = [
                name
                for name, ignored in (
                    ("policy", policy is not None),
                    ("rules", bool(rules)),
                    ("tenants", tenants is not None),
                    ("users", users is not None),
                    ("step_up_url", step_up_url is not None),
                    ("explain_log", explain_log),
                    ("policy_cache_ttl", policy_cache_ttl != DEFAULT_POLICY_CACHE_TTL),
                    *((name, True) for name in fields),
                )
                if ignored
            ]
            if given:
                raise ConfigError(
                    "pass either policies= (a PolicyEngine) or the settings it is built from, "
                    f"not both; set {', '.join(given)} on the PolicyEngine instead "
                    "(PolicyEngine(policy, rules=..., step_up_url=...))",
                    about=("policies", *given),
                )
        #: The policy engine: per-path, per-tenant, per-user limits and runtime changes.
        self.policies = policies
        self.clock = clock
        location = store if isinstance(store, str) else ""
        if isinstance(store, str):
            with _about("store"):
                if store.startswith("memory:"):
                    store = from_url(store, clock=clock)
                elif store.startswith("cookie:"):
                    store = from_url(store, secret_key=secret_key)
                else:
                    store = from_url(store)
        self.store: Store = store
        if identity is None:
            if secret_key is None:
                raise ConfigError(
                    "idleguard needs secret_key= to sign its session cookie (at least "
                    f"{MIN_SECRET_LENGTH} random characters, e.g. secrets.token_urlsafe(32))",
                    about=("secret_key",),
                )
            with _about("secret_key"):
                identity = SignedCookie(secret_key)
        if secret_key is not None:
            keys = [secret_key] if isinstance(secret_key, (str, bytes)) else list(secret_key)
            if any(len(key) < MIN_SECRET_LENGTH for key in keys):
                raise ConfigError(
                    f"every secret_key must be at least {MIN_SECRET_LENGTH} characters; generate "
                    "one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
                    about=("secret_key",),
                )
            first = keys[0]
            raw = first.encode() if isinstance(first, str) else first
            self._tag_key = hashlib.sha256(b"idleguard.event-tag\x00" + raw).digest()
        else:
            # Without a secret, event tags are stable within this process only.
            self._tag_key = secrets.token_bytes(32)
        self.identity: Identity = identity
        #: `credential -> subject | None`: the app vouches for an unknown credential.
        self.adopt = None if identity.issues else check_adopt(getattr(identity, "adopt", None))
        self.https_only = https_only
        if identity.issues:
            self.cookie_name = ("__Host-" if https_only else "") + identity.name
        else:
            self.cookie_name = identity.name
        if login_url is not None:
            with _about("login_url"):
                check_redirect_url("login_url", login_url)
        self.login_url = login_url
        self.passive_paths = _prefixes(passive_paths, "passive_paths")
        self.exempt_paths = _prefixes(exempt_paths, "exempt_paths")
        self.api_key_exempt = api_key_exempt
        self.fail_open = fail_open
        self.expired_response: ExpiredResponse = expired_response or expired_reply
        self.clear_site_data = clear_site_data
        if store_timeout <= 0:
            raise ConfigError(
                "store_timeout must be a positive number of seconds", about=("store_timeout",)
            )
        self.store_timeout = store_timeout
        if isinstance(trusted_proxy_depth, bool) or not isinstance(trusted_proxy_depth, int):
            raise TypeError("trusted_proxy_depth must be the number of proxies in front of the app")
        if trusted_proxy_depth < 0:
            raise ConfigError(
                "trusted_proxy_depth must be 0 (no proxy) or more", about=("trusted_proxy_depth",)
            )
        self.trusted_proxy_depth = trusted_proxy_depth
        #: Which peers `X-Forwarded-For` is believed from, for events' `client_ip`.
        self.proxy_trust = ProxyTrust.parse(trusted_proxies, trusted_proxy_depth)
        # Every event goes through the trail: redacted, counted, then delivered.
        self.audit = AuditTrail(on_event, redactor=redactor, counters=counters, clock=clock)
        self.hooks: tuple[EventHook, ...] = (self.audit,) if self.audit.active else ()
        with _about("endpoint_prefix"):
            self.endpoint_prefix = _endpoint_prefix(endpoint_prefix)
        if isinstance(trusted_origins, str):
            raise TypeError("trusted_origins must be a list of origins, not one string")
        with _about("trusted_origins"):
            self.trusted_origins = frozenset(
                check_origin("trusted_origins", origin) for origin in trusted_origins
            )
        self.policies.bind(clock, self.hooks, self.exempt_paths)
        #: The single sign-on provider whose session ends with idleguard's, or `None`.
        self.identity_provider = identity_provider
        if identity_provider is not None:
            identity_provider.bind(store=store, clock=clock, endpoint_prefix=self.endpoint_prefix)
        attributes = "; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if https_only else "")
        self._cookie_attributes = attributes
        self._clear_cookie = (
            "set-cookie",
            f"{self.cookie_name}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT{attributes}",
        )
        # A client-side store's record rides in its own cookie, beside the session's.
        self.carrier_name: str | None = None
        self._clear_carrier: list[tuple[str, str]] = []
        if store.carrier is not None:
            self.carrier_name = ("__Host-" if https_only else "") + store.carrier
            self._clear_carrier = [
                (
                    "set-cookie",
                    f"{self.carrier_name}=; Max-Age=0; "
                    f"Expires=Thu, 01 Jan 1970 00:00:00 GMT{attributes}",
                )
            ]
        if check_store_at_start:
            self._check_store(location)

    def _check_store(self, location: str) -> None:
        """Refuse to start when the store does not answer one harmless call."""
        answer = probe(self.store, location, clock=self.clock)
        if not answer.ok:
            if location:  # built here from its URL; a store object is the app's own
                self.store.close()
            raise ConfigError(
                f"check_store_at_start: the store ({answer.describe()}) did not answer: "
                f"{answer.error}; start it or correct the store URL (check_store_at_start=False "
                "starts without asking it)",
                about=("store",),
            )

    @property
    def policy(self) -> Policy:
        """The default policy (sessions without a tenant), as changed at runtime."""
        return self.policies.default.policy

    # -- per request ----------------------------------------------------------
    def is_exempt(self, facts: RequestFacts) -> bool:
        """No session: exempt paths and API-key requests (a credential is still checked)."""
        if self.exempt_paths and path_matches(facts.path, self.exempt_paths):
            return True
        return self.api_key_exempt is not None and self.api_key_exempt(facts.headers)

    def is_passive(self, facts: RequestFacts) -> bool:
        """Checked (and may expire) but never extends the session."""
        if facts.headers.get("x-idleguard-passive") == "1":
            return True
        return bool(self.passive_paths) and path_matches(facts.path, self.passive_paths)

    def tag(self, key: str) -> str:
        return session_tag(self._tag_key, key)

    # -- cookies --------------------------------------------------------------
    def set_cookie_header(self, value: str) -> tuple[str, str]:
        return ("set-cookie", f"{self.cookie_name}={value}{self._cookie_attributes}")

    def set_carrier_header(self, value: str) -> tuple[str, str]:
        return ("set-cookie", f"{self.carrier_name}={value}{self._cookie_attributes}")

    def clear_cookie_headers(self) -> list[tuple[str, str]]:
        if self.identity.source != "cookie":
            return self._clear_carrier
        return [self._clear_cookie, *self._clear_carrier]

    def describe(self) -> dict[str, Any]:
        """The settings an operator may want to see, without secrets."""
        return {
            "policy": self.policies.default.as_dict(),
            "store": type(self.store).__name__,
            "cookie": self.cookie_name,
            "login_url": self.login_url,
            "fail_open": self.fail_open,
        }


@contextlib.contextmanager
def _about(name: str) -> Iterator[None]:
    """Mark a `ConfigError` raised while `name` is checked as being about it.

    The checks live where their rules do (`idleguard.urls`, the stores); the mark lets a
    front end say where its user wrote the setting.
    """
    try:
        yield
    except ConfigError as error:
        if not error.about:
            error.about = (name,)
        raise


def _with_fields(policy: Policy | str | TenantPolicy | None, fields: dict[str, Any]) -> Policy:
    """`policy` (a preset name, or the default when None) with the shorthands applied."""
    if isinstance(policy, TenantPolicy):
        raise ConfigError(
            f"{', '.join(fields)}= change a Policy or a preset; with a TenantPolicy, set them "
            "on its own policy",
            about=tuple(fields),
        )
    if isinstance(policy, str):
        return Policy.preset(policy, **fields)
    return (policy or Policy()).replace(**fields)


def _prefixes(paths: Iterable[str], name: str) -> tuple[str, ...]:
    if isinstance(paths, str):
        raise TypeError(f"{name} must be a list of paths, not one string")
    result = []
    for path in paths:
        if not path.startswith("/"):
            raise ConfigError(f"{name}: {path!r} must start with '/'", about=(name,))
        result.append(path.rstrip("/") or "/")
    return tuple(result)


def _endpoint_prefix(prefix: str) -> str:
    check_local_path("endpoint_prefix", prefix, example="/_idleguard/")
    return prefix.rstrip("/") + "/"
