"""Issue 10, the settings wizard: every step saved (a bad value first), checked live against the
sandbox, a failing check, the runtime settings, roles and tenants — in Chromium against the real app
and Postgres. No stored secret may appear in any page's HTML, before or after a save or a check."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from sandbox import supabase as supabase_emu
from sandbox.server import SandboxServer
from synkro.db import connect
from tests.analysis_marts import Dialog, create_marts
from tests.fixtures.portal import DESKTOP, PHONE, Account, Portal, screenshot, sign_in

pytestmark = pytest.mark.usefixtures("sandbox")


def stored_secrets(portal: Portal, slug: str) -> set[str]:
    """Every secret the tenant has stored, in plaintext: none of them may reach a page."""
    found: set[str] = set()
    for record in portal.cp.configs.list_records(slug):
        found.update(v for v in record.config.secret_dict().values() if len(v) >= 6)
    return found


def assert_no_secrets(page: Page, portal: Portal, slug: str, typed: tuple[str, ...] = ()) -> None:
    html = page.content()
    for secret in stored_secrets(portal, slug) | set(typed):
        assert secret not in html, f"a secret ({secret[:3]}…) is in the HTML of {page.url}"


def shots(page: Page, name: str) -> None:
    """Desktop and phone screenshots of the page as it is now."""
    screenshot(page, f"{name}-desktop")
    page.set_viewport_size(PHONE)
    screenshot(page, f"{name}-phone")
    page.set_viewport_size(DESKTOP)


def save(page: Page) -> None:
    page.click("[data-testid=save]")
    page.wait_for_load_state()


def check(page: Page, testid: str = "check") -> None:
    """Press Check and wait until the streamed result is complete (the summary comes last)."""
    page.click(f"[data-testid={testid}]")
    expect(page.locator("[data-testid=check-summary]")).to_be_visible(timeout=60_000)


def results(page: Page) -> dict[str, str]:
    lines = page.locator("[data-testid=check-result]")
    return {
        lines.nth(i).locator(".check-name").inner_text(): lines.nth(i).get_attribute("data-status")
        for i in range(lines.count())
    }


def field_error(page: Page, name: str):
    return page.locator(f"[data-testid=field-error][data-field={name}]")


def private_chat(sandbox: SandboxServer) -> int:
    chat_id = random.randint(720_000_000, 729_999_999)
    payload = {"chat_id": chat_id, "type": "private", "first_name": "Owner", "started": True}
    httpx.post(f"{sandbox.urls.control}/telegram/chats", json=payload).raise_for_status()
    return chat_id


def telegram_messages(sandbox: SandboxServer, chat_id: int) -> list[dict]:
    response = httpx.get(f"{sandbox.urls.control}/telegram/messages", params={"chat_id": chat_id})
    return response.json()["messages"]


def recent_dialogs(now: datetime) -> list[Dialog]:
    return [
        Dialog(
            dialog_id=900 + i,
            manager_name=f"Менеджер {i}",
            lead_id=None,
            messages=[
                (now - timedelta(hours=h, minutes=20), "inbound", "Здравствуйте, сколько стоит диван?"),
                (now - timedelta(hours=h, minutes=10), "outbound", "Добрый день! 45 000 ₽, доставка завтра."),
                (now - timedelta(hours=h), "inbound", "Подумаю, спасибо."),
            ],
        )
        for i, h in enumerate((1, 3, 6, 40))
    ]


@pytest.fixture
def tenant_admin(portal: Portal) -> tuple[str, Account]:
    slug = portal.tenant("wiz")
    return slug, portal.account("admin", slug)


def test_the_whole_wizard_as_an_admin(
    portal: Portal, sandbox: SandboxServer, page: Page, tenant_admin: tuple[str, Account]
) -> None:
    slug, admin = tenant_admin
    info = sandbox.info()
    base = f"{portal.url}/t/{slug}/settings"
    sign_in(page, portal, admin, f"/t/{slug}/settings/supabase")

    # The strip: the five steps in the seed's order, then the runtime settings; nothing configured.
    steps = page.locator("[data-testid=wizard-step]")
    kinds = [steps.nth(i).get_attribute("data-kind") for i in range(steps.count())]
    assert kinds == ["supabase", "amocrm", "radist", "gemini", "telegram", "runtime"]  # runtime: a link after
    assert {steps.nth(i).get_attribute("data-status") for i in range(5)} == {"none"}
    expect(page.locator("[data-testid=check]")).to_be_disabled()

    # -- Supabase: a bad URL is refused next to the field and nothing is saved --------------------
    page.fill("input[name=url]", "not a url")
    page.fill("input[name=service_role_key]", supabase_emu.SECRET_KEY)
    save(page)
    expect(field_error(page, "url")).to_be_visible()
    expect(page.locator("input[name=url]")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("input[name=url]")).to_have_value("not a url")  # typed public value kept
    expect(page.locator("input[name=service_role_key]")).to_have_value("")  # a secret is never echoed
    assert portal.cp.configs.find_record(slug, "supabase") is None
    assert_no_secrets(page, portal, slug, typed=(supabase_emu.SECRET_KEY,))
    shots(page, "settings-supabase-error")

    page.fill("input[name=url]", sandbox.urls.supabase)
    page.fill("input[name=anon_key]", supabase_emu.PUBLISHABLE_KEY)
    page.fill("input[name=service_role_key]", supabase_emu.SECRET_KEY)
    save(page)
    expect(page.locator("[data-testid=notice][data-kind=ok]")).to_be_visible()
    record = portal.cp.configs.get_record(slug, "supabase")
    assert record.config.url == sandbox.urls.supabase
    assert record.config.service_role_key.get_secret_value() == supabase_emu.SECRET_KEY
    expect(page.locator("[data-testid=secret-stored][data-field=service_role_key]")).to_contain_text(
        "••••" + supabase_emu.SECRET_KEY[-4:]
    )
    assert_no_secrets(page, portal, slug)
    check(page)
    statuses = results(page)
    assert statuses["anon_key"] == "ok" and statuses["service_role_key"] == "ok"
    assert statuses["data api exposure"] == "ok"
    assert portal.cp.configs.get_record(slug, "supabase").status == "ok"
    expect(page.locator("#step-status [data-testid=config-status]")).to_have_attribute("data-status", "ok")
    assert_no_secrets(page, portal, slug)
    page.click("[data-testid=supabase-sql-show]")
    expect(page.locator("[data-testid=supabase-sql]")).to_contain_text(f"{slug}_loader")
    with page.expect_download() as download:
        page.click("[data-testid=supabase-sql-download]")
    sql = Path(download.value.path()).read_text(encoding="utf-8")
    assert f"{slug}_raw" in sql
    assert download.value.suggested_filename == f"synkro-{slug}-supabase.sql"
    shots(page, "settings-supabase")

    # -- amoCRM: a bad subdomain, then a long-lived token ---------------------------------------
    page.goto(f"{base}/amocrm")
    expect(page.locator("input[name=redirect_uri]")).to_have_value(f"{portal.url}/oauth/amocrm/callback")
    page.fill("input[name=subdomain]", "not a subdomain!")
    page.fill("input[name=base_url]", info["amocrm"]["base_url"])
    page.fill("input[name=long_lived_token]", info["amocrm"]["long_lived_token"])
    save(page)
    expect(field_error(page, "subdomain")).to_be_visible()
    expect(page.locator("input[name=base_url]")).to_have_value(info["amocrm"]["base_url"])
    assert portal.cp.configs.find_record(slug, "amocrm") is None
    assert_no_secrets(page, portal, slug, typed=(info["amocrm"]["long_lived_token"],))
    page.fill("input[name=subdomain]", info["amocrm"]["subdomain"])
    page.fill("input[name=long_lived_token]", info["amocrm"]["long_lived_token"])
    save(page)
    expect(page.locator("[data-testid=notice][data-kind=ok]")).to_be_visible()
    assert portal.cp.configs.get_config(slug, "amocrm").subdomain == info["amocrm"]["subdomain"]
    assert_no_secrets(page, portal, slug)

    # -- Radist: a key with a Bearer prefix is refused; then the company from the live list --------
    page.goto(f"{base}/radist")
    page.fill("input[name=api_key]", "Bearer " + info["radist"]["api_key"])
    page.fill("input[name=base_url]", info["radist"]["base_url"])
    save(page)
    expect(field_error(page, "api_key")).to_be_visible()
    expect(page.locator("input[name=api_key]")).to_have_attribute("aria-invalid", "true")
    assert portal.cp.configs.find_record(slug, "radist") is None
    assert_no_secrets(page, portal, slug, typed=(info["radist"]["api_key"],))
    page.fill("input[name=api_key]", info["radist"]["api_key"])
    save(page)
    company = page.locator("select[name=company_id]")  # the key sees two companies: pick one
    expect(company.locator("option")).to_have_count(3)
    company.select_option(str(info["radist"]["company_id"]))
    save(page)
    assert portal.cp.configs.get_config(slug, "radist").company_id == info["radist"]["company_id"]
    connections = page.locator("input[type=checkbox][name=connection_ids]")
    expect(connections.first).to_be_visible()  # the company's connections, listed live
    assert_no_secrets(page, portal, slug)
    check(page)
    statuses = results(page)
    assert statuses["API key"] == "ok" and statuses["company"] == "ok" and statuses["messaging scope"] == "ok"
    assert "fail" not in statuses.values()
    assert_no_secrets(page, portal, slug)
    shots(page, "settings-radist")

    # -- amoCRM check: 3 recent contacts, their phones and their Radist dialogs -------------------
    page.goto(f"{base}/amocrm")
    check(page)
    statuses = results(page)
    assert statuses["token"] == "ok" and statuses["account"] == "ok"
    assert "fail" not in statuses.values()
    expect(page.locator("[data-testid=sample-contact]")).to_have_count(3)
    counts = page.locator("[data-testid=sample-dialogs]")
    assert any(int(counts.nth(i).get_attribute("data-count")) > 0 for i in range(counts.count()))
    assert_no_secrets(page, portal, slug)
    shots(page, "settings-amocrm")

    # -- Gemini: a bad API version; then the model from the live list; a test analysis -------------
    with connect(portal.cp.url) as conn:
        create_marts(conn, slug, recent_dialogs(datetime.now(UTC)), [])
    page.goto(f"{base}/gemini")
    page.fill("input[name=api_key]", info["gemini"]["api_key"])
    page.fill("input[name=base_url]", info["gemini"]["base_url"])
    page.fill("input[name=api_version]", "2")
    save(page)
    expect(field_error(page, "api_version")).to_be_visible()
    assert portal.cp.configs.find_record(slug, "gemini") is None
    page.fill("input[name=api_key]", info["gemini"]["api_key"])
    page.fill("input[name=api_version]", "v1beta")
    save(page)
    model = page.locator("select[name=model]")
    options = [
        model.locator("option").nth(i).get_attribute("value") for i in range(model.locator("option").count())
    ]
    assert "gemini-3.8-flash" in options  # the sandbox's live list, not one of ours
    model.select_option("gemini-3.8-flash")
    save(page)
    assert portal.cp.configs.get_config(slug, "gemini").model == "gemini-3.8-flash"
    assert_no_secrets(page, portal, slug)
    check(page)
    statuses = results(page)
    assert statuses == {"API key": "ok", "model": "ok", "test analysis": "ok"}
    expect(page.locator("[data-testid=analysis]")).to_have_count(3)
    expect(page.locator("[data-testid=analysis-score]").first).to_contain_text("/100")
    assert_no_secrets(page, portal, slug)
    shots(page, "settings-gemini")

    # -- Telegram: a malformed token; the check posts nothing; the test message posts one ----------
    chat_id = private_chat(sandbox)
    page.goto(f"{base}/telegram")
    page.fill("input[name=bot_token]", "not-a-token")
    page.fill("input[name=chat_id]", str(chat_id))
    page.fill("input[name=base_url]", info["telegram"]["base_url"])
    save(page)
    expect(field_error(page, "bot_token")).to_be_visible()
    expect(page.locator("input[name=chat_id]")).to_have_value(str(chat_id))
    assert portal.cp.configs.find_record(slug, "telegram") is None
    page.fill("input[name=bot_token]", info["telegram"]["bot_token"])
    save(page)
    expect(page.locator("[data-testid=notice][data-kind=ok]")).to_be_visible()
    check(page)
    statuses = results(page)
    assert statuses["token"] == "ok" and statuses["chat"] == "ok" and statuses["delivery"] == "ok"
    assert statuses["test message"] == "warn"
    assert telegram_messages(sandbox, chat_id) == []
    check(page, "send-test")
    assert results(page)["test message"] == "ok"
    assert len(telegram_messages(sandbox, chat_id)) == 1
    assert_no_secrets(page, portal, slug)
    shots(page, "settings-telegram")

    # Every step now shows its status in the strip.
    page.goto(f"{base}/telegram")
    steps = page.locator("[data-testid=wizard-step]")
    assert [steps.nth(i).get_attribute("data-status") for i in range(5)] == ["ok", "ok", "ok", "ok", "ok"]

    # -- Runtime settings: a bad time is refused next to it; then saved with a new time zone -------
    page.goto(base)
    before = portal.cp.settings.get_settings(slug)
    page.fill("input[name=run_time]", "25:99")
    page.fill("input[name=min_dialogs]", "4")
    page.fill("input[name=working_hours]", "18:00-09:00")
    save(page)
    expect(field_error(page, "run_time")).to_be_visible()
    expect(field_error(page, "working_hours")).to_contain_text("later than the start")
    expect(page.locator("input[name=min_dialogs]")).to_have_value("4")
    assert portal.cp.settings.get_settings(slug) == before
    page.fill("input[name=run_time]", "21:30")
    page.select_option("select[name=timezone]", "Asia/Almaty")
    page.uncheck("input[name=schedule_enabled]")
    page.fill("input[name=ai_max_dialogs]", "120")
    page.fill("input[name=working_hours]", "08:30-17:30")
    page.fill("input[name=working_days]", "1-6")
    page.fill("input[name=holidays]", "2027-01-07, 2027-01-01")
    save(page)
    expect(page.locator("[data-testid=notice][data-kind=ok]")).to_be_visible()
    after = portal.cp.settings.get_settings(slug)
    assert (after.working_hours, after.working_days, after.holidays) == (
        "08:30-17:30",
        "1,2,3,4,5,6",
        "2027-01-01,2027-01-07",
    )
    assert (after.run_time, after.min_dialogs, after.schedule_enabled, after.ai_max_dialogs) == (
        "21:30",
        4,
        False,
        120,
    )
    assert after.mask_pii is True and after.day_boundary == "22:01"  # untouched fields unchanged
    expect(page.locator("input[name=mask_pii]")).to_be_checked()
    expect(page.locator("input[name=schedule_enabled]")).not_to_be_checked()
    assert portal.cp.tenants.get(slug).timezone == "Asia/Almaty"
    mine = {e.action for e in portal.cp.audit.list(tenant=slug) if e.actor == admin.email}
    assert {"config.set", "settings.update", "tenant.update"} <= mine
    assert_no_secrets(page, portal, slug)
    shots(page, "settings-runtime")


def test_a_failing_check_shows_failed_lines_and_the_status(
    portal: Portal, sandbox: SandboxServer, page: Page, tenant_admin: tuple[str, Account]
) -> None:
    slug, admin = tenant_admin
    info = sandbox.info()
    portal.cp.configs.set_config(
        slug, "radist", {**info["radist"], "api_key": "wrong-radist-key-1234"}, actor="tests"
    )
    sign_in(page, portal, admin, f"/t/{slug}/settings/radist")
    assert_no_secrets(page, portal, slug)
    check(page)
    assert results(page) == {"API key": "fail"}
    expect(page.locator("[data-testid=check-summary]")).to_have_attribute("data-ok", "false")
    expect(page.locator("#step-status [data-testid=config-status]")).to_have_attribute("data-status", "error")
    assert portal.cp.configs.get_record(slug, "radist").status == "error"
    assert_no_secrets(page, portal, slug)
    shots(page, "settings-radist-failing")
    # The failure is still shown after a reload, with its time.
    page.reload()
    expect(page.locator("[data-testid=wizard-step][data-kind=radist]")).to_have_attribute(
        "data-status", "error"
    )


def test_check_without_javascript_returns_the_whole_page(
    portal: Portal, sandbox: SandboxServer, browser, tenant_admin: tuple[str, Account]
) -> None:
    slug, admin = tenant_admin
    chat_id = private_chat(sandbox)
    portal.cp.configs.set_config(
        slug, "telegram", {**sandbox.info()["telegram"], "chat_id": chat_id}, actor="t"
    )
    context = browser.new_context(java_script_enabled=False, viewport=DESKTOP)
    page = context.new_page()
    try:
        sign_in(page, portal, admin, f"/t/{slug}/settings/telegram")
        page.click("[data-testid=check]")
        page.wait_for_load_state()
        assert results(page) == {"token": "ok", "chat": "ok", "delivery": "ok", "test message": "warn"}
        assert_no_secrets(page, portal, slug)
    finally:
        context.close()


@contextmanager
def _http_session(portal: Portal, account: Account) -> Iterator[httpx.Client]:
    """An HTTP client signed in through the login form."""
    with httpx.Client(base_url=portal.url, timeout=60) as http:
        http.get("/login")
        form = {"email": account.email, "password": account.password, "csrftoken": http.cookies["csrftoken"]}
        assert http.post("/login", data=form).status_code in (200, 303)
        yield http


def test_check_lines_stream_as_ndjson_one_event_per_line(
    portal: Portal, sandbox: SandboxServer, tenant_admin: tuple[str, Account]
) -> None:
    slug, admin = tenant_admin
    portal.cp.configs.set_config(slug, "radist", sandbox.info()["radist"], actor="tests")
    with _http_session(portal, admin) as http:
        token = http.cookies["csrftoken"]
        headers = {"x-csrftoken": token, "accept": "application/x-ndjson"}
        with http.stream("POST", f"/t/{slug}/settings/radist/check", headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/x-ndjson")
            events = [json.loads(line) for line in response.iter_lines() if line.strip()]
    assert events[0]["type"] == "start" and events[-1]["type"] == "done"
    lines = [e for e in events if e["type"] == "line"]
    assert [e["name"] for e in lines][:3] == ["API key", "company", "messaging scope"]
    assert all('data-testid="check-result"' in e["html"] for e in lines)
    assert all(e["status"] in ("ok", "warn", "fail") for e in lines)
    assert events[-1]["ok"] is True and events[-1]["html"].count('data-testid="check-result"') == len(lines)
    assert sandbox.info()["radist"]["api_key"] not in json.dumps(events)


def test_a_concurrent_change_is_refused_not_overwritten(
    portal: Portal, sandbox: SandboxServer, page: Page, tenant_admin: tuple[str, Account]
) -> None:
    slug, admin = tenant_admin
    telegram = sandbox.info()["telegram"]
    portal.cp.configs.set_config(slug, "telegram", telegram, actor="tests")
    sign_in(page, portal, admin, f"/t/{slug}/settings/telegram")
    portal.cp.configs.set_config(slug, "telegram", {"chat_id": -1001111111111}, actor="someone@else")
    page.fill("input[name=chat_id]", "-1002222222222")
    save(page)
    expect(page.locator("[data-testid=notice][data-kind=fail]")).to_be_visible()
    assert portal.cp.configs.get_config(slug, "telegram").chat_id == -1001111111111
    expect(page.locator("input[name=chat_id]")).to_have_value("-1001111111111")
    save(page)  # the form now carries the current version
    expect(page.locator("[data-testid=notice][data-kind=ok]")).to_be_visible()


def test_roles_and_tenants(portal: Portal, page: Page) -> None:
    slug = portal.tenant("wiz")
    viewer = portal.account("viewer", slug)
    sign_in(page, portal, viewer, f"/t/{slug}")
    for path in ("/settings", "/settings/supabase", "/settings/telegram", "/settings/supabase/sql"):
        assert page.goto(f"{portal.url}/t/{slug}{path}").status == 403
    other_admin = portal.account("admin", portal.tenant("wiz"))
    page.context.clear_cookies()
    sign_in(page, portal, other_admin, f"/t/{other_admin.tenant}")
    for path in ("/settings", "/settings/amocrm", "/settings/supabase/sql"):
        assert page.goto(f"{portal.url}/t/{slug}{path}").status == 404
    with _http_session(portal, other_admin) as http:
        token = http.cookies["csrftoken"]
        refused = http.post(f"/t/{slug}/settings/radist/check", headers={"x-csrftoken": token})
        assert refused.status_code == 404
        refused = http.post(f"/t/{slug}/settings", data={"csrftoken": token, "run_time": "10:00"})
        assert refused.status_code == 404
    own = other_admin.tenant
    assert page.goto(f"{portal.url}/t/{own}/settings/nosuchkind").status == 404
    assert page.goto(f"{portal.url}/t/{own}/settings/supabase").status == 200


def test_every_page_renders_in_english(portal: Portal, page: Page, tenant_admin: tuple[str, Account]) -> None:
    slug, admin = tenant_admin
    sign_in(page, portal, admin, f"/t/{slug}/settings")
    for path in ("", "/supabase?sql=1", "/amocrm", "/radist", "/gemini", "/telegram"):
        response = page.goto(f"{portal.url}/t/{slug}/settings{path}{'&' if '?' in path else '?'}lang=en")
        assert response.status == 200, path
        assert page.locator("h1").inner_text() == "Settings"


def test_amocrm_oauth_tokens_are_shown_masked_and_checked(
    portal: Portal, sandbox: SandboxServer, page: Page, tenant_admin: tuple[str, Account]
) -> None:
    from synkro.clients.amocrm_oauth import OAuthApp, exchange_code

    slug, admin = tenant_admin
    amo = sandbox.info()["amocrm"]
    code = httpx.post(f"{sandbox.urls.control}/amocrm/auth_codes").json()["auth_code"]
    redirect = f"{portal.url}/oauth/amocrm/callback"
    pair = exchange_code(OAuthApp(amo["base_url"], amo["client_id"], amo["client_secret"], redirect), code)
    portal.cp.configs.set_config(
        slug,
        "amocrm",
        {
            "subdomain": amo["subdomain"],
            "base_url": amo["base_url"],
            "client_id": amo["client_id"],
            "client_secret": amo["client_secret"],
            "redirect_uri": redirect,
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "expires_at": pair.expires_at.isoformat() if pair.expires_at else None,
        },
        actor="tests",
    )
    sign_in(page, portal, admin, f"/t/{slug}/settings/amocrm")
    expect(page.locator("[data-testid=secret-stored][data-field=refresh_token]")).to_contain_text("••••")
    expect(page.locator("[data-testid=secret-stored][data-field=client_secret]")).to_contain_text("••••")
    expect(page.locator("input[name=client_id]")).to_have_value(amo["client_id"])
    assert page.locator("input[name=access_token], input[name=refresh_token]").count() == 0
    assert_no_secrets(page, portal, slug)
    check(page)
    statuses = results(page)
    assert statuses["token"] == "ok" and statuses["access token"] == "ok"
    expect(page.locator("[data-testid=sample-contact]")).to_have_count(3)
    assert_no_secrets(page, portal, slug)  # the check may have rotated the pair: the new one too
    # Saving the form with every secret left empty keeps them all.
    before = portal.cp.configs.get_config(slug, "amocrm").secret_dict()
    save(page)
    expect(page.locator("[data-testid=notice][data-kind=ok]")).to_be_visible()
    assert portal.cp.configs.get_config(slug, "amocrm").secret_dict() == before
    assert_no_secrets(page, portal, slug)


def test_ai_cost_settings_budget_batch_and_cascade(
    portal: Portal, page: Page, tenant_admin: tuple[str, Account]
) -> None:
    """Issue 16: the monthly budget (empty = no cap), batch mode and the cascade, set in the browser."""
    slug, admin = tenant_admin
    sign_in(page, portal, admin, f"/t/{slug}/settings")
    expect(page.locator("input[name=ai_monthly_budget_usd]")).to_have_value("")
    expect(page.locator("select[name=ai_batch]")).to_have_value("auto")
    before = portal.cp.settings.get_settings(slug)
    page.fill("input[name=ai_monthly_budget_usd]", "a lot")
    page.select_option("select[name=ai_batch]", "never")
    save(page)
    expect(field_error(page, "ai_monthly_budget_usd")).to_be_visible()
    expect(page.locator("select[name=ai_batch]")).to_have_value("never")
    assert portal.cp.settings.get_settings(slug) == before, "nothing is saved"

    page.fill("input[name=ai_monthly_budget_usd]", "25.5")
    page.fill("input[name=ai_escalation_model]", "gemini-3.8-flash")
    page.fill("input[name=ai_escalation_min_price]", "300000")
    page.fill("input[name=ai_escalation_min_confidence]", "70")
    save(page)
    expect(page.locator("[data-testid=notice][data-kind=ok]")).to_be_visible()
    after = portal.cp.settings.get_settings(slug)
    assert (after.ai_monthly_budget_usd, after.ai_batch, after.ai_escalation_model) == (
        25.5,
        "never",
        "gemini-3.8-flash",
    )
    assert (after.ai_escalation_min_price, after.ai_escalation_min_confidence) == (300000, 70)
    expect(page.locator("input[name=ai_monthly_budget_usd]")).to_have_value("25.5")
    shots(page, "settings-ai-cost")

    page.fill("input[name=ai_monthly_budget_usd]", "")
    page.fill("input[name=ai_escalation_model]", "")
    save(page)
    cleared = portal.cp.settings.get_settings(slug)
    assert cleared.ai_monthly_budget_usd is None and cleared.ai_escalation_model is None
