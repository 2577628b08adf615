"""Per-path, per-tenant, per-user, per-device and step-up scenarios, over ASGI and WSGI alike.

The app is a bare ASGI or WSGI callable (no framework) behind the real
middleware, driven by the suite's harness.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

import pytest

import idleguard
from idleguard import (
    DeviceRule,
    IdleGuard,
    IdleGuardWSGI,
    PathRule,
    PolicyEngine,
    PolicyError,
    TenantPolicy,
    UserChoice,
)
from idleguard.stores.memory import MemoryStore
from idleguard.testing import EventCollector, SettableClock
from tests.harness import AsgiHarness, Harness, Response, WsgiHarness

pytestmark = pytest.mark.parametrize("adapter", ["asgi", "wsgi"])

SECRET = "a-test-secret-that-is-long-enough-0123456789"


class CountingStore(MemoryStore):
    """The real memory store, counting the calls each request makes."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(clock=clock)
        self.calls: list[str] = []

    def check(self, *args: Any) -> Any:
        self.calls.append("check")
        return super().check(*args)

    def create(self, *args: Any) -> None:
        self.calls.append("create")
        super().create(*args)

    def end(self, *args: Any) -> Any:
        self.calls.append("end")
        return super().end(*args)

    def reauthenticate(self, *args: Any) -> bool:
        self.calls.append("reauthenticate")
        return super().reauthenticate(*args)


def _view(path: str, query: str, request: Any) -> tuple[int, dict[str, Any]]:
    """The app's routes, shared by the ASGI and WSGI versions."""
    params = {key: values[0] for key, values in parse_qs(query).items()}
    if path == "/login":
        idleguard.begin(request, subject=params.get("user", "alice"), tenant=params.get("tenant"))
        return 200, {"signed_in": True}
    if path == "/reauth":
        idleguard.reauthenticated(request)
        return 200, {"reauthenticated": True}
    if path == "/logout":
        idleguard.end(request)
        return 200, {"signed_out": True}
    session = idleguard.current(request)
    return 200, {
        "path": path,
        "session": session is not None,
        "explain": idleguard.explain(request),
    }


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    status, payload = _view(scope["path"], scope.get("query_string", b"").decode(), scope)
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    status, payload = _view(environ["PATH_INFO"], environ.get("QUERY_STRING", ""), environ)
    start_response(f"{status} OK", [("content-type", "application/json")])
    return [json.dumps(payload).encode()]


class Browser:
    """The suite's harness in front of one guarded app, with its clock, events and store."""

    def __init__(self, adapter: str, **options: Any) -> None:
        self.clock: SettableClock = options.pop("clock", None) or SettableClock()
        self.events = EventCollector()
        self.store: CountingStore = options.pop("store", None) or CountingStore(self.clock)
        settings: dict[str, Any] = {
            "secret_key": SECRET,
            "clock": self.clock,
            "on_event": self.events,
            "https_only": False,
            "store": self.store,
            **options,
        }
        self.guard: IdleGuard | IdleGuardWSGI
        self.harness: Harness
        if adapter == "asgi":
            self.guard = IdleGuard(asgi_app, **settings)
            self.harness = AsgiHarness(self.guard)
        else:
            self.guard = IdleGuardWSGI(wsgi_app, **settings)
            self.harness = WsgiHarness(self.guard)

    @property
    def policies(self) -> PolicyEngine:
        return self.guard.policies

    @property
    def cookies(self) -> dict[str, str]:
        return self.harness.cookies

    @cookies.setter
    def cookies(self, value: dict[str, str]) -> None:
        self.harness.cookies = value

    def get(self, target: str, headers: dict[str, str] | None = None) -> Response:
        return self.harness.get(target, headers=headers)

    def post(self, target: str, headers: dict[str, str] | None = None) -> Response:
        return self.harness.post(target, headers=headers)


IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"


