"""What the two services share: the accounts, the tenant's policy in Redis, the middleware's settings."""

from __future__ import annotations

import hmac
import json
import os
from typing import Any

import redis

from idleguard import ConfigError, Policy

__all__ = ["ACCOUNTS", "POLICY_CACHE_TTL", "TENANT", "TenantPolicies", "authenticate", "settings"]

#: The accounts both services accept (public, as the demo's are), by email.
ACCOUNTS = {"ada@acme.test": "ada-demo-password", "max@acme.test": "max-demo-password"}
#: The one tenant every account belongs to.
TENANT = "acme"
#: Seconds a service keeps the tenant's policy before it reads it again.
POLICY_CACHE_TTL = 5.0


def authenticate(email: str, password: str) -> str | None:
    """The account's email when the password is its own, else ``None``."""
    expected = ACCOUNTS.get(email.strip().lower())
    if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
        return None
    return email.strip().lower()


class TenantPolicies:
    """Each tenant's policy, kept in Redis where both services read it.

    Args:
        url: The Redis URL (the sessions' own Redis will do).
        default: The policy of a tenant nobody changed.
    """

    def __init__(self, url: str, default: Policy) -> None:
        self.redis = redis.Redis.from_url(url)
        self.default = default

    def _key(self, tenant: str) -> str:
        return f"two-services:tenant-policy:{tenant}"

    def resolve(self, tenant: str) -> Policy | None:
        """The ``tenants=`` resolver: the tenant's policy, ``None`` for an unknown tenant."""
        if tenant != TENANT:
            return None
        stored = self.redis.get(self._key(tenant))
        if stored is None:
            return self.default
        return Policy(**json.loads(stored))

    def set(self, tenant: str, policy: Policy) -> None:
        """Keep the tenant's new policy where both services read it."""
        self.redis.set(self._key(tenant), json.dumps(policy.as_dict()))


def settings(tenants: TenantPolicies, **overrides: Any) -> dict[str, Any]:
    """The middleware's settings, the same on both services; ``overrides`` win (tests)."""
    # --8<-- [start:settings]
    shared: dict[str, Any] = {
        "store": os.environ.get("IDLEGUARD_STORE", "redis://127.0.0.1:6379/0"),
        # One secret on both services: each must recognise the other's session cookie.
        "secret_key": os.environ.get("IDLEGUARD_SECRET_KEY"),
        "tenants": tenants.resolve,
        "policy": tenants.default,
        "policy_cache_ttl": POLICY_CACHE_TTL,
        "https_only": os.environ.get("IDLEGUARD_DEV") != "1",
        "passive_paths": ["/api/notifications"],
        "login_url": "/login",
    }
    # --8<-- [end:settings]
    shared.update(overrides)
    if not shared["secret_key"]:
        # Each service would make up its own, and neither would know the other's sessions.
        raise ConfigError(
            "set IDLEGUARD_SECRET_KEY to the same secret on both services: "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return shared


def tenant_policies(**overrides: Any) -> TenantPolicies:
    """The tenants' policies in the store's Redis, starting from ``IDLEGUARD_*`` limits."""
    url = overrides.get("store") or os.environ.get("IDLEGUARD_STORE", "redis://127.0.0.1:6379/0")
    return TenantPolicies(url, overrides.get("policy") or Policy.from_env())
