"""Issue 11, items 1–2: a dialog's page, the dialog list with filters, pages and CSV, report links.

The warehouse is seeded with the dbt marts' shape (`tests/dialog_marts.py`) and analyses written
through the analysis step's DDL; the portal is the real app in Chromium. Manager scoping is
checked both ways: own dialogs shown, a colleague's answering 404 and missing from list and CSV.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from synkro.analysis.prompt import prompt_version
from synkro.analysis.rubric import rubric_from_settings
from synkro.db import connect
from tests.dialog_marts import SeedDialog, create_tables, seed
from tests.fixtures.portal import DESKTOP, PHONE, Account, Portal, screenshot, sign_in

ANNA, BORIS = 11, 22
DAY = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 10:00 in Moscow
WINDOW = (datetime(2026, 3, 1, 19, 1, tzinfo=UTC), datetime(2026, 3, 2, 19, 1, tzinfo=UTC))
RUBRIC = rubric_from_settings(None)
EVIL = "<script>alert(1)</script>"


@dataclass
class Seeded:
    slug: str
    anna: Account
    boris: Account
    viewer: Account


def _analysis(score: int, flags: list[str], evidence: dict[str, str], **extra) -> dict:
    criteria = [
        {
            "key": c.key,
            "score": score,
            "evidence": evidence.get(c.key, ""),
            "reason": f"причина {c.key}",
        }
        for c in RUBRIC.criteria
    ]
    return {
        "window_start": WINDOW[0],
        "window_end": WINDOW[1],
        "rubric_version": RUBRIC.version,
        "prompt_version": prompt_version("ru"),
        "model": "gemini-2.5-flash",
        "overall_score": score,
        "criteria": criteria,
        "objections": [{"text": "дорого", "handled": False}],
        "next_step": {"agreed": True, "what": "созвон", "when": "завтра"},
        "risk_flags": flags,
        "sentiment": "neutral",
        "summary": f"Клиент спросил цену {EVIL}",
        "recommendation": "Перезвонить с предложением",
        "analyzed_at": WINDOW[1] + timedelta(minutes=5),
        **extra,
    }


def _dialogs() -> list[SeedDialog]:
    first, second = RUBRIC.criteria[0].key, RUBRIC.criteria[1].key
    main = SeedDialog(
        dialog_id=501,
        responsible_user_id=ANNA,
        manager_name="Анна",
        lead_id=7001,
        lead_name="Сделка: кухня",
        contact_id=8001,
        contact_name="Иван Петров",
        first_response_seconds=125,
        messages=[
            (DAY, "inbound", "Здравствуйте, сколько стоит кухня? Мой номер +7 916 123-45-67"),
            (DAY + timedelta(minutes=2), "outbound", "Добрый день! Кухня стоит от 90 000 рублей."),
            (DAY + timedelta(minutes=9), "inbound", "Дорого, у конкурентов дешевле"),
        ],
        analyses=[
            _analysis(
                35,
                ["price_objection_unresolved", "competitor_mentioned"],
                {first: "«Добрый день!»", second: "у конкурентов дешевле", "other": "nowhere"},
            ),
            _analysis(
                80,
                [],
                {},
                window_start=WINDOW[0] - timedelta(days=1),
                window_end=WINDOW[0],
                rubric_version="old-rubric",
                analyzed_at=WINDOW[0] + timedelta(minutes=5),
            ),
        ],
    )
    others = [
        SeedDialog(
            dialog_id=502,
            responsible_user_id=BORIS,
            manager_name="Борис",
            lead_id=7002,
            first_response_seconds=30,
            messages=[(DAY, "inbound", "Привет"), (DAY + timedelta(minutes=1), "outbound", "Здравствуйте")],
            analyses=[_analysis(90, [], {})],
        ),
        SeedDialog(
            dialog_id=503,
            responsible_user_id=ANNA,
            manager_name="Анна",
            messages=[(DAY + timedelta(hours=1), "inbound", "Есть доставка?")],
        ),
    ]
    return [main, *others]


@pytest.fixture(scope="module")
def seeded(portal: Portal, database_url: str) -> Iterator[Seeded]:
    slug = portal.tenant("dlg")
    portal.cp.configs.set_config(
        slug, "amocrm", {"subdomain": "acme", "long_lived_token": "x" * 40}, actor="tests"
    )
    with connect(database_url) as conn:
        create_tables(conn, slug)
        seed(conn, slug, _dialogs())
    yield Seeded(
        slug,
        portal.account("manager", slug, amocrm_user_id=ANNA),
        portal.account("manager", slug, amocrm_user_id=BORIS),
        portal.account("viewer", slug),
    )


def test_dialog_page_shows_criteria_evidence_metrics_and_versions(
    portal: Portal, seeded: Seeded, page
) -> None:
    path = f"/t/{seeded.slug}/dialogs/501"
    sign_in(page, portal, seeded.viewer, path)
    criteria = page.locator("[data-testid=criterion]")
    assert criteria.count() == len(RUBRIC.criteria)
    first = RUBRIC.criteria[0]
    block = page.locator(f"[data-testid=criterion][data-criterion={first.key}]")
    assert block.locator("[data-testid=ai-score]").inner_text() == "35"
    assert first.title in block.inner_text() and f"причина {first.key}" in block.inner_text()
    marks = page.locator("[data-testid=transcript] mark")
    assert marks.count() == 2
    assert marks.nth(0).inner_text() == "Добрый день!"
    assert marks.nth(0).get_attribute("data-criteria") == first.key
    assert marks.nth(1).inner_text().casefold() == "у конкурентов дешевле"
    transcript = page.locator("[data-testid=transcript]").inner_text()
    assert "[02.03 10:00] клиент:" in transcript  # the tenant's zone, the analysis' line format
    assert "916" not in transcript and "[телефон]" in transcript  # PII masked
    assert page.locator("[data-testid=metric-first-response]").inner_text() == "2 мин"
    assert page.locator("[data-testid=metric-replies]").inner_text() == "1"
    assert "да" in page.locator("[data-testid=metric-waiting]").inner_text()
    assert (
        page.locator("[data-testid=lead-link]").get_attribute("href")
        == "https://acme.amocrm.ru/leads/detail/7001"
    )
    assert page.locator("[data-testid=contact-link]").get_attribute("href") == (
        "https://acme.amocrm.ru/contacts/detail/8001"
    )
    assert "Иван Петров" in page.locator("[data-testid=contact]").inner_text()
    assert page.locator("[data-testid=rubric-version]").inner_text() == RUBRIC.version
    assert page.locator("[data-testid=prompt-version]").inner_text() == prompt_version("ru")
    assert page.locator("[data-testid=model]").inner_text() == "gemini-2.5-flash"
    assert "возражение по цене не отработано" in page.locator("[data-testid=flags]").inner_text()
    assert (
        page.locator("[data-testid=summary]").inner_text() == f"Клиент спросил цену {EVIL}"
    )  # text, not markup
    assert "созвон — завтра" in page.locator("[data-testid=next-step]").inner_text()
    assert page.locator("[data-testid=history-row]").count() == 2
    screenshot(page, "dialog-page")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "dialog-page-phone")
    page.set_viewport_size(DESKTOP)


def test_a_manager_opens_own_dialogs_and_gets_404_on_a_colleagues(
    portal: Portal, seeded: Seeded, page
) -> None:
    sign_in(page, portal, seeded.anna, f"/t/{seeded.slug}/dialogs/501")
    assert page.locator("[data-testid=criterion]").count() == len(RUBRIC.criteria)
    for path, status in (("502", 404), ("503", 200), ("999", 404), ("abc", 404), ("501", 200)):
        assert page.request.get(f"{portal.url}/t/{seeded.slug}/dialogs/{path}").status == status, path
    page.context.clear_cookies()
    sign_in(page, portal, seeded.boris, f"/t/{seeded.slug}/dialogs/502")
    assert page.request.get(f"{portal.url}/t/{seeded.slug}/dialogs/501").status == 404


def test_an_unscored_dialog_shows_its_transcript_and_says_so(portal: Portal, seeded: Seeded, page) -> None:
    sign_in(page, portal, seeded.viewer, f"/t/{seeded.slug}/dialogs/503")
    assert page.locator("[data-testid=no-analysis]").is_visible()
    assert "Есть доставка?" in page.locator("[data-testid=transcript]").inner_text()
    assert page.locator("[data-testid=criterion]").count() == 0


def test_the_list_orders_by_risk_filters_and_scopes_to_the_manager(
    portal: Portal, seeded: Seeded, page
) -> None:
    sign_in(page, portal, seeded.viewer, f"/t/{seeded.slug}/dialogs")
    ids = [r.get_attribute("data-dialog-id") for r in page.locator("[data-testid=dialog-row]").all()]
    assert ids == ["501", "503", "502"]  # waiting + 2 flags, waiting unscored, answered
    screenshot(page, "dialog-list")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "dialog-list-phone")
    page.set_viewport_size(DESKTOP)
    page.goto(f"{portal.url}/t/{seeded.slug}/dialogs?flag=competitor_mentioned")
    assert [r.get_attribute("data-dialog-id") for r in page.locator("[data-testid=dialog-row]").all()] == [
        "501"
    ]
    page.goto(f"{portal.url}/t/{seeded.slug}/dialogs?score_below=91&unanswered=1")
    assert [r.get_attribute("data-dialog-id") for r in page.locator("[data-testid=dialog-row]").all()] == [
        "501"
    ]
    page.goto(f"{portal.url}/t/{seeded.slug}/dialogs?manager={BORIS}")
    page.locator("[data-testid=dialog-row] a").first.click()
    page.wait_for_url(f"**/t/{seeded.slug}/dialogs/502")
    bad = page.request.get(f"{portal.url}/t/{seeded.slug}/dialogs?score_below=abc")
    assert bad.status == 400 and "score_below" in bad.text()
    csv_text = page.request.get(f"{portal.url}/t/{seeded.slug}/dialogs.csv?flag=competitor_mentioned").text()
    lines = csv_text.lstrip("\ufeff").strip().splitlines()
    assert lines[0].startswith("dialog_id,url,") and len(lines) == 2 and lines[1].startswith("501,")
    assert f"{portal.url}/t/{seeded.slug}/dialogs/501" in lines[1]
    page.context.clear_cookies()
    sign_in(page, portal, seeded.anna, f"/t/{seeded.slug}/dialogs")
    ids = [r.get_attribute("data-dialog-id") for r in page.locator("[data-testid=dialog-row]").all()]
    assert ids == ["501", "503"]
    href = page.locator("[data-testid=csv-export]").get_attribute("href")
    rows = page.request.get(f"{portal.url}{href}").text().lstrip("\ufeff").strip().splitlines()[1:]
    assert sorted(r.split(",")[0] for r in rows) == ["501", "503"]
    assert (
        page.request.get(f"{portal.url}/t/{seeded.slug}/dialogs.csv?manager={BORIS}").text().count("\n") == 1
    )


def test_csv_cells_never_start_a_formula() -> None:
    from synkro.dialogs.csv_export import safe_cell

    assert safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and safe_cell("@x") == "'@x"
    assert safe_cell("-1+2") == "'-1+2" and safe_cell("ok") == "ok" and safe_cell(5) == 5


def test_the_report_links_every_dialog_it_mentions_to_its_page(
    portal: Portal, seeded: Seeded, database_url: str
) -> None:
    from synkro.controlplane import TenantSettings
    from synkro.report.build import build_report
    from synkro.report.model import ReportWindow
    from synkro.report.render import paragraphs

    window = ReportWindow(start=WINDOW[0], end=WINDOW[1], timezone="Europe/Moscow")
    with connect(database_url) as conn:
        report = build_report(
            conn, seeded.slug, window, TenantSettings(min_dialogs=1), {}, portal_url=portal.url
        )
    mentioned = [*report.riskiest, *([report.best] if report.best else [])]
    assert mentioned and all(
        d.dialog_url == f"{portal.url}/t/{seeded.slug}/dialogs/{d.dialog_id}" for d in mentioned
    )
    text = "\n".join(paragraphs(report))
    assert f'href="{portal.url}/t/{seeded.slug}/dialogs/501"' in text


def test_the_page_shows_which_rubric_version_scored_what(
    portal: Portal, seeded: Seeded, database_url: str, page
) -> None:
    """Issue 11: after a re-score under a new rubric version the page lists both verdicts."""
    a = f'"{seeded.slug}_analysis"'
    with connect(database_url) as conn:
        conn.execute(
            f"insert into {a}.dialog_analysis_history (tenant_slug, dialog_id, window_start, window_end, "
            "rubric_version, rubric_number, prompt_version, model, overall_score, status, analyzed_at) "
            f"select tenant_slug, dialog_id, window_start, window_end, 'r-older', 1, prompt_version, model, "
            f"overall_score - 20, status, analyzed_at - interval '1 hour' from {a}.dialog_analyses "
            "where dialog_id = '502' and status = 'ok'"
        )
        conn.execute(f"update {a}.dialog_analyses set rubric_number = 2 where dialog_id = '502'")
        conn.commit()
    sign_in(page, portal, seeded.viewer, f"/t/{seeded.slug}/dialogs/502")
    rows = page.locator("[data-testid=scored-by-row]")
    expect(rows).to_have_count(2)
    assert (
        rows.nth(0).get_attribute("data-current") == "true"
        and rows.nth(0).get_attribute("data-rubric-number") == "2"
    )
    assert (
        rows.nth(1).get_attribute("data-current") == "false"
        and rows.nth(1).get_attribute("data-rubric-number") == "1"
    )
    screenshot(page, "dialog-scored-by")
    page.goto(f"{portal.url}/t/{seeded.slug}/dialogs/501")
    expect(page.locator("[data-testid=criterion]").first).to_be_visible()
    expect(page.locator("[data-testid=scored-by]")).to_have_count(0)  # one verdict only: nothing to compare


def test_the_disputed_filter_and_the_human_score_come_from_the_corrections(
    portal: Portal, seeded: Seeded, database_url: str, page
) -> None:
    """Issue 11: a dispute on a criterion puts its dialog under the "disputed" filter."""
    from synkro.analysis import corrections

    with connect(database_url) as conn:
        corrections.record(
            conn,
            seeded.slug,
            "501",
            "greeting",
            "dispute",
            score=None,
            note="Поздоровался в первом же сообщении",
            ai_score=None,
            rubric_version=None,
            actor=seeded.anna.email,
            actor_role="manager",
        )
    sign_in(page, portal, seeded.viewer, f"/t/{seeded.slug}/dialogs?disputed=1")
    rows = page.locator("[data-testid=dialog-row]")
    expect(rows).to_have_count(1)
    assert "501" in rows.first.inner_text()
    page.goto(f"{portal.url}/t/{seeded.slug}/dialogs")
    assert page.locator("[data-testid=dialog-row]").count() >= 3