def explain(browser: Browser, target: str = "/page", **headers: str) -> dict[str, Any]:
    response = browser.get(target, headers or None)
    assert response.status == 200, response.body
    result: dict[str, Any] = response.json()["explain"]
    return result


# -- per path --------------------------------------------------------------------
def test_a_stricter_path_limit_ends_the_session(adapter: str) -> None:
    browser = Browser(adapter, policy="30m", rules=[PathRule("/admin", idle_timeout=600)])
    browser.post("/login")
    browser.clock.advance(599)
    assert explain(browser, "/admin/users")["idle_rule"] == "path:/admin"
    browser.clock.advance(601)  # within 30 min elsewhere, past 10 min for /admin
    replayed = dict(browser.cookies)
    response = browser.get("/admin/users")
    assert response.status == 401
    assert response.json() == {"error": "session_expired", "reason": "idle"}
    assert browser.events.types()[-1] == "session_expired_inactivity"
    browser.cookies = replayed
    assert browser.get("/page").status == 401  # the session is over everywhere


def test_the_path_limit_does_not_apply_elsewhere(adapter: str) -> None:
    browser = Browser(adapter, policy="30m", rules=[PathRule("/admin", idle_timeout=600)])
    browser.post("/login")
    browser.clock.advance(1200)
    result = explain(browser, "/administrator")  # not below /admin: segment boundary
    assert (result["idle_rule"], result["idle_timeout"]) == ("preset:30m", 1800)


def test_step_up_path_refuses_without_signing_out(adapter: str) -> None:
    rule = PathRule("/billing", idle_timeout=300, on_exceed="step_up")
    browser = Browser(adapter, policy="30m", rules=[rule])
    browser.post("/login")
    browser.clock.advance(301)
    refused = browser.get("/billing")
    assert refused.status == 401
    assert refused.json()["error"] == "step_up_required"
    assert refused.header("set-cookie") is None  # not signed out
    # The refusal is not activity: retrying does not get through.
    assert browser.get("/billing").status == 401
    step_ups = browser.events.of_type("step_up_required")
    assert [event.metadata["rule"] for event in step_ups] == ["path:/billing"] * 2
    assert browser.post("/reauth").status == 200
    assert browser.events.types()[-1] == "reauthenticated"
    assert browser.get("/billing").status == 200


def test_step_up_redirects_a_browser_navigation(adapter: str) -> None:
    rule = PathRule("/billing", idle_timeout=300, on_exceed="step_up")
    browser = Browser(adapter, rules=[rule], step_up_url="/reauthenticate")
    browser.post("/login")
    browser.clock.advance(400)
    response = browser.get("/billing/invoices", {"accept": "text/html"})
    assert response.status == 303
    assert response.header("location") == "/reauthenticate?next=/billing/invoices"


def test_authentication_age_decays(adapter: str) -> None:
    rule = PathRule("/account/delete", methods=["POST"], authenticated_within=300)
    browser = Browser(adapter, rules=[rule])
    browser.post("/login")
    browser.clock.advance(200)
    assert browser.post("/account/delete").status == 200
    browser.clock.advance(200)  # the session is active, but sign-in was 400 s ago
    assert browser.get("/account/delete").status == 200  # GET is not covered
    refused = browser.post("/account/delete")
    assert refused.status == 401
    assert refused.json() == {
        "error": "step_up_required",
        "rule": "path:/account/delete",
        "max_age": 300.0,
    }
    browser.post("/reauth")
    assert browser.post("/account/delete").status == 200
    browser.clock.advance(301)
    assert browser.post("/account/delete").status == 401  # freshness is not kept forever


