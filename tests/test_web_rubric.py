"""Issue 11 item 5: the rubric editor `/t/{slug}/rubric`, in Chromium (and over HTTP for the roles).

- weights summing to 99 are refused with the reason next to the total, and nothing is saved;
- a valid save makes version N+1 (kept, with who and when), including a row added in place by
  the page's script, a fatal criterion and the business context;
- without JavaScript the same form still adds a row (a server round trip, nothing saved);
- viewers and managers get 403 for the page and for a save.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from playwright.sync_api import Page, expect

from synkro.analysis.rubric import DEFAULT_RUBRIC
from tests.fixtures.portal import PHONE, Account, Portal, screenshot, sign_in


def _open(page: Page, portal: Portal, slug: str, admin: Account) -> None:
    sign_in(page, portal, admin, f"/t/{slug}/rubric")
    expect(page.get_by_test_id("rubric-row")).to_have_count(len(DEFAULT_RUBRIC.criteria))
    expect(page.get_by_test_id("rubric-total")).to_have_text("100")


def test_weights_summing_to_99_are_refused_and_nothing_is_saved(page: Page, portal: Portal) -> None:
    slug = portal.tenant("rub")
    _open(page, portal, slug, portal.account("admin", slug))
    first = page.get_by_test_id("rubric-row").first
    first.locator("input[name=weight]").fill("9")
    expect(page.get_by_test_id("rubric-total")).to_have_text("99")  # live, before any submit
    page.get_by_test_id("rubric-save").click()
    error = page.locator("[data-testid=field-error][data-field=total]")
    expect(error).to_contain_text("99")
    expect(error).to_contain_text("100")
    expect(page.get_by_test_id("rubric-total")).to_have_text("99")
    expect(page.get_by_test_id("rubric-row").first.locator("input[name=weight]")).to_have_value("9")
    screenshot(page, "rubric-refused")
    assert portal.cp.rubrics.versions(slug) == []
    assert portal.cp.settings.get_settings(slug).rubric_version == 0
    assert portal.cp.settings.get_settings(slug).rubric is None


def test_a_valid_save_makes_the_next_version_with_who_and_when(page: Page, portal: Portal) -> None:
    slug = portal.tenant("rub")
    admin = portal.account("admin", slug)
    _open(page, portal, slug, admin)
    page.get_by_test_id("rubric-row").first.locator("input[name=weight]").fill("5")
    page.get_by_test_id("rubric-add").click()  # the script adds the row in place
    rows = page.get_by_test_id("rubric-row")
    expect(rows).to_have_count(len(DEFAULT_RUBRIC.criteria) + 1)
    new = rows.last
    new.locator("input[name=key]").fill("no_rudeness")
    new.locator("input[name=title]").fill("Без грубости")
    new.locator("textarea[name=description]").fill("Ни одного грубого или пренебрежительного ответа.")
    new.locator("input[name=weight]").fill("5")
    new.locator("select[name=type]").select_option("fatal")
    expect(page.get_by_test_id("rubric-total")).to_have_text("100")
    page.get_by_test_id("rubric-context").fill("Мебель на заказ, средний чек 150 000 ₽.")
    page.get_by_test_id("rubric-save").click()
    expect(page.get_by_test_id("rubric-saved")).to_contain_text("1")
    expect(page.locator("[data-testid=rubric-version][data-number='1']")).to_contain_text(admin.email)
    (v1,) = portal.cp.rubrics.versions(slug)
    assert (v1.number, v1.created_by) == (1, admin.email)
    assert v1.rubric.criteria[-1].key == "no_rudeness" and v1.rubric.criteria[-1].type == "fatal"
    assert v1.rubric.business_context.startswith("Мебель на заказ")
    assert portal.cp.settings.get_settings(slug).rubric_version == 1

    # The page now shows version 1; a change saves version 2, version 1 stays listed.
    expect(page.get_by_test_id("rubric-row")).to_have_count(len(DEFAULT_RUBRIC.criteria) + 1)
    page.get_by_test_id("rubric-row").first.locator("input[name=title]").fill("Приветствие и имя")
    page.get_by_test_id("rubric-save").click()
    expect(page.get_by_test_id("rubric-saved")).to_contain_text("2")
    expect(page.get_by_test_id("rubric-version")).to_have_count(2)
    assert [v.number for v in portal.cp.rubrics.versions(slug)] == [2, 1]
    screenshot(page, "rubric-saved")
    page.set_viewport_size(PHONE)
    screenshot(page, "rubric-phone")


def test_without_javascript_add_row_is_a_server_round_trip(browser, portal: Portal) -> None:
    slug = portal.tenant("rub")
    context = browser.new_context(java_script_enabled=False, locale="ru-RU")
    try:
        page = context.new_page()
        _open(page, portal, slug, portal.account("admin", slug))
        page.get_by_test_id("rubric-add").click()
        expect(page.get_by_test_id("rubric-row")).to_have_count(len(DEFAULT_RUBRIC.criteria) + 1)
        assert portal.cp.rubrics.versions(slug) == []
        page.get_by_test_id("rubric-template").click()  # a plain link: the built-in rows again
        expect(page.get_by_test_id("rubric-row")).to_have_count(len(DEFAULT_RUBRIC.criteria))
    finally:
        context.close()


@contextmanager
def _client(portal: Portal, account: Account) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=portal.url) as http:
        http.get("/login")
        signed = http.post(
            "/login",
            data={
                "email": account.email,
                "password": account.password,
                "csrftoken": http.cookies["csrftoken"],
            },
            follow_redirects=False,
        )
        assert signed.status_code == 303, signed.text
        yield http


def test_viewers_and_managers_get_403_and_cannot_save(portal: Portal) -> None:
    slug = portal.tenant("rub")
    form = {
        "key": "greeting",
        "title": "Приветствие",
        "description": "Поздоровался",
        "weight": "100",
        "type": "scored",
        "action": "save",
    }
    for someone in (portal.account("viewer", slug), portal.account("manager", slug, amocrm_user_id=21)):
        with _client(portal, someone) as http:
            assert http.get(f"/t/{slug}/rubric").status_code == 403
            refused = http.post(f"/t/{slug}/rubric", data={**form, "csrftoken": http.cookies["csrftoken"]})
            assert refused.status_code == 403
            assert 'data-testid="nav-rubric"' not in http.get(f"/t/{slug}").text
    assert portal.cp.rubrics.versions(slug) == []
    with _client(portal, portal.account("admin", slug)) as http:
        saved = http.post(
            f"/t/{slug}/rubric", data={**form, "csrftoken": http.cookies["csrftoken"]}, follow_redirects=False
        )
        assert saved.status_code == 303 and saved.headers["location"].endswith("saved=1")
