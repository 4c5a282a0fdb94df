"""Issue 10: tenant isolation and secrets, over every route the portal has (read from the app itself).

New routes are covered without touching this file: the probes walk `app.routes`.
- a viewer of tenant A probing every `/t/{slug}/…` route of tenant B (GET and POST, with a valid
  CSRF token so the request reaches the route) gets 404, the same as for a tenant that does not exist;
- nobody signed in: pages redirect to the login form, POSTs answer 401;
- with every integration of a tenant configured with known secrets, no page an admin or an operator
  can open (every GET route, with real ids) contains a secret, in clear or encrypted.
"""

from __future__ import annotations

import re
from contextlib import closing
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.routing import APIRoute

from tests.fixtures.portal import Account, Portal

SECRETS = {
    "supabase": {
        "url": "https://abcdefghijklmnopqrst.supabase.co",
        "service_role_key": "sb-secret-service-7781",
    },
    "amocrm": {
        "subdomain": "isolated",
        "client_id": "2f1a7c55-0000-4000-8000-000000000001",
        "client_secret": "amo-client-secret-5521",
        "access_token": "amo-access-token-9931",
        "refresh_token": "amo-refresh-token-3347",
        "redirect_uri": "https://synkro.example/oauth/amocrm/callback",
    },
    "radist": {"api_key": "radist-api-key-4410", "company_id": 7},
    "gemini": {"api_key": "AIzaGeminiKeyForIsolation0921", "model": "gemini-3.5-flash-lite"},
    "telegram": {"bot_token": "123456789:AAIsolationBotTokenSecret_x1", "chat_id": -1001234567890},
}
SECRET_FIELDS = {"service_role_key", "client_secret", "access_token", "refresh_token", "api_key", "bot_token"}


def _routes(routes) -> list:
    """Every route, through included routers (FastAPI wraps each in an object of its own)."""
    found = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        found += _routes(inner.routes) if inner is not None else [route]
    return found


def _tenant_routes(portal: Portal) -> list[APIRoute]:
    return [
        r for r in _routes(portal.app.routes) if isinstance(r, APIRoute) and r.path.startswith("/t/{slug}")
    ]


def _fill(path: str, slug: str, ids: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1).split(":")[0]
        return slug if name == "slug" else ids.get(name, "1")

    return re.sub(r"{([^}]+)}", value, path)


def _client(portal: Portal, account: Account | None) -> httpx.Client:
    http = httpx.Client(base_url=portal.url, follow_redirects=False, timeout=30)
    http.get("/login")
    if account is not None:
        signed = http.post(
            "/login",
            data={
                "email": account.email,
                "password": account.password,
                "csrftoken": http.cookies["csrftoken"],
            },
        )
        assert signed.status_code == 303, signed.text
    return http


@pytest.fixture(scope="module")
def two_tenants(portal: Portal) -> tuple[str, str]:
    return portal.tenant("isoa"), portal.tenant("isob")


def test_every_tenant_route_of_another_tenant_answers_404(portal: Portal, two_tenants) -> None:
    mine, theirs = two_tenants
    viewer = portal.account("viewer", mine)
    routes = _tenant_routes(portal)
    assert len(routes) >= 5, [r.path for r in routes]
    with closing(_client(portal, viewer)) as http:
        token = http.cookies["csrftoken"]
        for slug in (theirs, "nosuchtenant"):
            for route in routes:
                path = _fill(route.path, slug, {"kind": "amocrm"})
                for method in sorted(route.methods - {"HEAD"}):
                    if method == "GET":
                        answer = http.get(path)
                    else:
                        answer = http.request(method, path, data={"csrftoken": token})
                    assert answer.status_code == 404, (method, path, answer.status_code)


def test_signed_out_pages_redirect_to_login_and_posts_are_refused(portal: Portal, two_tenants) -> None:
    mine, _ = two_tenants
    with closing(_client(portal, None)) as http:
        token = http.cookies["csrftoken"]
        for route in _tenant_routes(portal):
            path = _fill(route.path, mine, {"kind": "amocrm"})
            for method in sorted(route.methods - {"HEAD"}):
                if method == "GET":
                    answer = http.get(path)
                    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
                else:
                    answer = http.request(method, path, data={"csrftoken": token})
                    assert answer.status_code == 401, (method, path, answer.status_code)


def _configured_tenant(portal: Portal) -> tuple[str, dict[str, str]]:
    cp = portal.cp
    slug = portal.tenant("secret")
    for kind, document in SECRETS.items():
        cp.configs.set_config(slug, kind, document, actor="tests")
    now = datetime.now(UTC).replace(microsecond=0)
    run = cp.jobs.create_run(
        slug,
        "forced_report",
        "manual",
        f"isolation-{slug}",
        window_start=now - timedelta(days=1),
        window_end=now,
    )
    cp.jobs.finish_run(run.id, status="failed", error="stopped by the isolation test")
    report = cp.reports.create_draft(
        slug,
        "daily",
        now - timedelta(days=1),
        now,
        job_run_id=run.id,
        body="<!doctype html><html><head><title>r</title></head><body><p>report</p></body></html>",
    )
    ids = {"run_id": str(run.id), "report_id": str(report.id), "id": str(run.id)}
    return slug, ids | {"manager": "unassigned"}  # the unassigned row's page exists without data


def test_no_page_shows_a_stored_secret(portal: Portal) -> None:
    slug, ids = _configured_tenant(portal)
    secrets = [v for doc in SECRETS.values() for k, v in doc.items() if k in SECRET_FIELDS]
    with portal.cp.engine.connect() as conn:
        encrypted = [
            row[0]
            for row in conn.exec_driver_sql(
                "select secrets_encrypted from synkro.integration_configs c join synkro.tenants t "
                "on t.id = c.tenant_id where t.slug = %(slug)s",
                {"slug": slug},
            )
        ]
    assert len(encrypted) == len(SECRETS)
    admin = portal.account("admin", slug)
    operator = portal.account("super_admin")
    pages = ["/", "/account"] + [
        _fill(r.path, slug, ids)
        for r in _tenant_routes(portal)
        if "GET" in r.methods and "{kind}" not in r.path
    ]
    pages += [f"/t/{slug}/settings/{kind}" for kind in SECRETS]
    pages += [
        p for p in ("/admin",) if any(getattr(r, "path", "").startswith("/admin") for r in portal.app.routes)
    ]
    for account in (admin, operator):
        with closing(_client(portal, account)) as http:
            for path in pages:
                answer = http.get(path, follow_redirects=True)
                expected = 403 if path.startswith("/admin") and account is admin else 200
                assert answer.status_code == expected, (account.role, path, answer.status_code)
                body = answer.text
                for secret in secrets + encrypted:
                    assert secret not in body, (account.role, path, secret[-4:])
