"""Issue 10 item 5: the operator admin at /admin, and tenant admins managing their own users.

Through the browser and over HTTP against the real app and Postgres: who gets in, that no page
shows a secret (not even encrypted), that every change goes through the repositories with the
signed-in user as the audit actor, and that a tenant admin stays inside their tenant.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from starlette.testclient import TestClient

from synkro.controlplane.tables import integration_configs, tenants, users, web_sessions
from synkro.web.app import create_app
from tests.fixtures.portal import DESKTOP, PHONE, Account, Portal, screenshot, sign_in

RADIST_KEY = "radist-admin-test-key-7731"
TELEGRAM_TOKEN = "123456:telegram-admin-test-token-4242"
ADMIN_LISTS = [
    "/admin/",
    "/admin/tenant/list",
    "/admin/user/list",
    "/admin/user-role/list",
    "/admin/integration-config/list",
    "/admin/job-run/list",
    "/admin/report/list",
    "/admin/audit-entry/list",
]
NEW_PASSWORD = "a-brand-new-password-9"


@contextmanager
def client(portal: Portal, account: Account | None = None) -> Iterator[httpx.Client]:
    """An HTTP client, signed in through the login form when `account` is given."""
    with httpx.Client(base_url=portal.url) as http:
        http.get("/login")
        if account is not None:
            signed = http.post(
                "/login",
                data={"email": account.email, "password": account.password, "csrftoken": token(http)},
                follow_redirects=False,
            )
            assert signed.status_code == 303, signed.text
        yield http


def token(http: httpx.Client) -> str:
    return http.cookies["csrftoken"]


def user_id(portal: Portal, email: str) -> int:
    return portal.cp.users.get(email).id


def tenant_id(portal: Portal, slug: str) -> int:
    return portal.cp.tenants.get(slug).id


def audit_actors(portal: Portal, action: str, tenant: str | None = None) -> list[str]:
    return [e.actor for e in portal.cp.audit.list(tenant=tenant, action=action, limit=500)]


def external_urls(html: str, host: str) -> list[str]:
    """Every src/href/action pointing at another host (our own host and relative URLs are fine)."""
    found = []
    for url in re.findall(r"""(?:src|href|action)\s*=\s*["'](https?:)?//([^"'/]+)""", html):
        if url[1] != host:
            found.append(url[1])
    return found


# -- who gets in --------------------------------------------------------------------------------


def test_super_admin_sees_every_list(portal: Portal, page) -> None:
    slug = portal.tenant("adm")
    viewer = portal.account("viewer", slug)
    boss = portal.account("super_admin")
    sign_in(page, portal, boss, "/admin/")
    expect(page.locator("[data-testid=admin-home]")).to_be_visible()
    page.goto(f"{portal.url}/admin/tenant/list?search={slug}")
    expect(page.locator("table")).to_contain_text(slug)
    screenshot(page, "admin-tenants")
    page.goto(f"{portal.url}/admin/user/list?search={viewer.email}")
    expect(page.locator("table")).to_contain_text(viewer.email)
    expect(page.locator("table")).to_contain_text(f"viewer@{slug}")
    screenshot(page, "admin-users")
    page.goto(f"{portal.url}/admin/audit-entry/list?search={slug}")
    expect(page.locator("table")).to_contain_text("user.grant")
    screenshot(page, "admin-audit")
    for path in ADMIN_LISTS:
        assert page.goto(f"{portal.url}{path}").status == 200, path
    # English on request, remembered from page to page (sqladmin's own words too).
    page.goto(f"{portal.url}/admin/tenant/list?lang=en")
    page.goto(f"{portal.url}/admin/user/list")
    expect(page.locator(".navbar-vertical")).to_contain_text("Companies")
    expect(page.locator(".card-footer")).to_contain_text("Showing")
    screenshot(page, "admin-users-en")
    page.goto(f"{portal.url}/admin/user/list?lang=ru")
    page.goto(f"{portal.url}/admin/user/details/{user_id(portal, viewer.email)}")
    expect(page.locator("[data-testid=grant]")).to_contain_text(slug)
    screenshot(page, "admin-user-details")
    page.set_viewport_size(PHONE)
    page.goto(f"{portal.url}/admin/tenant/list")
    screenshot(page, "admin-tenants-phone")
    page.goto(f"{portal.url}/admin/user/details/{user_id(portal, viewer.email)}")
    screenshot(page, "admin-user-details-phone")
    page.set_viewport_size(DESKTOP)


def test_admin_pages_work_under_the_csp_with_local_statics_only(portal: Portal, page) -> None:
    boss = portal.account("super_admin")
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    sign_in(page, portal, boss, "/admin/")
    host = urlsplit(portal.url).netloc
    for path in [*ADMIN_LISTS, "/admin/tenant/new", "/admin/user/new", "/admin/integration-config/secret"]:
        response = page.goto(f"{portal.url}{path}")
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        html = page.content()
        assert external_urls(html, host) == [], path
        assert "<style" not in html and " style=" not in html, path
    # The bundled Tabler/Bootstrap JS runs: the phone menu opens from its toggler.
    page.set_viewport_size(PHONE)
    page.goto(f"{portal.url}/admin/tenant/list")
    expect(page.locator("#navbarSupportedContent")).not_to_be_visible()
    page.click(".navbar-toggler")
    expect(page.locator("#navbarSupportedContent")).to_be_visible()
    page.set_viewport_size(DESKTOP)
    assert problems == []


@pytest.mark.parametrize("role", ["admin", "viewer", "manager"])
def test_everyone_but_super_admin_is_refused(portal: Portal, role: str) -> None:
    slug = portal.tenant("adm")
    someone = portal.account(role, slug, amocrm_user_id=7 if role == "manager" else None)
    victim = portal.account("viewer", slug)
    paths = [
        *ADMIN_LISTS,
        f"/admin/tenant/details/{tenant_id(portal, slug)}",
        f"/admin/user/details/{user_id(portal, victim.email)}",
        "/admin/tenant/new",
        "/admin/user/new",
        "/admin/integration-config/secret",
        "/admin/tenant/create",
    ]
    with client(portal, someone) as http:
        for path in paths:
            assert http.get(path).status_code == 403, path
        refused = http.post(
            f"/admin/user/password/{user_id(portal, victim.email)}",
            data={"password": NEW_PASSWORD, "csrftoken": token(http)},
        )
        assert refused.status_code == 403
        refused = http.post(
            f"/admin/tenant/status/{tenant_id(portal, slug)}",
            data={"status": "disabled", "csrftoken": token(http)},
        )
        assert refused.status_code == 403
    assert portal.cp.accounts.verify(victim.email, victim.password) is not None
    assert portal.cp.tenants.get(slug).status == "active"


def test_not_signed_in_goes_to_the_portal_login(portal: Portal) -> None:
    with client(portal) as http:
        for path in ["/admin/", "/admin/user/list", "/admin/tenant/new"]:
            response = http.get(path, follow_redirects=False)
            assert response.status_code == 303, path
            assert response.headers["location"] == f"/login?next={path}"
        # sqladmin's own login page is ours; its GET logout does not sign anyone out.
        response = http.get("/admin/login", follow_redirects=False)
        assert response.headers["location"] == "/login?next=/admin"


def test_sign_in_from_admin_returns_to_admin(portal: Portal, page) -> None:
    boss = portal.account("super_admin")
    page.goto(f"{portal.url}/admin/user/list")
    assert "/login" in page.url
    page.fill("input[name=email]", boss.email)
    page.fill("input[name=password]", boss.password)
    page.click("[data-testid=login-submit]")
    page.wait_for_url(f"{portal.url}/admin/user/list")
    page.click("[data-testid=logout]")  # a POST with the CSRF token
    page.wait_for_url(f"{portal.url}/login")
    page.goto(f"{portal.url}/admin/")
    assert "/login" in page.url


# -- nothing secret -----------------------------------------------------------------------------


def test_no_admin_page_shows_a_secret(portal: Portal) -> None:
    slug = portal.tenant("sec")
    portal.cp.configs.set_config(slug, "radist", {"api_key": RADIST_KEY}, actor="tests")
    portal.cp.configs.set_config(
        slug, "telegram", {"bot_token": TELEGRAM_TOKEN, "chat_id": "-100123"}, actor="tests"
    )
    portal.cp.configs.set_config_status(slug, "radist", "error", error=f"HTTP 401 for key {RADIST_KEY}")
    boss = portal.account("super_admin")
    viewer = portal.account("viewer", slug)
    with portal.cp.engine.connect() as conn:
        blobs = conn.execute(
            select(integration_configs.c.id, integration_configs.c.secrets_encrypted)
            .join(tenants, tenants.c.id == integration_configs.c.tenant_id)
            .where(tenants.c.slug == slug)
        ).all()
        hashes = (
            conn.execute(select(users.c.password_hash).where(users.c.password_hash.is_not(None)))
            .scalars()
            .all()
        )
    forbidden = [RADIST_KEY, TELEGRAM_TOKEN, *[b.secrets_encrypted for b in blobs], *hashes]
    # Fragments too: a blob or hash cut to fit a cell is still a leak.
    forbidden += [value[10:40] for value in forbidden if len(value) > 40]
    with client(portal, viewer):
        pass  # leaves a session row whose token hash must not show either
    with portal.cp.engine.connect() as conn:
        forbidden += conn.execute(select(web_sessions.c.token_hash)).scalars().all()
    with client(portal, boss) as http:
        pages = (
            ADMIN_LISTS
            + [f"/admin/integration-config/details/{b.id}" for b in blobs]
            + [
                f"/admin/tenant/details/{tenant_id(portal, slug)}",
                f"/admin/user/details/{user_id(portal, viewer.email)}",
                f"/admin/user/details/{user_id(portal, boss.email)}",
                "/admin/integration-config/secret",
                "/admin/audit-entry/list?pageSize=100",
            ]
        )
        pages += [f"/admin/audit-entry/details/{e.id}" for e in portal.cp.audit.list(tenant=slug)]
        for path in pages:
            response = http.get(path)
            assert response.status_code == 200, path
            for value in forbidden:
                assert value not in response.text, (path, value[:12])
        # The masks stand where the secrets would (on the details pages: in a long session the
        # list's first page holds other tests' configs).
        details = "".join(http.get(f"/admin/integration-config/details/{b.id}").text for b in blobs)
        assert "••••7731" in details and "••••4242" in details
        # The last check's error is shown with the config's own secret masked out of it.
        radist_id = next(
            b.id for b in blobs if "radist" in http.get(f"/admin/integration-config/details/{b.id}").text
        )
        assert "HTTP 401 for key ••••7731" in http.get(f"/admin/integration-config/details/{radist_id}").text
        # Nor through sqladmin's file routes, which would read any column by name.
        for path in [
            f"/admin/user/{user_id(portal, viewer.email)}/password_hash/download/",
            f"/admin/integration-config/{blobs[0].id}/secrets_encrypted/preview/",
        ]:
            response = http.get(path)
            assert response.status_code == 404, path
            assert all(value not in response.text for value in forbidden)
        # Sorting or searching by the encrypted column is not offered either.
        assert http.get("/admin/integration-config/list?sortBy=secrets_encrypted").status_code == 400
        listing = http.get("/admin/integration-config/list").text
        assert "secrets_encrypted" not in listing and "password_hash" not in http.get("/admin/user/list").text


# -- writes: repositories, CSRF, actor ----------------------------------------------------------


def test_admin_changes_go_through_the_repositories_with_the_actor(portal: Portal, page) -> None:
    boss = portal.account("super_admin")
    slug = f"new{portal.tenant('tmp')[3:]}"
    sign_in(page, portal, boss, "/admin/tenant/new")
    page.fill("input[name=slug]", "Bad Slug")
    page.fill("input[name=name]", "Bad")
    page.click("[data-testid=save]")
    expect(page.locator("[data-testid=admin-error]")).to_contain_text("invalid tenant slug")
    page.fill("input[name=slug]", slug)
    page.fill("input[name=name]", "Admin-made company")
    page.click("[data-testid=save]")
    expect(page.locator("[data-testid=admin-done]")).to_be_visible()
    assert portal.cp.tenants.get(slug).name == "Admin-made company"
    page.select_option("select[name=status]", "paused")
    page.click("[data-testid=tenant-status-save]")
    expect(page.locator("[data-testid=admin-done]")).to_be_visible()
    assert portal.cp.tenants.get(slug).status == "paused"
    screenshot(page, "admin-tenant-details")

    email = f"made-{slug}@portal.test"
    page.goto(f"{portal.url}/admin/user/new")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", NEW_PASSWORD)
    page.click("[data-testid=save]")
    expect(page.locator("[data-testid=admin-done]")).to_be_visible()
    page.select_option("select[name=role]", "manager")
    page.select_option("select[name=tenant]", slug)
    page.fill("input[name=amocrm_user_id]", "4242")
    page.click("[data-testid=grant-save]")
    expect(page.locator("[data-testid=grant]")).to_contain_text("4242")
    page.click("[data-testid=revoke]")
    expect(page.locator("[data-testid=grant]")).to_have_count(0)
    assert portal.cp.accounts.verify(email, NEW_PASSWORD) is not None

    page.goto(f"{portal.url}/admin/integration-config/secret?tenant={slug}")
    page.select_option("select[name=tenant]", slug)
    page.select_option("select[name=field]", "radist:api_key")
    assert page.get_attribute("input[name=value]", "type") == "password"
    page.fill("input[name=value]", RADIST_KEY)
    page.click("[data-testid=secret-save]")
    expect(page.locator("[data-testid=admin-done]")).to_be_visible()
    assert "••••7731" in page.content() and RADIST_KEY not in page.content()
    assert page.input_value("input[name=value]") == ""  # write-only: never filled back in
    screenshot(page, "admin-config-details")
    assert portal.cp.configs.get_config(slug, "radist").api_key.get_secret_value() == RADIST_KEY

    for action, tenant in [
        ("tenant.create", slug),
        ("tenant.set_status", slug),
        ("user.add", None),
        ("user.password", None),
        ("user.grant", slug),
        ("user.revoke", slug),
        ("config.set", slug),
    ]:
        assert boss.email in audit_actors(portal, action, tenant), action


def test_admin_post_without_csrf_token_is_refused(portal: Portal) -> None:
    slug = portal.tenant("csrf")
    boss = portal.account("super_admin")
    victim = portal.account("viewer", slug)
    with client(portal, boss) as http:
        for path, form in [
            (f"/admin/tenant/status/{tenant_id(portal, slug)}", {"status": "disabled"}),
            (f"/admin/user/password/{user_id(portal, victim.email)}", {"password": NEW_PASSWORD}),
            (
                "/admin/integration-config/secret",
                {"tenant": slug, "field": "radist:api_key", "value": "x" * 20},
            ),
            ("/admin/tenant/new", {"slug": f"{slug}x", "name": "X"}),
        ]:
            refused = http.post(path, data=form)
            assert refused.status_code == 403, path
            assert "token" in refused.text
        # sqladmin's delete (a DELETE from its JS) is refused too: no token, and deleting is off.
        assert http.delete(f"/admin/tenant/delete?pks={tenant_id(portal, slug)}").status_code == 403
        assert (
            http.delete(
                f"/admin/tenant/delete?pks={tenant_id(portal, slug)}", headers={"x-csrftoken": token(http)}
            ).status_code
            == 403
        )
        assert (
            http.post(
                f"/admin/tenant/edit/{tenant_id(portal, slug)}",
                data={"name": "Renamed", "csrftoken": token(http)},
            ).status_code
            == 403
        )
    assert portal.cp.tenants.get(slug).status == "active"
    assert portal.cp.tenants.get(slug).name == f"Company {slug}"
    assert portal.cp.accounts.verify(victim.email, victim.password) is not None
    assert portal.cp.configs.find_record(slug, "radist") is None


def test_password_reset_by_the_operator_ends_old_sessions(portal: Portal, page) -> None:
    slug = portal.tenant("pw")
    boss = portal.account("super_admin")
    victim = portal.account("viewer", slug)
    with client(portal, victim) as theirs:
        assert theirs.get(f"/t/{slug}").status_code == 200
        sign_in(page, portal, boss, f"/admin/user/details/{user_id(portal, victim.email)}")
        page.fill("input[name=password]", "short")
        page.evaluate("document.querySelector('input[name=password]').removeAttribute('minlength')")
        page.click("[data-testid=password-save]")
        expect(page.locator("[data-testid=admin-error]")).to_contain_text("password too short")
        page.go_back()
        page.fill("input[name=password]", NEW_PASSWORD)
        page.click("[data-testid=password-save]")
        expect(page.locator("[data-testid=admin-done]")).to_be_visible()
        assert NEW_PASSWORD not in page.content()
        old_session = theirs.get(f"/t/{slug}", follow_redirects=False)
        assert old_session.status_code == 303 and old_session.headers["location"].startswith("/login")
    assert portal.cp.accounts.verify(victim.email, victim.password) is None
    assert portal.cp.accounts.verify(victim.email, NEW_PASSWORD) is not None
    with client(portal, replace(victim, password=NEW_PASSWORD)) as again:
        assert again.get(f"/t/{slug}").status_code == 200
    entry = portal.cp.audit.list(action="user.password", limit=20)
    assert any(e.actor == boss.email and e.details.get("email") == victim.email for e in entry)


def test_dagster_ui_link_only_when_configured(portal: Portal) -> None:
    boss = portal.account("super_admin")
    with_link = create_app(portal.cp, replace(portal.config, dagster_ui_url="http://127.0.0.1:3999"))
    without = create_app(portal.cp, replace(portal.config, dagster_ui_url=None))
    for app, shown in [(with_link, True), (without, False)]:
        with TestClient(app, base_url="http://127.0.0.1") as http:
            http.get("/login")
            http.post(
                "/login",
                data={"email": boss.email, "password": boss.password, "csrftoken": http.cookies["csrftoken"]},
            )
            html = http.get("/admin/").text
            assert ('data-testid="dagster-ui-link"' in html) is shown
            assert ('href="http://127.0.0.1:3999"' in html) is shown


# -- the tenant users page ----------------------------------------------------------------------


def test_tenant_admin_manages_their_users(portal: Portal, page, browser) -> None:
    slug = portal.tenant("usr")
    admin = portal.account("admin", slug)
    sign_in(page, portal, admin, f"/t/{slug}")
    page.click("[data-testid=nav-users]")
    page.wait_for_url(f"{portal.url}/t/{slug}/users")
    expect(page.locator("[data-testid=user-row]")).to_have_count(1)  # only the admin so far

    email = f"new-{slug}@portal.test"
    page.fill("#add-email", email)
    page.select_option("#add-role", "manager")
    page.fill("#add-password", "initial-password-1")
    page.click("[data-testid=user-add]")
    expect(page.locator("[data-testid=field-error][data-field=amocrm_user_id]")).to_be_visible()
    assert page.input_value("#add-password") == ""  # never echoed back
    page.fill("#add-amocrm", "5150")
    page.fill("#add-password", "initial-password-1")
    page.click("[data-testid=user-add]")
    expect(page.locator("[data-testid=users-notice]")).to_be_visible()
    row = page.locator(f"[data-testid=user-row][data-email='{email}']")
    expect(row.locator("[data-testid=user-role]")).to_have_attribute("data-role", "manager")
    expect(row).to_contain_text("5150")
    assert portal.cp.accounts.verify(email, "initial-password-1") is not None
    screenshot(page, "users")

    # They sign in on their own browser.
    theirs = browser.new_context()
    their_page = theirs.new_page()
    sign_in(their_page, portal, Account(email, "initial-password-1", "manager", slug), f"/t/{slug}")

    row.locator("summary", has_text="Изменить роль").click()
    row.locator("select[name=role]").select_option("viewer")
    row.locator("[data-testid=user-role-save]").click()
    expect(row.locator("[data-testid=user-role]")).to_have_attribute("data-role", "viewer")
    grants = portal.cp.users.get(email).grants_in(slug)
    assert [(g.role, g.amocrm_user_id) for g in grants] == [("viewer", None)]

    row.locator("summary", has_text="Задать новый пароль").click()
    row.locator("input[name=password]").fill(NEW_PASSWORD)
    row.locator("[data-testid=user-password-save]").click()
    expect(page.locator("[data-testid=users-notice]")).to_be_visible()
    assert portal.cp.accounts.verify(email, "initial-password-1") is None
    assert portal.cp.accounts.verify(email, NEW_PASSWORD) is not None
    their_page.goto(f"{portal.url}/t/{slug}")
    assert "/login" in their_page.url  # the reset ended their session
    theirs.close()

    page.set_viewport_size(PHONE)
    row.locator("summary", has_text="Изменить роль").click()
    screenshot(page, "users-phone")
    page.set_viewport_size(DESKTOP)
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    row.locator("[data-testid=user-remove]").click()  # asked first; "no" keeps them
    assert asked and email in asked[0]
    expect(page.locator(f"[data-testid=user-row][data-email='{email}']")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("[data-testid=user-remove]").click()
    expect(page.locator(f"[data-testid=user-row][data-email='{email}']")).to_have_count(0)
    assert portal.cp.users.get(email).grants_in(slug) == []

    for action in ("user.add", "user.grant", "user.revoke"):
        assert admin.email in audit_actors(portal, action, slug if action != "user.add" else None), action
    assert admin.email in audit_actors(portal, "user.password")


def test_tenant_admin_stays_inside_their_tenant(portal: Portal) -> None:
    slug, other = portal.tenant("usr"), portal.tenant("oth")
    admin = portal.account("admin", slug)
    stranger = portal.account("viewer", other)
    shared = portal.account("viewer", slug)
    portal.cp.users.grant(shared.email, "viewer", other, actor="tests")
    boss = portal.account("super_admin")
    portal.cp.users.grant(boss.email, "viewer", slug, actor="tests")
    with client(portal, admin) as http:
        listing = http.get(f"/t/{slug}/users").text
        assert shared.email in listing and stranger.email not in listing
        assert f"viewer@{other}" not in listing and other not in listing  # no other tenant's grants
        # Another tenant's page and actions: 404, as if it did not exist.
        assert http.get(f"/t/{other}/users").status_code == 404
        csrf = {"csrftoken": token(http)}
        assert (
            http.post(f"/t/{other}/users", data={"email": "x@y.zz", "role": "viewer", **csrf}).status_code
            == 404
        )
        # A user of another tenant, addressed through this tenant's URLs: 404 too.
        for action, form in [
            ("role", {"role": "admin"}),
            ("remove", {}),
            ("password", {"password": NEW_PASSWORD}),
        ]:
            response = http.post(
                f"/t/{slug}/users/{user_id(portal, stranger.email)}/{action}", data=form | csrf
            )
            assert response.status_code == 404, action
        # super_admin (or any role outside admin/viewer/manager) is refused, and nothing is granted.
        refused = http.post(
            f"/t/{slug}/users",
            data={"email": f"sa-{slug}@portal.test", "role": "super_admin", "password": NEW_PASSWORD, **csrf},
        )
        assert refused.status_code == 400
        assert 'data-field="role"' in refused.text
        refused = http.post(
            f"/t/{slug}/users/{user_id(portal, shared.email)}/role", data={"role": "super_admin", **csrf}
        )
        assert refused.status_code == 400
        assert not portal.cp.users.get(shared.email).is_super_admin
        assert not any(u.email == f"sa-{slug}@portal.test" for u in portal.cp.users.list())
        # An account that reaches other companies (or is an operator) keeps its password.
        for target in (shared, boss):
            response = http.post(
                f"/t/{slug}/users/{user_id(portal, target.email)}/password",
                data={"password": NEW_PASSWORD, **csrf},
            )
            assert response.status_code == 403
            assert portal.cp.accounts.verify(target.email, target.password) is not None
        # Removing them from this tenant leaves their other tenant alone.
        assert (
            http.post(
                f"/t/{slug}/users/{user_id(portal, shared.email)}/remove", data=csrf, follow_redirects=False
            ).status_code
            == 303
        )
        assert [g.tenant for g in portal.cp.users.get(shared.email).roles] == [other]
        # Their own grant stays: no locking oneself out.
        assert (
            http.post(f"/t/{slug}/users/{user_id(portal, admin.email)}/remove", data=csrf).status_code == 409
        )
        # No token, no change.
        assert http.post(f"/t/{slug}/users/{user_id(portal, boss.email)}/remove", data={}).status_code == 403
    assert portal.cp.users.get(boss.email).grants_in(slug)


def test_viewer_and_manager_cannot_manage_users(portal: Portal) -> None:
    slug = portal.tenant("usr")
    viewer = portal.account("viewer", slug)
    manager = portal.account("manager", slug, amocrm_user_id=11)
    for someone in (viewer, manager):
        with client(portal, someone) as http:
            assert http.get(f"/t/{slug}/users").status_code == 403
            response = http.post(
                f"/t/{slug}/users",
                data={
                    "email": f"x-{slug}@portal.test",
                    "role": "admin",
                    "password": NEW_PASSWORD,
                    "csrftoken": token(http),
                },
            )
            assert response.status_code == 403
            assert 'data-testid="nav-users"' not in http.get(f"/t/{slug}").text
    assert not any(u.email == f"x-{slug}@portal.test" for u in portal.cp.users.list())
