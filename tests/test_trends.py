"""Trends per manager (issue 11, item 6): weekly figures and 4-week daily medians over a seeded
`mart_manager_dialog_days` on real Postgres, against figures computed by hand below."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date

import psycopg
import pytest

from synkro import trends
from tests.trends_marts import ANNA, IVAN, SEED, create_manager_dialog_days

LAST = date(2026, 11, 18)
W1, W2, W3 = date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)


@pytest.fixture(scope="module")
def seeded(database_url: str) -> Iterator[tuple[psycopg.Connection, str]]:
    slug = "tr" + uuid.uuid4().hex[:8]
    with psycopg.connect(database_url) as conn:
        create_manager_dialog_days(conn, slug, SEED)
        yield conn, slug


def _figures(w: trends.ManagerWeek) -> tuple:
    return (w.dialogs, w.median_first_response_seconds, w.left_waiting, w.scored, w.average_score)


def test_weekly_figures_equal_hand_computed_values(seeded: tuple[psycopg.Connection, str]) -> None:
    conn, slug = seeded
    got = trends.weekly(conn, slug, last_day=LAST, weeks=3)
    # Both managers have 6 dialogs in the range: name order; the unassigned row is last.
    assert [(t.manager_id, t.manager_name) for t in got] == [
        (ANNA, "Анна"),
        (IVAN, "Иван"),
        (None, "Unassigned"),
    ]
    anna, ivan, unassigned = got
    assert [w.week_start for w in ivan.weeks] == [W1, W2, W3]
    # Иван, week of 11-02: dialogs 101, 102, 103 and 106 (Sunday 11-08 is the same ISO week);
    # first responses 60, 120, 300, 100 -> median 110; 101 and 103 left waiting on a day;
    # scored 101 (avg of 70 and 80 = 75) and 102 (50) -> 62.5. 10-28 is outside the range.
    assert _figures(ivan.weeks[0]) == (4, 110.0, 2, 2, 62.5)
    assert _figures(ivan.weeks[1]) == (0, None, 0, 0, None)  # no dialogs that week
    assert _figures(ivan.weeks[2]) == (2, 210.0, 0, 2, 60.0)  # 240, 180; scores 30, 90
    # Анна, week of 11-09: 201, 205, 202, 203, 204; responses 30, 50, 90, 45, 15 -> 45;
    # scores 60, 80, 40, 100 (203 unscored) -> 70.
    assert _figures(anna.weeks[0]) == (1, 600.0, 0, 1, 90.0)
    assert _figures(anna.weeks[1]) == (5, 45.0, 1, 4, 70.0)
    assert _figures(unassigned.weeks[2]) == (1, None, 1, 0, None)
    assert all(w.corrected_verdicts == w.disputed_verdicts == 0 for t in got for w in t.weeks)


def test_best_dialogs_of_the_week(seeded: tuple[psycopg.Connection, str]) -> None:
    conn, slug = seeded
    anna, ivan, unassigned = trends.weekly(conn, slug, last_day=LAST, weeks=3)
    assert [(b.dialog_id, b.score) for b in anna.best[W2]] == [(204, 100.0), (205, 80.0), (201, 60.0)]
    assert [(b.dialog_id, b.score) for b in ivan.best[W1]] == [(101, 75.0), (102, 50.0)]
    assert W2 not in ivan.best and unassigned.best == {}


def test_one_manager_or_the_unassigned_only(seeded: tuple[psycopg.Connection, str]) -> None:
    conn, slug = seeded
    only = trends.weekly(conn, slug, last_day=LAST, weeks=3, manager=IVAN)
    assert [t.manager_id for t in only] == [IVAN]
    assert _figures(only[0].weeks[0]) == (4, 110.0, 2, 2, 62.5)
    assert [t.manager_name for t in trends.weekly(conn, slug, last_day=LAST, weeks=3, manager=None)] == [
        "Unassigned"
    ]
    assert trends.weekly(conn, slug, last_day=LAST, weeks=3, manager=999) == []
    # A longer range reaches 10-28 (week of 10-26).
    ivan = trends.weekly(conn, slug, last_day=LAST, weeks=4, manager=IVAN)[0]
    assert _figures(ivan.weeks[0]) == (1, 1000.0, 0, 1, 20.0)
    assert trends.latest_day(conn, slug) == LAST


def test_four_week_medians_of_daily_figures(seeded: tuple[psycopg.Connection, str]) -> None:
    conn, slug = seeded
    got = {m.manager_id: m for m in trends.four_week_medians(conn, slug, LAST)}
    # The 28 days before 11-18 (10-21 .. 11-17); the unassigned dialog is on 11-18 itself.
    assert set(got) == {IVAN, ANNA}
    ivan = got[IVAN]
    # 8 active days, one dialog each; responses 1000, 60, 120, 300, 100, 240, 180 (11-06 none)
    # -> 180; scores 20, 70, 80, 50, 30, 90 -> (50 + 70) / 2.
    assert (ivan.days, ivan.dialogs, ivan.first_response_seconds, ivan.score) == (8, 1.0, 180.0, 60.0)
    anna = got[ANNA]
    # 11-10 has two dialogs (responses 30, 50 -> 40; scores 60, 80 -> 70); daily responses
    # 600, 40, 90, 45, 15 -> 45; daily scores 90, 70, 40, 100 -> 80.
    assert (anna.days, anna.dialogs, anna.first_response_seconds, anna.score) == (5, 1.0, 45.0, 80.0)
    assert anna.manager_name == "Анна"
    assert trends.four_week_medians(conn, slug, date(2026, 10, 1)) == []


def test_a_tenant_without_the_mart_has_no_trends(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        slug = "none" + uuid.uuid4().hex[:6]
        assert trends.weekly(conn, slug, last_day=LAST) == []
        assert trends.four_week_medians(conn, slug, LAST) == []
        assert trends.latest_day(conn, slug) is None


def test_human_corrections_replace_the_ai_score(database_url: str) -> None:
    """A head of sales overrides a criterion of dialog 102 (AI 50 -> 70 overall by equal weights)
    and a manager disputes one of 101: the week's average, counts and best dialogs follow."""
    corrections = pytest.importorskip("synkro.analysis.corrections")
    from synkro.analysis.run import ensure_analysis_table

    slug = "trc" + uuid.uuid4().hex[:8]
    with psycopg.connect(database_url) as conn:
        create_manager_dialog_days(conn, slug, SEED)
        ensure_analysis_table(conn, slug)
        criteria = '[{"key": "greeting", "score": %s}, {"key": "close", "score": %s}]'
        for dialog_id, score in (("101", 75), ("102", 50)):
            conn.execute(
                f'insert into "{slug}_analysis".dialog_analyses (tenant_slug, dialog_id, window_start, '
                "window_end, status, overall_score, criteria, risk_flags, analyzed_at) "
                "values (%s, %s, '2026-11-03', '2026-11-04', 'ok', %s, %s::jsonb, '[]'::jsonb, now())",
                (slug, dialog_id, score, criteria % (score, score)),
            )
        conn.commit()
        corrections.ensure_table(conn, slug)
        common = {"rubric_version": "v1", "ai_score": 50}
        corrections.record(
            conn,
            slug,
            "102",
            "greeting",
            "override",
            score=90,
            note="tone was fine",
            actor="head@t",
            actor_role="admin",
            **common,
        )
        corrections.record(
            conn,
            slug,
            "101",
            "close",
            "dispute",
            score=None,
            note="I did close",
            actor="ivan@t",
            actor_role="manager",
            **common,
        )
        ivan = trends.weekly(conn, slug, last_day=LAST, weeks=3, manager=IVAN)[0]
        week = ivan.weeks[0]
        # 101 keeps 75 (a dispute changes nothing), 102 becomes (90 + 50) / 2 = 70.
        assert (week.scored, week.average_score, week.corrected_verdicts, week.disputed_verdicts) == (
            2,
            72.5,
            1,
            1,
        )
        assert [(b.dialog_id, b.score, b.corrected) for b in ivan.best[W1]] == [
            (101, 75.0, False),
            (102, 70.0, True),
        ]
        assert ivan.weeks[2].corrected_verdicts == 0  # 104, 105 uncorrected
        # Daily scores 20, 70, 80, 70 (was 50), 30, 90 -> median 70.
        medians = {m.manager_id: m for m in trends.four_week_medians(conn, slug, LAST)}
        assert medians[IVAN].score == 70.0
