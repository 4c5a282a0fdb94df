"""Issue 11, item 6: the trends per manager pages in Chromium over seeded marts.

The marts are seeded as in tests/test_trends.py (three ISO weeks of November 2026), so the
figures on the pages are the hand-computed ones there. A manager sees only their own page.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import pytest

from tests.fixtures.portal import DESKTOP, PHONE, Account, Portal, screenshot, sign_in
from tests.trends_marts import ANNA, IVAN, SEED, create_manager_dialog_days

SILENT = 13  # a manager amoCRM knows, without dialogs in the range


@dataclass
class Seeded:
    slug: str
    viewer: Account
    ivan: Account


@pytest.fixture(scope="module")
def seeded(portal: Portal, database_url: str) -> Seeded:
    slug = portal.tenant("trend")
    with psycopg.connect(database_url) as conn:
        create_manager_dialog_days(conn, slug, SEED)
        conn.execute(
            f'create table "{slug}_marts".dim_managers (user_id bigint primary key, manager_name text)'
        )
        conn.execute(
            f'insert into "{slug}_marts".dim_managers values (%s, %s), (%s, %s), (%s, %s)',
            (IVAN, "Иван", ANNA, "Анна", SILENT, "Семён"),
        )
        conn.commit()
    return Seeded(slug, portal.account("viewer", slug), portal.account("manager", slug, amocrm_user_id=IVAN))


def test_viewer_sees_every_manager_with_sparklines_and_one_manager_in_full(
    portal: Portal, seeded: Seeded, page
) -> None:
    base = f"/t/{seeded.slug}/managers"
    sign_in(page, portal, seeded.viewer, base)
    rows = page.get_by_test_id("manager-row")
    # 12 weeks reach back to 10-28: Иван has 7 dialogs, Анна 6; the unassigned row is last.
    assert [rows.nth(i).get_attribute("data-manager") for i in range(rows.count())] == [
        str(IVAN),
        str(ANNA),
        "unassigned",
    ]
    assert page.get_by_test_id("sparkline").count() == 12  # 4 metrics per row
    first = page.get_by_test_id("sparkline").first
    assert first.get_attribute("role") == "img"
    assert "02.11: 4; 09.11: 0; 16.11: 2" in first.locator("desc").text_content()  # Иван's dialogs
    assert page.locator("[style]").count() == 0  # the CSP allows no inline style
    screenshot(page, "managers-list")
    page.set_viewport_size(PHONE)
    screenshot(page, "managers-list-phone")
    page.set_viewport_size(DESKTOP)

    page.get_by_role("link", name="Иван").click()
    page.wait_for_url(f"{portal.url}{base}/{IVAN}")
    assert page.get_by_test_id("manager-name").text_content() == "Иван"
    charts = page.get_by_test_id("chart")
    assert charts.count() == 4
    score = page.locator("svg[data-chart=chart-score]")
    assert "Средняя оценка по неделям: Иван" in score.locator("title").first.text_content()
    assert "02.11: 62.5" in score.locator("desc").text_content()
    assert score.locator("text.chart-label").count() == 2  # both axes are named
    week = page.locator("[data-testid=week-row][data-week='2026-11-02']")
    assert week.get_by_test_id("week-score").text_content().startswith("62.5")
    assert "1 мин 50 с" in week.text_content()  # median 110 s
    # The table lists the weeks with dialogs (the charts show the empty ones as gaps or zeros).
    assert page.get_by_test_id("week-row").count() == 3
    best = page.get_by_test_id("best-dialog")
    assert best.first.get_attribute("href") == f"/t/{seeded.slug}/dialogs/105"  # newest week first
    assert {best.nth(i).get_attribute("href").rsplit("/", 1)[1] for i in range(best.count())} == {
        "105",
        "104",
        "101",
        "102",
        "100",
    }
    screenshot(page, "manager-page")
    page.set_viewport_size(PHONE)
    screenshot(page, "manager-page-phone")

    page.set_viewport_size(DESKTOP)
    page.goto(f"{portal.url}{base}/unassigned")
    assert page.get_by_test_id("manager-name").text_content() == "Без менеджера"
    page.goto(f"{portal.url}{base}/{SILENT}")
    assert page.get_by_test_id("manager-empty").is_visible()
    assert page.goto(f"{portal.url}{base}/424242").status == 404
    assert page.goto(f"{portal.url}{base}/not-a-number").status == 404
    assert page.goto(f"{portal.url}{base}?lang=en").status == 200
    assert page.get_by_role("heading", name="Managers by week").is_visible()


def test_a_manager_sees_only_their_own_trend(portal: Portal, seeded: Seeded, page) -> None:
    base = f"/t/{seeded.slug}/managers"
    sign_in(page, portal, seeded.ivan, base)
    rows = page.get_by_test_id("manager-row")
    assert rows.count() == 1 and rows.first.get_attribute("data-manager") == str(IVAN)
    assert page.get_by_test_id("nav-managers").get_attribute("aria-current") == "page"
    assert page.goto(f"{portal.url}{base}/{IVAN}").status == 200
    assert page.get_by_test_id("chart").count() == 4
    for other in (str(ANNA), str(SILENT), "unassigned"):
        assert page.goto(f"{portal.url}{base}/{other}").status == 404, other


def test_empty_states(portal: Portal, seeded: Seeded, page) -> None:
    fresh = portal.tenant("trendnone")
    admin = portal.account("admin", fresh)
    sign_in(page, portal, admin, f"/t/{fresh}/managers")
    assert "после первого запуска" in page.get_by_test_id("managers-empty").text_content()
    screenshot(page, "managers-empty")
    silent = portal.account("manager", seeded.slug, amocrm_user_id=SILENT)  # no dialogs in the range
    page.context.clear_cookies()
    sign_in(page, portal, silent, f"/t/{seeded.slug}/managers")
    assert "За последние 12 недель диалогов нет" in page.get_by_test_id("managers-empty").text_content()
    assert page.get_by_test_id("manager-row").count() == 0
    page.goto(f"{portal.url}/t/{seeded.slug}/managers/{SILENT}")
    assert page.get_by_test_id("manager-name").text_content() == "Семён"
    assert page.get_by_test_id("manager-empty").is_visible() and page.get_by_test_id("chart").count() == 0
    screenshot(page, "manager-empty")


def test_charts_escape_text_and_break_the_line_at_missing_values() -> None:
    from synkro.web.charts import line_chart, sparkline

    svg = str(
        line_chart(
            "chart-x",
            ["a", "b", "c", "d"],
            [1.0, None, 3.0, 4.0],
            title="<script>alert(1)</script>",
            x_label="week & day",
            y_label="n",
        )
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "week &amp; day" in svg
    assert svg.count("<polyline") == 1  # "a" alone is a point; "c"-"d" a line
    assert svg.count("<circle") == 3 and "b: —" in svg
    assert 'aria-labelledby="chart-x-title chart-x-desc"' in svg and "style=" not in svg
    empty = str(sparkline("s", ["a", "b"], [None, None], title="t", missing="нет данных"))
    assert "<polyline" not in empty and "a: нет данных; b: нет данных" in empty
    with pytest.raises(ValueError, match="one label per value"):
        line_chart("c", ["a"], [1.0, 2.0], title="t", x_label="x", y_label="y")
