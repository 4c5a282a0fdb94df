"""Seed `<slug>_marts.mart_manager_dialog_days` by SQL, with the dbt model's columns and types.

Why: the trend tests need several weeks of dialog days with exact first responses and scores
(hand-computed medians), which a raw-data dbt build would make slow and indirect; the dbt model
itself is tested in tests/test_dbt_models.py. `week_start` is computed as the model computes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg


@dataclass(frozen=True)
class Day:
    dialog_id: int
    business_date: date
    manager_id: int | None
    manager_name: str
    first_response_seconds: float | None
    left_waiting: bool
    ai_score: float | None


def create_manager_dialog_days(conn: psycopg.Connection, slug: str, days: list[Day]) -> None:
    s = f'"{slug}_marts"'
    conn.execute(f"create schema if not exists {s}")
    conn.execute(f"drop table if exists {s}.mart_manager_dialog_days")
    conn.execute(
        f"create table {s}.mart_manager_dialog_days (dialog_day_id text primary key, "
        "dialog_id bigint not null, "
        "business_date date not null, week_start date not null, responsible_user_id bigint, "
        "manager_name text not null, messages_total integer, first_response_seconds double precision, "
        "left_waiting boolean not null, ai_score double precision, flagged boolean not null)"
    )
    with conn.cursor() as cur:
        cur.executemany(
            f"insert into {s}.mart_manager_dialog_days values (md5(%(id)s::text || '|' || %(day)s::text), "
            "%(id)s, %(day)s, date_trunc('week', %(day)s::date)::date, %(uid)s, %(name)s, 2, %(fr)s, %(lw)s, "
            "%(score)s, false)",
            [
                {
                    "id": d.dialog_id,
                    "day": d.business_date,
                    "uid": d.manager_id,
                    "name": d.manager_name,
                    "fr": d.first_response_seconds,
                    "lw": d.left_waiting,
                    "score": d.ai_score,
                }
                for d in days
            ],
        )
    conn.commit()


IVAN, ANNA = 11, 12


def _d(month: int, day: int) -> date:
    return date(2026, month, day)


# Three ISO weeks (Mondays 11-02, 11-09, 11-16) and one day before them. Hand-computed figures
# are in tests/test_trends.py.
SEED = [
    Day(100, _d(10, 28), IVAN, "Иван", 1000, False, 20),  # before the 3-week range
    Day(101, _d(11, 2), IVAN, "Иван", 60, False, 70),
    Day(101, _d(11, 3), IVAN, "Иван", 120, True, 80),
    Day(102, _d(11, 4), IVAN, "Иван", 300, False, 50),
    Day(103, _d(11, 6), IVAN, "Иван", None, True, None),
    Day(106, _d(11, 8), IVAN, "Иван", 100, False, None),  # a Sunday: still the week of 11-02
    Day(201, _d(11, 5), ANNA, "Анна", 600, False, 90),
    Day(201, _d(11, 10), ANNA, "Анна", 30, False, 60),
    Day(205, _d(11, 10), ANNA, "Анна", 50, False, 80),
    Day(202, _d(11, 11), ANNA, "Анна", 90, False, 40),
    Day(203, _d(11, 12), ANNA, "Анна", 45, True, None),
    Day(204, _d(11, 13), ANNA, "Анна", 15, False, 100),
    Day(104, _d(11, 16), IVAN, "Иван", 240, False, 30),
    Day(105, _d(11, 17), IVAN, "Иван", 180, False, 90),
    Day(301, _d(11, 18), None, "Unassigned", None, True, None),
]
