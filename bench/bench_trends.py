"""Trends per manager on a big tenant: how long the portal's queries take.

    .venv/bin/python bench/bench_trends.py                    # 50,000 dialogs, 100 managers
    .venv/bin/python bench/bench_trends.py --dialogs 5000     # a quick check

Why: `/t/{slug}/managers` and each manager's page read `mart_manager_dialog_days` on every view
(human corrections are applied at read time), so the query time is the page's server time. The
bench seeds the mart of a throwaway database with generate_series: `--dialogs` dialogs over 12
ISO weeks, each active on 1-4 days, spread over `--managers` managers (a twentieth unassigned),
three in four days scored. It prints the time of `synkro.trends.weekly` for every manager (the
list), for one manager (a manager's page) and of `four_week_medians` (the report), the median of
`--repeat` runs each. Goal: the list under 300 ms at 50,000 dialogs. The machine's load skews
the figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402

from synkro import trends  # noqa: E402
from synkro.db import database_url, with_database  # noqa: E402

LAST = date(2026, 11, 29)

SEED = """
create schema {s};
create table {s}.mart_manager_dialog_days as
with dialogs as (
    select g as dialog_id,
           case when g % 20 = 0 then null else 1 + g % {managers} end as uid,
           date '2026-09-07' + (g * 7919 % 84) as first_day,
           1 + g % 4 as active_days
    from generate_series(1, {dialogs}) g
)
select md5(d.dialog_id || '|' || (d.first_day + k))::text as dialog_day_id,
       d.dialog_id::bigint, (d.first_day + k)::date as business_date,
       date_trunc('week', d.first_day + k)::date as week_start,
       d.uid::bigint as responsible_user_id,
       coalesce('Manager ' || d.uid, 'Unassigned') as manager_name,
       (2 + k)::integer as messages_total,
       (30 + (d.dialog_id * 37 + k * 11) % 3600)::double precision as first_response_seconds,
       ((d.dialog_id + k) % 5 = 0) as left_waiting,
       case when (d.dialog_id + k) % 4 <> 0 then (20 + (d.dialog_id * 13 + k) % 80)::double precision end
           as ai_score,
       false as flagged
from dialogs d cross join lateral generate_series(0, d.active_days - 1) k;
create index on {s}.mart_manager_dialog_days (business_date, responsible_user_id);
analyze {s}.mart_manager_dialog_days;
"""


def timed(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dialogs", type=int, default=50_000)
    parser.add_argument("--managers", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    server = with_database(database_url(), "postgres")
    name = f"synkro_bench_trends_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    try:
        with psycopg.connect(with_database(server, name)) as conn:
            slug = "bench"
            t0 = time.perf_counter()
            conn.execute(SEED.format(s=f'"{slug}_marts"', managers=args.managers, dialogs=args.dialogs))
            conn.commit()
            rows = conn.execute(f'select count(*) from "{slug}_marts".mart_manager_dialog_days').fetchone()[0]
            print(f"seeded {args.dialogs} dialogs, {rows} dialog days in {time.perf_counter() - t0:.1f} s")
            listed = trends.weekly(conn, slug, last_day=LAST)
            print(f"managers in the list: {len(listed)}")
            figures = {
                "list (every manager, 12 weeks)": lambda: trends.weekly(conn, slug, last_day=LAST),
                "one manager's page": lambda: trends.weekly(conn, slug, last_day=LAST, manager=1),
                "report: 4-week medians": lambda: trends.four_week_medians(conn, slug, LAST),
            }
            for label, fn in figures.items():
                print(f"{label}: {timed(fn, args.repeat):.0f} ms (median of {args.repeat})")
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
