"""Human corrections of AI verdicts (synkro.analysis.corrections) on a real Postgres."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from synkro.analysis import corrections
from synkro.analysis.corrections import CorrectionError, human_overall_sql, record, states
from synkro.analysis.rubric import DEFAULT_RUBRIC
from synkro.analysis.run import ensure_analysis_table

DAY1 = datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url) as connection:
        yield connection


@pytest.fixture
def slug(conn: psycopg.Connection) -> str:
    """A tenant with the analysis schema set up (which creates the corrections table too)."""
    name = f"corr_{uuid.uuid4().hex[:8]}"
    ensure_analysis_table(conn, name)
    return name


def _analysis(
    conn: psycopg.Connection,
    slug: str,
    dialog_id: str,
    start: datetime,
    scores: dict[str, int],
    overall: int,
    *,
    rubric_version: str = DEFAULT_RUBRIC.version,
    analyzed_at: datetime | None = None,
) -> None:
    criteria = [{"key": k, "score": v, "evidence": "…", "reason": "…"} for k, v in scores.items()]
    conn.execute(
        f'insert into "{slug}_analysis".dialog_analyses (tenant_slug, dialog_id, window_start, window_end, '
        "rubric_version, overall_score, criteria, status, analyzed_at) "
        "values (%s, %s, %s, %s, %s, %s, %s::jsonb, 'ok', %s)",
        (
            slug,
            dialog_id,
            start,
            start + timedelta(days=1),
            rubric_version,
            overall,
            json.dumps(criteria),
            analyzed_at or start + timedelta(days=1, hours=1),
        ),
    )
    conn.commit()


def _write(conn, slug, kind, *, key="greeting", dialog="d1", score=None, note=None, role=None, ai=40):
    role = role or ("manager" if kind == "dispute" else "viewer")
    return record(
        conn,
        slug,
        dialog,
        key,
        kind,
        score=score,
        note=note,
        ai_score=ai,
        rubric_version=DEFAULT_RUBRIC.version,
        actor=f"{role}@example.com",
        actor_role=role,
    )


def test_dispute_then_accept_gives_the_human_value_and_keeps_the_history(conn, slug) -> None:
    _write(conn, slug, "dispute", note="Я поздоровался в первом сообщении")
    state = states(conn, slug, ["d1"])["d1"]["greeting"]
    assert state.open_dispute and state.human_score is None
    assert state.dispute.note == "Я поздоровался в первом сообщении"

    _write(conn, slug, "accept", score=90, note="Верно, приветствие есть")
    state = states(conn, slug, ["d1", "other"])["d1"]["greeting"]
    assert not state.open_dispute
    assert state.human_score == 90
    assert [(r.kind, r.score, r.ai_score, r.actor_role) for r in state.history] == [
        ("dispute", None, 40, "manager"),
        ("accept", 90, 40, "viewer"),
    ]
    assert state.history[0].created_at <= state.history[1].created_at

    # A later override replaces the human value; a rejected dispute leaves it as it was.
    _write(conn, slug, "override", score=70, note="Имя клиента не названо", role="admin")
    _write(conn, slug, "dispute", note="Имя было в первом сообщении")
    _write(conn, slug, "reject", note="Имени в переписке нет", role="admin")
    state = states(conn, slug, ["d1"])["d1"]["greeting"]
    assert state.human_score == 70 and not state.open_dispute
    assert [r.kind for r in state.history] == ["dispute", "accept", "override", "dispute", "reject"]


@pytest.mark.parametrize(
    ("kind", "role", "score", "note", "code"),
    [
        ("approve", "viewer", 50, "x", "kind"),
        ("accept", "manager", 50, "x", "role"),
        ("override", "manager", 50, "x", "role"),
        ("dispute", "viewer", None, "x", "role"),
        ("dispute", "nobody", None, "x", "role"),
        ("override", "viewer", None, "x", "score"),
        ("override", "viewer", 101, "x", "score"),
        ("override", "viewer", -1, "x", "score"),
        ("dispute", "manager", 50, "x", "score"),
        ("dispute", "manager", None, "  ", "note"),
        ("override", "admin", 50, None, "note"),
        ("override", "admin", 50, "x" * (corrections.NOTE_MAX + 1), "note_long"),
        ("accept", "viewer", 50, None, "no_dispute"),
        ("reject", "viewer", None, "нет", "no_dispute"),
    ],
)
def test_refusals_name_the_rule_and_write_nothing(conn, slug, kind, role, score, note, code) -> None:
    with pytest.raises(CorrectionError) as refused:
        _write(conn, slug, kind, score=score, note=note, role=role)
    assert refused.value.code == code
    assert states(conn, slug, ["d1"]) == {}


def test_a_dispute_waits_for_its_answer_before_another(conn, slug) -> None:
    _write(conn, slug, "dispute", note="не согласен")
    with pytest.raises(CorrectionError) as refused:
        _write(conn, slug, "dispute", note="ещё раз")
    assert refused.value.code == "already_disputed"
    assert len(states(conn, slug, ["d1"])["d1"]["greeting"].history) == 1


def test_the_table_is_append_only(conn, slug) -> None:
    _write(conn, slug, "override", score=55, note="coach")
    table = f'"{slug}_analysis".verdict_corrections'
    for statement in (
        f"update {table} set score = 100",
        f"delete from {table}",
        f"truncate {table}",
    ):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute(statement)
        conn.rollback()
    # The database also refuses a human value without a score, whatever the caller.
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            f"insert into {table} (dialog_id, criterion_key, kind, actor, actor_role) "
            "values ('d1', 'greeting', 'override', 'x', 'admin')"
        )
    conn.rollback()
    assert states(conn, slug, ["d1"])["d1"]["greeting"].human_score == 55


def test_states_of_a_tenant_without_the_table_is_empty(conn) -> None:
    assert states(conn, f"none_{uuid.uuid4().hex[:6]}", ["d1"]) == {}


def test_human_overall_recomputes_by_the_rubric_weights(conn, slug) -> None:
    corrections.remember_rubric(conn, slug, DEFAULT_RUBRIC)
    ai = {
        "greeting": 40,
        "needs_discovery": 62,
        "presentation_price": 80,
        "objection_handling": 50,
        "next_step": 30,
        "speed_politeness": 90,
    }
    _analysis(conn, slug, "d1", DAY1, ai, overall=57)
    _analysis(conn, slug, "d2", DAY1, ai, overall=57)
    # greeting (weight 10) 40 → 90 and next_step (weight 20) 30 → 80: +5 and +10 points.
    _write(conn, slug, "override", key="greeting", score=90, note="есть приветствие")
    _write(conn, slug, "dispute", key="next_step", note="договорились на завтра")
    _write(conn, slug, "accept", key="next_step", score=80, note="да")
    _write(conn, slug, "dispute", key="needs_discovery", note="спрашивал бюджет")
    weighted = sum(DEFAULT_RUBRIC.criteria[i].weight * v for i, v in enumerate(ai.values())) / 100
    assert weighted == 58.0
    expected = 58 + (90 - 40) * 10 // 100 + (80 - 30) * 20 // 100  # 73

    rows = {
        r[0]: r[1:]
        for r in conn.execute(
            "select dialog_id, ai_overall, corrected_overall, corrected_criteria, disputed_criteria "
            f"from {human_overall_sql(slug)} as h"
        )
    }
    assert rows["d1"] == (57, expected, 2, 1)
    assert rows["d2"] == (57, 57, 0, 0)  # nothing corrected: the stored overall stands


def test_corrections_survive_a_new_analysis_and_apply_per_window(conn, slug) -> None:
    corrections.remember_rubric(conn, slug, DEFAULT_RUBRIC)
    _analysis(conn, slug, "d1", DAY1, {"greeting": 40, "needs_discovery": 60}, overall=55)
    _write(conn, slug, "override", key="greeting", score=100, note="coach")
    # The dialog changed and was analysed again the next day: the human value still stands.
    _analysis(conn, slug, "d1", DAY2, {"greeting": 20, "needs_discovery": 80}, overall=70)

    latest = conn.execute(
        f"select window_start, ai_overall, corrected_overall from {human_overall_sql(slug)} as h"
    ).fetchall()
    # greeting weight 10, needs_discovery 25: (100*10 + 80*25) / 35
    assert latest == [(DAY2, 70, round((100 * 10 + 80 * 25) / 35))]

    per_window = conn.execute(
        "select window_start, corrected_overall, corrected_criteria "
        f"from {human_overall_sql(slug, per_window=True)} as h order by window_start"
    ).fetchall()
    assert per_window == [
        (DAY1, round((100 * 10 + 60 * 25) / 35), 1),
        (DAY2, round((100 * 10 + 80 * 25) / 35), 1),
    ]
    history = states(conn, slug, ["d1"])["d1"]["greeting"].history
    assert [(r.kind, r.ai_score) for r in history] == [("override", 40)]


def test_unknown_rubric_weights_fall_back_to_equal_weights(conn, slug) -> None:
    _analysis(conn, slug, "d1", DAY1, {"a_one": 40, "b_two": 60}, overall=50, rubric_version="r-unknown")
    _write(conn, slug, "override", key="a_one", score=80, note="x")
    row = conn.execute(f"select corrected_overall from {human_overall_sql(slug)} as h").fetchone()
    assert row == (70,)


def test_the_report_uses_human_values_and_says_how_many_were_corrected(conn, slug) -> None:
    from synkro.controlplane.settings import TenantSettings
    from synkro.report.build import build_report
    from synkro.report.model import ReportWindow
    from synkro.report.render import telegram_messages
    from tests.analysis_marts import Dialog, create_marts

    at = DAY1 + timedelta(hours=10)
    create_marts(
        conn,
        slug,
        [
            Dialog(1, "Анна", 501, [(at, "inbound", "Цена?"), (at + timedelta(minutes=5), "outbound", "1")]),
            Dialog(2, "Борис", 502, [(at, "inbound", "Привет"), (at + timedelta(minutes=9), "outbound", "")]),
        ],
        [],
    )
    corrections.remember_rubric(conn, slug, DEFAULT_RUBRIC)
    scores = {"greeting": 40, "needs_discovery": 40}
    _analysis(conn, slug, "1", DAY1, scores, overall=40)
    _analysis(conn, slug, "2", DAY1, scores, overall=40)
    _write(conn, slug, "dispute", dialog="1", key="greeting", note="поздоровался")
    _write(conn, slug, "accept", dialog="1", key="greeting", score=100, note="да")
    _write(conn, slug, "override", dialog="1", key="needs_discovery", score=75, note="спрашивал")
    _write(conn, slug, "dispute", dialog="2", key="greeting", note="тоже поздоровался")

    window = ReportWindow(start=DAY1, end=DAY2, timezone="Europe/Moscow", label="29.11.2026")
    report = build_report(conn, slug, window, TenantSettings(min_dialogs=1), {})
    human = round((100 * 10 + 75 * 25) / 35)  # 82
    assert report.quality.average == (human + 40) / 2
    assert (report.quality.maximum, report.quality.minimum) == (human, 40)
    assert (report.quality.corrected_verdicts, report.quality.corrected_dialogs) == (2, 1)
    assert report.quality.disputed_verdicts == 1
    assert {m.manager_name: m.average_score for m in report.managers} == {"Анна": human, "Борис": 40}
    text = "\n".join(telegram_messages(report))
    assert "Исправлено людьми оценок: 2 в 1 диалоге; оспорено и ждёт ответа: 1" in text


def test_the_view_for_the_marts_holds_the_per_window_scores(conn, slug) -> None:
    corrections.remember_rubric(conn, slug, DEFAULT_RUBRIC)
    _analysis(conn, slug, "d1", DAY1, {"greeting": 40, "needs_discovery": 60}, overall=55)
    _write(conn, slug, "override", key="greeting", score=100, note="coach")
    view = conn.execute(
        f'select dialog_id, window_start, corrected_overall, corrected_criteria from "{slug}_analysis".'
        "dialog_human_scores"
    ).fetchall()
    assert view == [("d1", DAY1, round((100 * 10 + 60 * 25) / 35), 1)]


def test_stored_weights_na_criteria_and_the_fatal_cap_apply_to_human_values(conn, slug) -> None:
    """Analyses that store each criterion's weight and type (issue 14.3's scoring) are recomputed alike."""
    criteria = [
        {"key": "greeting", "score": 90, "weight": 20, "type": "scored"},
        {"key": "politeness", "score": 80, "weight": 30, "type": "fatal"},
        {"key": "delivery", "score": None, "weight": 50, "type": "na_allowed", "not_applicable": True},
    ]
    for dialog in ("d1", "d2"):
        conn.execute(
            f'insert into "{slug}_analysis".dialog_analyses (tenant_slug, dialog_id, window_start, '
            "window_end, rubric_version, overall_score, criteria, status) "
            "values (%s, %s, %s, %s, 'r-x', 84, %s::jsonb, 'ok')",
            (slug, dialog, DAY1, DAY2, json.dumps(criteria)),
        )
    conn.commit()
    # d1: a coach lowers greeting to 40 → (40·20 + 80·30) / 50 = 64 (delivery N/A stays out).
    _write(conn, slug, "override", dialog="d1", key="greeting", score=40, note="нет имени")
    # d2: the fatal criterion corrected to 30 → (90·20 + 30·30) / 50 = 54, capped at 40.
    _write(conn, slug, "override", dialog="d2", key="politeness", score=30, note="грубо")
    rows = dict(conn.execute(f"select dialog_id, corrected_overall from {human_overall_sql(slug)} as h"))
    assert rows == {"d1": 64, "d2": corrections.FATAL_CAP}
