"""The multi-tenant example, served for real by uvicorn: per-tenant policies changed at runtime."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from examples.multi_tenant import create_app, tenant_of
from idleguard import Policy
from idleguard.testing import SettableClock
from tests.examples.servers import serve_asgi

HTML = {"accept": "text/html"}
NewClient = Callable[[], httpx.Client]


@pytest.fixture
def new_client(clock: SettableClock) -> Iterator[NewClient]:
    app = create_app(
        clock=clock,
        https_only=False,
        policy=Policy(idle_timeout=900, absolute_timeout=3600, warn_before=60),
    )
    clients: list[httpx.Client] = []
    with serve_asgi(app) as base_url:

        def make() -> httpx.Client:
            clients.append(httpx.Client(base_url=base_url))
            return clients[-1]

        yield make
        for client in clients:
            client.close()


def sign_in(client: httpx.Client, tenant: str | None, user: str) -> None:
    path = f"/t/{tenant}/login" if tenant else "/admin/login"
    response = client.post(path, data={"username": user, "password": "demo"})
    assert response.status_code == 303


def test_walk_through(new_client: NewClient, clock: SettableClock) -> None:
    ann, bob, admin = new_client(), new_client(), new_client()
    assert "Sign in to acme" in ann.get("/t/acme/login").text
    sign_in(ann, "acme", "ann")
    sign_in(bob, "globex", "bob")
    sign_in(admin, None, "admin")
    assert "acme: hello, ann" in ann.get("/t/acme/").text
    assert ann.get("/t/acme/api/me").json()["idle_remaining"] == 900
    # ann's session is worth nothing at another tenant.
    assert ann.get("/t/globex/api/me").status_code == 401

    assert (
        admin.post(
            "/admin/acme",
            data={"idle_timeout": "300", "absolute_timeout": "3600", "warn_before": "30"},
        ).headers["location"]
        == "/admin"
    )
    assert ann.get("/t/acme/api/me").json()["idle_remaining"] == 300
    for _ in range(2):  # the passive poll never extends
        clock.advance(140)
        assert ann.get("/t/acme/api/notifications").status_code == 200
    clock.advance(20)  # 300 s since ann's last activity: acme's new limit
    assert ann.get("/t/acme/api/me").json()["error"] == "session_expired"
    assert bob.get("/t/globex/api/me").json()["user"] == "bob"  # globex keeps 900 s

    log = admin.get("/admin").text
    assert "inactivity_timeout_updated" in log
    assert "session_expired_inactivity" in log
    assert bob.post("/t/globex/logout").status_code == 303
    assert bob.get("/t/globex/api/me").status_code == 401
    assert "session_ended" in admin.get("/admin").text


def test_an_expired_browser_goes_to_its_tenants_sign_in(
    new_client: NewClient, clock: SettableClock
) -> None:
    ann = new_client()
    sign_in(ann, "globex", "ann")
    clock.advance(900)
    response = ann.get("/t/globex/", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == "/t/globex/login?reason=idle"


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        pytest.param({"idle_timeout": "abc"}, 400, "is not a duration", id="not-a-duration"),
        pytest.param({"idle_timeout": "15 minutes"}, 400, "is not a duration", id="words"),
        pytest.param(
            {"idle_timeout": "600", "absolute_timeout": "300"}, 400, "longer than", id="idle>abs"
        ),
        pytest.param({"idle_timeout": "0"}, 400, "end every session", id="zero"),
    ],
)
def test_a_bad_policy_is_refused(
    new_client: NewClient, form: dict[str, str], status: int, message: str
) -> None:
    admin = new_client()
    sign_in(admin, None, "admin")
    full_form = {"idle_timeout": "900", "absolute_timeout": "3600", "warn_before": "30", **form}
    response = admin.post("/admin/acme", data=full_form)
    assert response.status_code == status
    assert message in response.text
    assert "value='900'" in response.text  # the old policy still stands


def test_only_the_admin_changes_policies(new_client: NewClient) -> None:
    ann = new_client()
    assert ann.get("/admin").status_code == 403
    sign_in(ann, "acme", "ann")
    assert ann.post("/admin/acme", data={"idle_timeout": "60"}).status_code == 403
    for tenant, user in (("acme", "admin"), (None, "ann")):
        response = ann.post(
            f"/t/{tenant}/login" if tenant else "/admin/login",
            data={"username": user, "password": "demo"},
        )
        assert response.status_code == 401


@pytest.mark.parametrize(
    ("path", "tenant"),
    [
        pytest.param("/t/acme/api/me", "acme", id="tenant"),
        pytest.param("/t/", None, id="empty"),
        pytest.param("/admin", None, id="outside"),
    ],
)
def test_tenant_of(path: str, tenant: str | None) -> None:
    assert tenant_of(path) == tenant
