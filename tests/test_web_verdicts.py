"""Issue 11, items 3–4: disputes and overrides of AI verdicts on the dialog page, the calibration page.

The real portal in Chromium over a warehouse seeded with the dbt marts' shape: a manager disputes a
criterion of their own dialog, a viewer accepts it with a corrected score and overrides another;
the AI value stays visible beside the human one; the report built for that day uses the corrected
value and says how many verdicts were corrected; the audit log names every action; a manager
cannot dispute a colleague's dialog (404) nor answer a dispute (403).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from synkro.analysis.rubric import DEFAULT_RUBRIC
from synkro.controlplane.settings import TenantSettings
from synkro.db import connect
from synkro.report.build import build_report
from synkro.report.model import ReportWindow
from synkro.report.render import telegram_messages
from tests.dialog_marts import SeedDialog, create_tables, seed
from tests.fixtures.portal import DESKTOP, PHONE, Account, Portal, screenshot, sign_in

ANNA, BORIS = 11, 22
DAY = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 10:00 in Moscow
WINDOW = (datetime(2026, 3, 1, 19, 1, tzinfo=UTC), datetime(2026, 3, 2, 19, 1, tzinfo=UTC))
GREETING, NEXT_STEP = "greeting", "next_step"  # weights 10 and 20 in the built-in rubric


@dataclass
class Seeded:
    slug: str
    anna: Account
    boris: Account
    viewer: Account
    admin: Account


def _analysis(score: int) -> dict:
    return {
        "window_start": WINDOW[0],
        "window_end": WINDOW[1],
        "rubric_version": DEFAULT_RUBRIC.version,
        "model": "gemini-2.5-flash",
        "overall_score": score,
        "criteria": [
            {"key": c.key, "score": score, "evidence": "", "reason": f"причина {c.key}"}
            for c in DEFAULT_RUBRIC.criteria
        ],
        "risk_flags": [],
        "summary": "Клиент спросил цену",
        "analyzed_at": WINDOW[1] + timedelta(minutes=5),
    }


def _messages() -> list[tuple[datetime, str, str]]:
    return [
        (DAY, "inbound", "Сколько стоит?"),
        (DAY + timedelta(minutes=3), "outbound", "Добрый день! 90 000"),
    ]


def _seed(portal: Portal, database_url: str) -> Seeded:
    """A tenant with Anna's dialog 601 (AI 40 on every criterion) and Boris's 602 (AI 70)."""
    slug = portal.tenant("vrd")
    with connect(database_url) as conn:
        create_tables(conn, slug)
        seed(
            conn,
            slug,
            [
                SeedDialog(
                    601, ANNA, "Анна", _messages(), first_response_seconds=180, analyses=[_analysis(40)]
                ),
                SeedDialog(
                    602, BORIS, "Борис", _messages(), first_response_seconds=180, analyses=[_analysis(70)]
                ),
            ],
        )
    return Seeded(
        slug,
        portal.account("manager", slug, amocrm_user_id=ANNA),
        portal.account("manager", slug, amocrm_user_id=BORIS),
        portal.account("viewer", slug),
        portal.account("admin", slug),
    )


@pytest.fixture
def seeded(portal: Portal, database_url: str) -> Iterator[Seeded]:
    yield _seed(portal, database_url)


def _block(page, key: str):
    return page.locator(f"[data-testid=criterion][data-criterion={key}]")


def _post(page, portal: Portal, path: str, **form: str):
    """A form POST from the signed-in page (its cookies and CSRF token), not following redirects."""
    token = page.locator("meta[name=csrf-token]").get_attribute("content")
    return page.request.post(f"{portal.url}{path}", form={"csrftoken": token, **form}, max_redirects=0)


def test_a_manager_disputes_a_viewer_accepts_and_the_report_uses_the_human_value(
    portal: Portal, seeded: Seeded, page, database_url: str
) -> None:
    slug, path = seeded.slug, f"/t/{seeded.slug}/dialogs/601"
    sign_in(page, portal, seeded.anna, path)
    greeting = _block(page, GREETING)
    assert greeting.locator("[data-testid=accept]").count() == 0
    assert greeting.locator("[data-testid=override]").count() == 0
    greeting.get_by_text("Оспорить оценку").click()
    greeting.locator("textarea[name=note]").fill("Я поздоровался в первом же сообщении")
    greeting.locator("[data-testid=dispute]").click()
    page.wait_for_url(re.compile(r".*verdict_done=dispute.*"))
    greeting = _block(page, GREETING)
    assert "Спор отправлен" in greeting.locator("[data-testid=verdict-done]").inner_text()
    assert "Я поздоровался" in greeting.locator("[data-testid=dispute-open]").inner_text()
    assert greeting.locator("[data-testid=dispute]").count() == 0  # one open dispute at a time

    # The manager may not answer their own dispute (403), nor touch a colleague's dialog (404).
    criteria = f"/t/{slug}/dialogs/601/criteria/{GREETING}"
    assert _post(page, portal, f"{criteria}/accept", score="100").status == 403
    assert _post(page, portal, f"{criteria}/override", score="100", note="x").status == 403
    colleague = f"/t/{slug}/dialogs/602/criteria/{GREETING}/dispute"
    assert _post(page, portal, colleague, note="не моё").status == 404
    assert _post(page, portal, f"/t/{slug}/dialogs/601/criteria/nope/dispute", note="x").status == 404
    assert _post(page, portal, f"{criteria}/approve", note="x").status == 404

    page.context.clear_cookies()
    sign_in(page, portal, seeded.viewer, path)
    greeting = _block(page, GREETING)
    assert greeting.locator("[data-testid=dispute]").count() == 0  # viewers answer, they do not dispute
    greeting.scroll_into_view_if_needed()
    screenshot(page, "verdicts-answer")
    greeting.locator("input[name=score]").first.fill("90")
    greeting.locator("[data-testid=accept]").click()
    page.wait_for_url(re.compile(r".*verdict_done=accept.*"))
    greeting = _block(page, GREETING)
    assert greeting.locator("[data-testid=human-score]").inner_text() == "90"
    assert greeting.locator("[data-testid=ai-score]").inner_text() == "40"  # the AI's value stays visible
    assert greeting.locator("[data-testid=dispute-open]").count() == 0

    # A direct override of another criterion, first without the required note: refused, named.
    next_step = f"/t/{slug}/dialogs/601/criteria/{NEXT_STEP}/override"
    refused = _post(page, portal, next_step, score="80", note=" ")
    assert refused.status == 303 and "verdict_error=note" in refused.headers["location"]
    page.goto(portal.url + refused.headers["location"])
    assert "Нужен комментарий" in _block(page, NEXT_STEP).locator("[data-testid=field-error]").inner_text()
    assert "Нужен комментарий" not in _block(page, GREETING).inner_text()
    bad_score = _post(page, portal, next_step, score="101", note="x")
    assert "verdict_error=score" in bad_score.headers["location"]
    # A message key from the URL is never looked up.
    page.goto(f"{portal.url}{path}?verdict_key={NEXT_STEP}&verdict_error=../../secret#x")
    assert _block(page, NEXT_STEP).locator("[data-testid=field-error]").count() == 0
    block = _block(page, NEXT_STEP)
    block.get_by_text("Исправить оценку").click()
    block.locator("input[name=score]").fill("80")
    block.locator("textarea[name=note]").fill("Следующий шаг зафиксирован: созвон завтра")
    block.locator("[data-testid=override]").click()
    page.wait_for_url(re.compile(r".*verdict_done=override.*"))
    block = _block(page, NEXT_STEP)
    assert block.locator("[data-testid=human-score]").inner_text() == "80"
    assert block.locator("[data-testid=ai-score]").inner_text() == "40"
    # The dialog's overall: the AI's stays, the corrected one beside it (90·10 + 80·20 + 40·70) / 100.
    assert page.locator("[data-testid=overall-score]").inner_text() == "40"
    assert page.locator("[data-testid=human-overall]").inner_text() == "с исправлениями людей: 53"
    page.goto(f"{portal.url}{path}?lang=en")
    assert "Human score" in _block(page, NEXT_STEP).inner_text()
    assert "Override the score" in _block(page, NEXT_STEP).inner_text()
    page.goto(f"{portal.url}{path}?lang=ru")
    greeting = _block(page, GREETING)
    greeting.locator("[data-testid=verdict-history] summary").click()
    history = greeting.locator("[data-testid=verdict-history-row]")
    assert [history.nth(i).get_attribute("data-kind") for i in range(history.count())] == [
        "accept",
        "dispute",
    ]
    assert (
        seeded.anna.email in history.nth(1).inner_text()
        and seeded.viewer.email in history.nth(0).inner_text()
    )
    greeting.scroll_into_view_if_needed()
    screenshot(page, "verdicts-dialog")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "verdicts-dialog-phone")
    page.set_viewport_size(DESKTOP)

    # Every action is in the control plane's audit log.
    entries = [e for e in portal.cp.audit.list(tenant=slug) if e.action.startswith("verdict.")]
    actions = [(e.action, e.actor, e.details["criterion"]) for e in entries]
    assert ("verdict.dispute", seeded.anna.email, GREETING) in actions
    assert ("verdict.accept", seeded.viewer.email, GREETING) in actions
    assert ("verdict.override", seeded.viewer.email, NEXT_STEP) in actions
    assert not any(a[0] == "verdict.override" and a[1] == seeded.anna.email for a in actions)

    # The report for that day uses the human values: (90·10 + 80·20 + 40·70) / 100 = 53 for 601.
    with psycopg.connect(database_url) as conn:
        window = ReportWindow(start=WINDOW[0], end=WINDOW[1], timezone="Europe/Moscow", label="02.03.2026")
        report = build_report(conn, slug, window, TenantSettings(min_dialogs=1), {})
        assert {m.manager_name: m.average_score for m in report.managers} == {"Анна": 53, "Борис": 70}
        assert report.quality.average == (53 + 70) / 2
        assert "Исправлено людьми оценок: 2 в 1 диалоге" in "\n".join(telegram_messages(report))
        # The history is append-only, whatever the client.
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute(f'update "{slug}_analysis".verdict_corrections set score = 0')


def test_calibration_shows_how_often_humans_changed_the_ai(portal: Portal, seeded: Seeded, page) -> None:
    slug = seeded.slug

    def criteria(dialog: int, key: str, action: str) -> str:
        return f"/t/{slug}/dialogs/{dialog}/criteria/{key}/{action}"

    # Anna disputes 601's greeting and Boris 602's next step; both try the calibration page.
    for manager, dialog, key in ((seeded.anna, 601, GREETING), (seeded.boris, 602, NEXT_STEP)):
        page.context.clear_cookies()
        sign_in(page, portal, manager, f"/t/{slug}/dialogs/{dialog}")
        assert _post(page, portal, criteria(dialog, key, "dispute"), note="Оценка занижена").status == 303
        assert page.request.get(f"{portal.url}/t/{slug}/calibration").status == 403
    # The admin accepts Anna's at 90 (AI 40), rejects Boris's, overrides 602's greeting to 100 (AI 70).
    page.context.clear_cookies()
    sign_in(page, portal, seeded.admin, f"/t/{slug}/dialogs/602")
    for dialog, key, action, form in (
        (601, GREETING, "accept", {"score": "90"}),
        (602, NEXT_STEP, "reject", {"note": "В переписке договорённости нет"}),
        (602, GREETING, "override", {"score": "100", "note": "Поздоровался по имени"}),
    ):
        answer = _post(page, portal, criteria(dialog, key, action), **form)
        assert "verdict_done=" in answer.headers["location"], answer.headers["location"]
    again = _post(page, portal, criteria(602, NEXT_STEP, "reject"), note="ещё раз")
    assert "verdict_error=no_dispute" in again.headers["location"]

    page.goto(f"{portal.url}/t/{slug}/calibration")
    row = page.locator(f"[data-testid=calibration-row][data-criterion={GREETING}]")
    # Two dialogs scored; 601 accepted at 90 (AI 40), 602 overridden to 100 (AI 70): both changed.
    assert row.locator("[data-testid=calibration-scored]").inner_text() == "2"
    assert row.locator("[data-testid=calibration-changed]").inner_text() == "100% (2)"
    assert row.locator("[data-testid=calibration-mean]").inner_text() == "+40.0"
    assert row.locator("[data-testid=calibration-mean-abs]").inner_text() == "40.0"
    assert "1 (принято 1, отклонено 0)" in row.locator("[data-testid=calibration-disputes]").inner_text()
    step = page.locator(f"[data-testid=calibration-row][data-criterion={NEXT_STEP}]")
    assert "1 (принято 0, отклонено 1)" in step.locator("[data-testid=calibration-disputes]").inner_text()
    examples = page.locator(f"[data-testid=calibration-examples][data-criterion={GREETING}]")
    links = examples.locator("a")
    assert {links.nth(i).get_attribute("href") for i in range(links.count())} == {
        f"/t/{slug}/dialogs/601#verdict-{GREETING}",
        f"/t/{slug}/dialogs/602#verdict-{GREETING}",
    }
    assert "ИИ 70 → человек 100" in examples.inner_text() and "Поздоровался по имени" in examples.inner_text()
    screenshot(page, "calibration")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "calibration-phone")
    page.set_viewport_size(DESKTOP)
    links.first.click()
    page.wait_for_url(re.compile(r".*/dialogs/60[12]#verdict-greeting"))
    assert _block(page, GREETING).locator("[data-testid=human-score]").is_visible()


def test_calibration_of_a_company_without_analyses_says_nothing_was_corrected(portal: Portal, page) -> None:
    slug = portal.tenant("vrdempty")
    sign_in(page, portal, portal.account("viewer", slug), f"/t/{slug}/calibration")
    assert page.locator("[data-testid=calibration-empty]").is_visible()
    rows = page.locator("[data-testid=calibration-row]")
    assert rows.count() == len(DEFAULT_RUBRIC.criteria)
    assert rows.first.locator("[data-testid=calibration-scored]").inner_text() == "0"
    page.goto(f"{portal.url}/t/{slug}/calibration?lang=en")
    assert page.locator("h1").inner_text() == "Rubric calibration"
    assert "Nobody has corrected" in page.locator("[data-testid=calibration-empty]").inner_text()
