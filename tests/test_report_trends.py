"""The daily report's line per manager against their 4-week median (issue 11, item 6): figures
from seeded marts on real Postgres, computed by hand, and the Telegram split with many managers."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import psycopg
import pytest

from synkro.controlplane.settings import TenantSettings
from synkro.report.build import build_report
from synkro.report.model import ManagerRow, ManagerVsUsual, Report, ReportWindow
from synkro.report.render import TELEGRAM_LIMIT, telegram_messages
from tests.analysis_marts import create_marts
from tests.test_analysis import _dialogs
from tests.test_report import WINDOW  # the business day 29.11.2026 (Moscow)
from tests.trends_marts import Day, create_manager_dialog_days

ANNA_ID = 21


def _day(
    dialog_id: int, day: int, month: int, uid: int | None, name: str, fr: float | None, score: float | None
):
    return Day(dialog_id, date(2026, month, day), uid, name, fr, False, score)


HISTORY = [
    _day(905, 31, 10, ANNA_ID, "Анна", 5, 10),  # 29 days before: outside the 4 weeks
    _day(901, 20, 11, ANNA_ID, "Анна", 600, 70),
    _day(902, 21, 11, ANNA_ID, "Анна", 1200, 80),
    _day(903, 21, 11, ANNA_ID, "Анна", 300, 60),  # 11-21: 2 dialogs, median 750, score 70
    _day(904, 25, 11, ANNA_ID, "Анна", 240, None),
    _day(906, 29, 11, ANNA_ID, "Анна", 1, 100),  # the report's own day: not history
    _day(907, 22, 11, None, "Unassigned", None, None),
]


def test_each_manager_is_compared_with_their_four_week_median(database_url: str) -> None:
    slug = "u" + uuid.uuid4().hex[:8]
    with psycopg.connect(database_url) as conn:
        create_marts(conn, slug, _dialogs(), [])
        create_manager_dialog_days(conn, slug, HISTORY)
        report = build_report(conn, slug, WINDOW, TenantSettings(), {})
    got = {m.manager_name: m for m in report.against_usual}
    # Борис has no history: no line. Анна's days 11-20, 11-21, 11-25: dialogs 1, 2, 1 -> 1;
    # responses 600, 750, 240 -> 600; scores 70, 70 (11-25 unscored) -> 70.
    assert set(got) == {"Анна", "Без менеджера"}
    anna = got["Анна"]
    assert (anna.dialogs, anna.first_response_seconds, anna.score) == (1, 180, None)  # today, no analysis
    assert (anna.usual_dialogs, anna.usual_first_response_seconds, anna.usual_score, anna.history_days) == (
        1.0,
        600.0,
        70.0,
        3,
    )
    none = got["Без менеджера"]
    assert (none.usual_dialogs, none.usual_first_response_seconds, none.usual_score) == (1.0, None, None)
    text = "\n".join(telegram_messages(report))
    assert "<b>Сегодня и обычно</b> (в скобках — медиана за 4 нед.)" in text
    assert "Анна: диалогов 1 (1), ответ 3 мин (10 мин), оценка — (70)" in text
    assert "Без менеджера: диалогов 1 (1), ответ — (—), оценка — (—)" in text
    assert "Борис: диалогов" not in text


def test_without_the_trend_mart_the_report_has_no_such_line(database_url: str) -> None:
    slug = "v" + uuid.uuid4().hex[:8]
    with psycopg.connect(database_url) as conn:
        create_marts(conn, slug, _dialogs(), [])
        report = build_report(conn, slug, WINDOW, TenantSettings(), {})
    assert report.against_usual == [] and report.managers
    assert "Сегодня и обычно" not in "\n".join(telegram_messages(report))


def test_many_managers_stay_within_telegram_limits() -> None:
    names = [f"Менеджер <{i}> & {'очень длинная фамилия ' * 3}" for i in range(300)]
    report = Report(
        tenant_slug="big",
        window=WINDOW,
        generated_at=datetime.now(UTC),
        managers=[
            ManagerRow(
                manager_name=n, dialogs=3, median_first_response_seconds=60, left_waiting=0, average_score=70
            )
            for n in names
        ],
        against_usual=[
            ManagerVsUsual(
                manager_name=n,
                dialogs=3,
                usual_dialogs=2.5,
                first_response_seconds=720,
                usual_first_response_seconds=1200,
                score=71,
                usual_score=65,
                history_days=20,
            )
            for n in names
        ],
    )
    messages = telegram_messages(report)
    assert len(messages) > 1 and all(len(m) <= TELEGRAM_LIMIT for m in messages)
    text = "\n".join(messages)
    for i in range(300):
        assert f"Менеджер &lt;{i}&gt; &amp; " in text
    assert text.count("ответ 12 мин (20 мин), оценка 71 (65)") == 300


@pytest.mark.parametrize("label", ["", "forced"])
def test_a_forced_window_compares_with_the_weeks_before_its_last_local_day(
    database_url: str, label: str
) -> None:
    slug = "w" + uuid.uuid4().hex[:8]
    window = ReportWindow(start=WINDOW.start, end=WINDOW.end, timezone=WINDOW.timezone, label=label)
    with psycopg.connect(database_url) as conn:
        create_marts(conn, slug, _dialogs(), [])
        create_manager_dialog_days(conn, slug, HISTORY)
        report = build_report(conn, slug, window, TenantSettings(), {})
    # The window ends 29.11 22:01 Moscow: the same day as the labelled report.
    assert {m.manager_name: m.history_days for m in report.against_usual} == {"Анна": 3, "Без менеджера": 1}
