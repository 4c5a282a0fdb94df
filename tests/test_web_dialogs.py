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
