"""The dialog list's server time on a tenant with 50,000 dialogs (goal: first page ≤ 300 ms).

    .venv/bin/python bench/bench_dialog_list.py                 # 50,000 dialogs, 40 managers
    .venv/bin/python bench/bench_dialog_list.py --dialogs 200000 --repeat 9

Why: the list sorts every dialog the reader may see by risk (left waiting, flags, score) and
pages on the server; that sort runs over the whole tenant on every page. The bench builds the
tenant in a throwaway database in seconds with `generate_series` (the marts in the dbt shape of
tests/dialog_marts.py, analyses through the analysis step's own DDL and indexes, 90% of dialogs
scored, a tenth of those twice), runs `ANALYZE`, then times — median of `--repeat` runs, after
one warm-up — exactly what the portal runs (`synkro.dialogs.listing`):

- the first page (viewer: every dialog), a manager's first page (own dialogs only);
- a filtered page (a flag and score below 50), a deep page (the last one), and the CSV export
  (every row streamed and written as CSV).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._shared import drop_database, fresh_database  # noqa: E402
from synkro.db import with_database  # noqa: E402
from synkro.dialogs.csv_export import write_csv  # noqa: E402
from synkro.dialogs.listing import PAGE_SIZE, DialogFilters, all_rows, dialog_page  # noqa: E402
from synkro.dialogs.scope import DialogScope  # noqa: E402
from tests.dialog_marts import create_tables  # noqa: E402

SLUG = "benchdlg"
ZONE = "Europe/Moscow"
GOAL_MS = 300.0


def build_tenant(conn, dialogs: int, managers: int) -> None:
    m, a = f'"{SLUG}_marts"', f'"{SLUG}_analysis"'
    create_tables(conn, SLUG)
    conn.execute(
        f"""
        insert into {m}.fct_dialogs
        select i, i, 800000 + i, 700000 + i, 1 + i %% %(managers)s, 'Manager ' || (1 + i %% %(managers)s),
               '+7999' || lpad(i::text, 7, '0'), 'whatsapp', 'matched',
               t - interval '2 hours', t, 6, 3, 3, (i * 37) %% 3600, (i * 53) %% 3600,
               i %% 9 = 0, case when i %% 9 = 0 then t end, 1
        from (select i, timestamptz '2026-01-01 09:00+00' + (i * interval '13 minutes') as t
              from generate_series(1, %(dialogs)s) as i) s
        """,
        {"dialogs": dialogs, "managers": managers},
    )
    flags = "array['customer_waiting','price_objection_unresolved','no_next_step','competitor_mentioned']"
    criteria = (
        "jsonb_build_array(jsonb_build_object('key', 'greeting', 'score', i %% 101, 'evidence', "
        "'Здравствуйте', 'reason', 'ok'), jsonb_build_object('key', 'next_step', 'score', (i * 7) %% 101, "
        "'evidence', 'созвонимся', 'reason', 'ok'))"
    )
    conn.execute(
        f"""
        insert into {a}.dialog_analyses (tenant_slug, dialog_id, window_start, window_end, rubric_version,
            prompt_version, model, overall_score, criteria, objections, next_step, risk_flags, sentiment,
            summary, recommendation, status, analyzed_at)
        select %(slug)s, i::text, w - k * interval '1 day', w - (k - 1) * interval '1 day',
               'r-bench', 'p-bench', 'gemini-bench',
               (i * 31) %% 101, {criteria}, '[]', '{{"agreed": false}}',
               to_jsonb(({flags})[1:(i %% 5)]), 'neutral', 'Итог диалога ' || i, 'Совет', 'ok',
               w + interval '1 day 5 minutes' - k * interval '1 day'
        from generate_series(1, %(dialogs)s) as i,
             lateral (select timestamptz '2026-01-01 19:01+00'
                      + ((i * 13 / 1440) * interval '1 day') as w) ww,
             generate_series(0, case when i %% 10 = 0 then 1 else 0 end) as k
        where i %% 10 <> 7
        """,
        {"slug": SLUG, "dialogs": dialogs},
    )
    conn.execute(f"analyze {m}.fct_dialogs")
    conn.execute(f"analyze {a}.dialog_analyses")
    conn.commit()


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    fn()  # warm-up: plans and caches, as on a portal that is already serving
    samples, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogs", type=int, default=50_000)
    parser.add_argument("--managers", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    import psycopg

    server, name = fresh_database()
    try:
        with psycopg.connect(with_database(server, name)) as conn:
            start = time.perf_counter()
            build_tenant(conn, args.dialogs, args.managers)
            print(f"built {args.dialogs:,} dialogs (+ analyses) in {time.perf_counter() - start:.1f} s")
            everyone, manager = DialogScope.all_dialogs(), DialogScope.of_user(7)
            last_page = (args.dialogs + PAGE_SIZE - 1) // PAGE_SIZE

            def page(filters: DialogFilters, scope: DialogScope = everyone):
                return lambda: dialog_page(conn, SLUG, filters, scope=scope, timezone=ZONE)

            def export() -> int:
                out = io.StringIO()
                rows = all_rows(conn, SLUG, DialogFilters(), scope=everyone, timezone=ZONE)
                write_csv(rows, out.write)
                conn.commit()
                return out.tell()

            cases = [
                ("first page (viewer)", page(DialogFilters())),
                ("first page (manager)", page(DialogFilters(), manager)),
                (
                    "filtered page (flag + score < 50)",
                    page(DialogFilters(flag="no_next_step", score_below=50)),
                ),
                (f"deep page ({last_page})", page(DialogFilters(page=last_page))),
            ]
            first_ms = None
            for label, fn in cases:
                ms, result = timed(fn, args.repeat)
                first_ms = first_ms if first_ms is not None else ms
                print(f"{label:38s} {ms:8.1f} ms  ({len(result.rows)} rows, next page: {result.has_next})")
            ms, size = timed(export, max(1, args.repeat // 2))
            print(f"{'CSV export (every row)':38s} {ms:8.1f} ms  ({size / 1e6:.1f} MB)")
            verdict = "OK" if first_ms <= GOAL_MS else "SLOWER THAN GOAL"
            print(f"goal: first page <= {GOAL_MS:.0f} ms -> {verdict}")
    finally:
        drop_database(server, name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
