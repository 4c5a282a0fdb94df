"""A new rubric version re-scores the day a run is asked to, keeps the old verdicts, touches no other day.

Real control plane (the rubric saved as a numbered version through cp.rubrics, the settings read
back as the Dagster asset reads them), real Postgres marts, the sandbox's Gemini emulator over HTTP.
The tenant's analysis table starts in the shape older releases created, to cover the upgrade path.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from synkro.analysis.history import versions
from synkro.analysis.rubric import DEFAULT_RUBRIC
from synkro.analysis.run import analyze_window, ensure_analysis_table
from synkro.analysis.scoring import round_half_up, weighted_overall
from synkro.controlplane import ControlPlane, open_controlplane
from tests.analysis_emulators import Emulators, running_emulators
from tests.analysis_marts import Dialog, create_marts

DAY_A = datetime(2026, 11, 27, 19, 1, tzinfo=UTC)  # business days of Moscow, 22:01 to 22:01
DAY_B = DAY_A + timedelta(days=1)
DAY = timedelta(days=1)
TZ = "Europe/Moscow"


@pytest.fixture(scope="module")
def emulators() -> Iterator[Emulators]:
    with running_emulators("gemini") as emu:
        yield emu


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url) as c:
        yield c


@pytest.fixture
def cp(database_url: str) -> ControlPlane:
    return open_controlplane(database_url)


def _dialogs() -> list[Dialog]:
    a, b = DAY_A + timedelta(hours=14), DAY_B + timedelta(hours=14)
    return [
        Dialog(
            1,
            "Анна",
            501,
            [
                (a, "inbound", "Сколько стоит шкаф?"),
                (a + timedelta(minutes=5), "outbound", "Здравствуйте! 20 000 руб."),
            ],
        ),
        Dialog(
            2, "Борис", 502, [(b, "inbound", "Есть доставка?"), (b + timedelta(hours=3), "outbound", "есть")]
        ),
        Dialog(
            3,
            "Анна",
            503,
            [
                (a, "inbound", "Добрый день, нужна кухня"),
                (a + timedelta(minutes=3), "outbound", "Здравствуйте! Какие размеры? Какой бюджет?"),
                (b, "inbound", "Дорого, подумаю"),
                (b + timedelta(minutes=9), "outbound", "Понимаю, есть рассрочка. Созвонимся завтра в 12?"),
            ],
        ),
    ]


def _old_shaped_table(conn: psycopg.Connection, slug: str) -> None:
    """dialog_analyses as releases before rubric numbering created it: no new columns, no history."""
    ensure_analysis_table(conn, slug)
    schema = f'"{slug}_analysis"'
    conn.execute(f"drop table {schema}.dialog_analysis_history")
    conn.execute(
        f"alter table {schema}.dialog_analyses drop column rubric_number, drop column model_overall_score"
    )
    conn.commit()


def _rows(conn: psycopg.Connection, slug: str, table: str) -> list[tuple]:
    return conn.execute(
        f"select dialog_id, window_start, rubric_number, rubric_version, overall_score, criteria "
        f'from "{slug}_analysis".{table} order by dialog_id, window_start'
    ).fetchall()


def test_a_new_rubric_version_rescores_the_forced_day_only_and_keeps_both(
    emulators: Emulators, conn: psycopg.Connection, cp: ControlPlane
) -> None:
    slug = "rs" + uuid.uuid4().hex[:8]
    cp.tenants.create(slug, "Rescore", timezone=TZ, actor="test")
    create_marts(conn, slug, _dialogs(), [])
    _old_shaped_table(conn, slug)
    conn.execute(
        f'insert into "{slug}_analysis".dialog_analyses (tenant_slug, dialog_id, window_start, window_end, '
        "rubric_version, overall_score, status) values (%s, '9', %s, %s, 'r-old', 70, 'ok')",
        (slug, DAY_A - DAY, DAY_A),
    )
    conn.commit()
    (old,) = versions(conn, slug, "9")  # read before any run upgraded the table: no number column yet
    assert (old.rubric_version, old.rubric_number, old.overall_score, old.current) == (
        "r-old",
        None,
        70,
        True,
    )
    conn.execute(f"delete from \"{slug}_analysis\".dialog_analyses where dialog_id = '9'")
    conn.commit()
    config = {
        "api_key": "sandbox-gemini-api-key",
        "base_url": emulators.gemini,
        "model": "gemini-3.5-flash-lite",
    }

    def run(day: datetime):
        return analyze_window(conn, slug, day, day + DAY, cp.settings.get_settings(slug), config, timezone=TZ)

    assert run(DAY_A).analyzed == 2 and run(DAY_B).analyzed == 2
    before = _rows(conn, slug, "dialog_analyses")
    assert {r[2] for r in before} == {0} and {r[3] for r in before} == {DEFAULT_RUBRIC.version}

    new = DEFAULT_RUBRIC.model_copy(deep=True)
    new.criteria[0].weight, new.criteria[1].weight = 30, 5  # greeting matters more now
    saved = cp.rubrics.save(slug, new, actor="owner@example.com")
    assert saved.number == 1

    forced = run(DAY_B)  # a forced run of day B only
    assert (forced.analyzed, forced.rubric_number, forced.rubric_version) == (2, 1, new.version)
    current = {(r[0], r[1]): r for r in _rows(conn, slug, "dialog_analyses")}
    assert len(current) == 4, "one current verdict per dialog and window"
    for (dialog_id, start), row in current.items():
        expected = (1, new.version) if start == DAY_B else (0, DEFAULT_RUBRIC.version)
        assert row[2:4] == expected, (dialog_id, start, row[2:4])  # day A was not re-scored
        assert row[4] == round_half_up(weighted_overall(row[5]))
        assert {c["key"]: c["weight"] for c in row[5]} == {
            c.key: c.weight for c in (new if start == DAY_B else DEFAULT_RUBRIC).criteria
        }
    history = _rows(conn, slug, "dialog_analysis_history")
    assert [(r[0], r[1], r[2], r[3]) for r in history] == [
        ("2", DAY_B, 0, DEFAULT_RUBRIC.version),
        ("3", DAY_B, 0, DEFAULT_RUBRIC.version),
    ]
    old_b = {r[0]: r for r in before if r[1] == DAY_B}
    assert all(r[4] == old_b[r[0]][4] for r in history), "the replaced verdicts are kept as they were"

    scored_by = versions(conn, slug, "3")
    assert [(v.window_start, v.rubric_number, v.current) for v in scored_by] == [
        (DAY_B, 1, True),
        (DAY_B, 0, False),
        (DAY_A, 0, True),
    ]
    assert versions(conn, slug, "404") == [] and versions(conn, "nosuchtenant", "3") == []

    again = run(DAY_B)  # the same version again: nothing to do, nothing archived
    assert (again.analyzed, again.unchanged) == (0, 2)
    assert len(_rows(conn, slug, "dialog_analysis_history")) == 2