# -- per tenant -------------------------------------------------------------------
class Tenants:
    """A tenant resolver backed by a dict, counting its calls (the app's database)."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table
        self.calls = 0

    def __call__(self, tenant: str) -> Any:
        self.calls += 1
        return self.table.get(tenant)


class AsyncTenants(Tenants):
    async def __call__(self, tenant: str) -> Any:
        self.calls += 1
        return self.table.get(tenant)


@pytest.mark.parametrize("resolver_type", [Tenants, AsyncTenants], ids=["sync", "async"])
def test_tenant_policy_is_cached_and_costs_one_store_call(
    adapter: str, resolver_type: type[Tenants]
) -> None:
    tenants = resolver_type({"acme": TenantPolicy("15m"), "globex": "2h"})
    browser = Browser(adapter, tenants=tenants, policy_cache_ttl=60)
    browser.post("/login?tenant=acme")
    assert tenants.calls == 1
    browser.store.calls.clear()
    for _ in range(5):
        result = explain(browser)
        assert (result["idle_rule"], result["idle_timeout"]) == ("tenant:acme", 900)
    assert browser.store.calls == ["check"] * 5  # one store round trip per request
    assert tenants.calls == 1  # cached
    browser.clock.advance(61)
    explain(browser)
    assert tenants.calls == 2  # re-read once the TTL passed


def test_another_process_learns_the_tenant_from_the_record(adapter: str) -> None:
    tenants = Tenants({"acme": TenantPolicy("15m")})
    first = Browser(adapter, tenants=tenants)
    first.post("/login?tenant=acme")
    other = Browser(adapter, tenants=tenants, clock=first.clock, store=first.store)
    other.cookies = dict(first.cookies)
    first.clock.advance(100)  # a touch is due
    first.store.calls.clear()
    assert explain(other)["idle_rule"] == "tenant:acme"
    # Unseen in this process: read the record (the tenant is in it), then touch.
    assert first.store.calls == ["check", "check"]
    first.clock.advance(100)
    assert explain(other)["idle_rule"] == "tenant:acme"
    assert first.store.calls == ["check", "check", "check"]  # from now on, one call


def test_tenant_limit_expires_the_session(adapter: str) -> None:
    browser = Browser(adapter, policy="1h", tenants={"acme": "15m"})
    browser.post("/login?tenant=acme")
    browser.clock.advance(901)
    assert browser.get("/page").status == 401
    assert browser.events.of_type("session_expired_inactivity")[0].tenant == "acme"


def test_unknown_tenant_gets_the_default(adapter: str) -> None:
    browser = Browser(adapter, policy="pci-dss", tenants=Tenants({}))
    browser.post("/login?tenant=nobody")
    assert explain(browser)["idle_rule"] == "preset:pci-dss"


def test_resolver_failure_fails_closed_then_serves_stale(adapter: str) -> None:
    state = {"fail": True}

    def tenants(tenant: str) -> Any:
        if state["fail"]:
            raise ConnectionError("database down")
        return "15m"

    browser = Browser(adapter, tenants=tenants, policy_cache_ttl=10)
    browser.post("/login?tenant=acme")  # the resolver failed: no session was created
    assert "idleguard" not in str(browser.cookies)
    state["fail"] = False
    browser.post("/login?tenant=acme")
    assert explain(browser)["idle_timeout"] == 900
    state["fail"] = True
    browser.clock.advance(11)
    assert explain(browser)["idle_timeout"] == 900  # the last answer, while it is down


# -- per user and device -------------------------------------------------------------
def test_user_choice_within_tenant_bounds(adapter: str) -> None:
    tenants = {"acme": TenantPolicy("30m", max_idle_timeout=7200)}
    users = {("acme", "alice"): UserChoice(3600)}
    browser = Browser(adapter, tenants=tenants, users=users)
    browser.post("/login?tenant=acme&user=alice")
    result = explain(browser)
    assert (result["idle_rule"], result["idle_timeout"]) == ("user", 3600)


def test_admin_role_cap_beats_never(adapter: str) -> None:
    bounds = TenantPolicy("disabled", role_max_idle={"admin": 600})
    users = {
        ("acme", "root"): UserChoice("never", roles=["admin"]),
        ("acme", "bob"): UserChoice("never"),
    }
    browser = Browser(adapter, tenants={"acme": bounds}, users=users)
    browser.post("/login?tenant=acme&user=root")
    result = explain(browser)
    assert (result["idle_rule"], result["idle_timeout"]) == ("role:admin", 600)
    browser.post("/login?tenant=acme&user=bob")
    assert explain(browser)["idle_timeout"] is None


def test_mobile_device_gets_its_own_limit(adapter: str) -> None:
    tenants = {"acme": TenantPolicy("30m", max_idle_timeout=7200)}
    browser = Browser(adapter, tenants=tenants, rules=[DeviceRule("mobile", idle_timeout=3600)])
    browser.post("/login?tenant=acme")
    phone = explain(browser, **{"user-agent": IPHONE})
    desktop = explain(browser, **{"user-agent": DESKTOP})
    assert (phone["idle_rule"], phone["idle_timeout"]) == ("device:mobile", 3600)
    assert (desktop["idle_rule"], desktop["idle_timeout"]) == ("tenant:acme", 1800)


# -- runtime changes ------------------------------------------------------------------
def test_runtime_change_applies_from_the_next_request(adapter: str) -> None:
    browser = Browser(adapter, policy="1h")
    browser.post("/login")
    assert explain(browser)["idle_timeout"] == 3600
    event = browser.policies.update("15m", actor="admin@example.com")
    assert explain(browser)["idle_timeout"] == 900
    assert explain(browser)["idle_rule"] == "preset:15m"
    logged = browser.events.of_type("inactivity_timeout_updated")
    assert logged == [event]
    assert event.metadata["actor"] == "admin@example.com"
    assert event.metadata["old"]["idle_timeout"] == 3600
    assert event.metadata["new"]["idle_timeout"] == 900
    browser.clock.advance(901)
    assert browser.get("/page").status == 401


def test_tenant_update_is_immediate_here_and_within_ttl_elsewhere(adapter: str) -> None:
    tenants = Tenants({"acme": "1h"})
    here = Browser(adapter, tenants=tenants, policy_cache_ttl=30)
    here.post("/login?tenant=acme")
    elsewhere = Browser(adapter, tenants=tenants, clock=here.clock, store=here.store)
    elsewhere.cookies = dict(here.cookies)
    assert explain(elsewhere)["idle_timeout"] == 3600
    tenants.table["acme"] = "15m"  # the app saves the change, then tells idleguard
    event = here.policies.update("15m", actor="owner", tenant="acme")
    assert event.tenant == "acme"
    assert event.metadata["old"]["idle_timeout"] == 3600
    assert explain(here)["idle_timeout"] == 900
    assert explain(elsewhere)["idle_timeout"] == 3600  # its cache is still fresh
    here.clock.advance(31)
    assert explain(elsewhere)["idle_timeout"] == 900


def test_user_update_above_the_tenant_maximum_is_refused(adapter: str) -> None:
    browser = Browser(adapter, tenants={"acme": TenantPolicy("30m", max_idle_timeout=3600)})
    browser.post("/login?tenant=acme&user=alice")
    with pytest.raises(PolicyError, match="above the tenant's maximum"):
        browser.policies.update(7200, actor="alice", tenant="acme", subject="alice")
    assert browser.events.of_type("inactivity_timeout_updated") == []
    browser.policies.update(900, actor="alice", tenant="acme", subject="alice")
    result = explain(browser)
    assert (result["idle_rule"], result["idle_timeout"]) == ("user", 900)


def test_explain_log_names_the_rule(adapter: str, caplog: pytest.LogCaptureFixture) -> None:
    browser = Browser(adapter, rules=[PathRule("/admin", idle_timeout=600)], explain_log=True)
    browser.post("/login")
    with caplog.at_level(logging.INFO, logger="idleguard"):
        browser.get("/admin")
    lines = [record.getMessage() for record in caplog.records if "explain" in record.getMessage()]
    assert len(lines) == 1
    assert '"idle_rule":"path:/admin"' in lines[0]
