"""The two-service example on real servers (uvicorn and werkzeug) over one real Redis: in step, then not."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

import httpx
import pytest
import redis

from examples.two_services import api, web
from examples.two_services.shared import ACCOUNTS, POLICY_CACHE_TTL, TenantPolicies
from idleguard import ConfigError, Policy
from idleguard.testing import SettableClock
from idleguard.verify import Expectation, FormSignIn
from tests.examples.servers import serve_asgi, serve_wsgi

from .conftest import Verify, idleguard_target, result

pytestmark = pytest.mark.redis

POLICY = Policy(idle_timeout=900, absolute_timeout=3600, warn_before=60)
CLAIM = Expectation.build(
    idle=900, absolute=3600, idle_given=True, absolute_given=True, tolerance=30
)
RECIPE = FormSignIn("/login", list(ACCOUNTS.items()), user_field="email")


@pytest.fixture
def store(redis_url: str) -> str:
    """A database of the suite's Redis for these tests alone, emptied first."""
    url = redis_url.rsplit("/", 1)[0] + "/7"
    redis.Redis.from_url(url).flushdb()
    return url


@contextlib.contextmanager
def services(
    clock: SettableClock, store: str, web_policy: Policy = POLICY
) -> Iterator[tuple[str, str]]:
    secret = secrets.token_urlsafe(32)
    common = {"store": store, "secret_key": secret, "clock": clock, "https_only": True}
    api_app = api.create_app(tenants=TenantPolicies(store, POLICY), **common)
    web_app = web.create_app(tenants=TenantPolicies(store, web_policy), **common)
    with serve_asgi(api_app, lifespan="on") as api_url, serve_wsgi(web_app) as web_url:
        yield api_url, web_url


def test_the_two_services_are_in_step(clock: SettableClock, store: str, verify: Verify) -> None:
    with services(clock, store) as (api_url, web_url):
        report = verify([idleguard_target(api_url), idleguard_target(web_url)], CLAIM, RECIPE)
    failures = [entry for entry in report.to_json()["results"] if entry["verdict"] != "passed"]
    assert failures == []
    assert [entry.probe for entry in report.results][-3:] == [
        "shared-session",
        "sign-out-everywhere",
        "limits-parity",
    ]
    parity = result(report, "limits-parity")["measured"]
    assert isinstance(parity, dict)
    assert set(parity["idle-expiry"]) == {api_url, web_url}


@pytest.mark.parametrize("order", ["api-first", "web-first"])
def test_a_sign_out_on_one_is_refused_on_the_other(
    clock: SettableClock, store: str, verify: Verify, order: str
) -> None:
    with services(clock, store) as (api_url, web_url):
        urls = [api_url, web_url] if order == "api-first" else [web_url, api_url]
        report = verify(
            [idleguard_target(url) for url in urls], CLAIM, RECIPE, only=["sign-out-everywhere"]
        )
    entry = result(report, "sign-out-everywhere")
    assert entry["verdict"] == "passed"
    exchanges = entry["exchanges"]
    assert isinstance(exchanges, list)
    replay = exchanges[-1]
    assert replay["url"].startswith(urls[1])
    assert replay["status"] == 401


def test_a_tenant_policy_change_reaches_both(
    clock: SettableClock, store: str, verify: Verify, http: httpx.Client
) -> None:
    with services(clock, store) as (api_url, web_url):
        # Both have read (and cached) the tenant's policy.
        assert verify(
            [idleguard_target(api_url), idleguard_target(web_url)],
            CLAIM,
            RECIPE,
            only=["client-endpoints"],
        ).passed
        email, password = next(iter(ACCOUNTS.items()))
        signed_in = http.post(f"{api_url}/login", data={"email": email, "password": password})
        cookie = signed_in.headers["set-cookie"].split(";")[0]
        changed = http.post(
            f"{api_url}/api/tenant-policy",
            data={"idle_timeout": "600", "absolute_timeout": "3600"},
            headers={"cookie": cookie},
        )
        assert changed.status_code == 200, changed.text
        clock.advance(POLICY_CACHE_TTL + 1)  # the web UI's cached answer is now stale
        shorter = Expectation.build(
            idle=600, absolute=3600, idle_given=True, absolute_given=True, tolerance=30
        )
        report = verify(
            [idleguard_target(api_url), idleguard_target(web_url)],
            shorter,
            RECIPE,
            only=["idle-expiry", "client-endpoints", "limits-parity"],
        )
    assert report.passed, [entry.summary for entry in report.results]


def test_a_service_configured_differently_is_drift(
    clock: SettableClock, store: str, verify: Verify
) -> None:
    longer = Policy(idle_timeout=1200, absolute_timeout=3600, warn_before=60)
    with services(clock, store, web_policy=longer) as (api_url, web_url):
        report = verify(
            [idleguard_target(api_url), idleguard_target(web_url)],
            CLAIM,
            RECIPE,
            only=["idle-expiry", "limits-parity"],
        )
    assert not report.passed
    assert result(report, "idle-expiry", api_url)["verdict"] == "passed"
    assert result(report, "idle-expiry", web_url)["verdict"] == "failed"
    parity = result(report, "limits-parity")
    assert parity["verdict"] == "failed"
    findings = parity["findings"]
    assert isinstance(findings, list)
    assert len(findings) == 1
    assert f"{web_url} was still alive after" in findings[0]
    assert f"while {api_url} refused after" in findings[0]


def test_a_service_without_the_shared_secret_does_not_start(store: str) -> None:
    with pytest.raises(ConfigError, match="same secret on both services"):
        web.create_app(tenants=TenantPolicies(store, POLICY), store=store)
