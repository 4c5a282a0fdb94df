"""Trends per manager: per ISO week (the tenant's), and per day for the report's 4-week medians.

Why a module of its own: the portal's manager pages and the daily Telegram report both compare a
manager with their own past, and must agree on what a week's (or a day's) figures are. Both read
the dbt mart `mart_manager_dialog_days` (one row per dialog and business day) and apply the human
corrections of AI verdicts here, at read time, because a head of sales corrects a score between
runs and the next page view must show it.

The rules, in one place:
- a week is the ISO week (Monday to Sunday) of the business day's label, a date in the tenant's
  time zone; a dialog belongs to the manager responsible for it now (`fct_dialogs`);
- dialogs: distinct dialogs with activity in the week (a dialog active on three days is one);
- median first response: the median over the week's dialog days of the day's first response;
- left waiting: dialogs whose customer had the last word at the end of at least one day;
- score of a dialog in a week: its human-corrected overall score where a correction exists
  (`corrections.human_overall_sql`), else the average of its AI day scores that week; the week's
  average score is the mean over the scored dialogs; corrected and disputed verdicts are counted
  over those dialogs (so a dialog scored in two weeks counts in both);
- best dialogs of the week: the highest scores, ties broken by dialog id;
- dialogs without a manager form their own row (`manager_id` None, shown as "unassigned").
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import psycopg
from psycopg import sql

MART = "mart_manager_dialog_days"
BEST_PER_WEEK = 3
HISTORY_DAYS = 28
_NO_CORRECTIONS = (
    "select null::text as dialog_id, null::double precision as corrected_overall, "
    "0 as corrected_criteria, 0 as disputed_criteria where false"
)


@dataclass(frozen=True)
class ManagerWeek:
    """One manager's figures for one ISO week (zeros and None for a week without dialogs)."""

    week_start: date
    dialogs: int = 0
    median_first_response_seconds: float | None = None
    left_waiting: int = 0
    scored: int = 0
    average_score: float | None = None
    corrected_verdicts: int = 0
    disputed_verdicts: int = 0


@dataclass(frozen=True)
class BestDialog:
    """A coaching example: one of the week's best-scored dialogs."""

    week_start: date
    dialog_id: int
    score: float
    corrected: bool


@dataclass
class ManagerTrend:
    """A manager's weeks, oldest first, every week of the range present."""

    manager_id: int | None
    manager_name: str
    weeks: list[ManagerWeek]
    best: dict[date, list[BestDialog]] = field(default_factory=dict)

    @property
    def dialogs(self) -> int:
        return sum(w.dialogs for w in self.weeks)


@dataclass(frozen=True)
class ManagerDay:
    """One manager's figures for one business day (the report compares today with these)."""

    business_date: date
    manager_id: int | None
    manager_name: str
    dialogs: int
    median_first_response_seconds: float | None
    average_score: float | None


@dataclass(frozen=True)
class DayMedians:
    """A manager's medians over the active days of the 4 weeks before a day."""

    manager_id: int | None
    manager_name: str
    days: int
    dialogs: float | None
    first_response_seconds: float | None
    score: float | None


def week_of(day: date) -> date:
    """Monday of the ISO week holding ``day``."""
    return day - timedelta(days=day.weekday())


def _exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    row = conn.execute("select to_regclass(%s)", (f'"{schema}"."{table}"',)).fetchone()
    return bool(row and row[0])


def available(conn: psycopg.Connection, slug: str) -> bool:
    """Whether the mart the trends read has been built for the tenant."""
    return _exists(conn, f"{slug}_marts", MART)


def human_overall(conn: psycopg.Connection, slug: str) -> sql.Composable:
    """Per dialog_id (text): corrected_overall, corrected_criteria, disputed_criteria.

    From the corrections contract (`synkro.analysis.corrections.human_overall_sql`: one row per
    dialog, its latest ok analysis; ``corrected_overall`` equals the AI's overall when no
    criterion carries a human value, so callers use it only when ``corrected_criteria > 0``).
    An empty relation of the same shape while that module or the tenant's tables do not exist.
    """
    try:
        from synkro.analysis.corrections import human_overall_sql
    except ImportError:
        return sql.SQL(_NO_CORRECTIONS)
    schema = f"{slug}_analysis"
    if not (_exists(conn, schema, "verdict_corrections") and _exists(conn, schema, "dialog_analyses")):
        return sql.SQL(_NO_CORRECTIONS)
    return sql.SQL("select * from {} as h0").format(sql.SQL(human_overall_sql(slug)))  # type: ignore[arg-type]


def latest_day(conn: psycopg.Connection, slug: str) -> date | None:
    """The newest business day in the mart: where the trend's range ends by default."""
    if not available(conn, slug):
        return None
    return conn.execute(
        sql.SQL("select max(business_date) from {}").format(sql.Identifier(f"{slug}_marts", MART))
    ).fetchone()[0]


def manager_name(conn: psycopg.Connection, slug: str, manager_id: int) -> str | None:
    """The manager's name from `dim_managers`, or None for an id the tenant does not know."""
    if not _exists(conn, f"{slug}_marts", "dim_managers"):
        return None
    row = conn.execute(
        sql.SQL("select manager_name from {} where user_id = %s").format(
            sql.Identifier(f"{slug}_marts", "dim_managers")
        ),
        (manager_id,),
    ).fetchone()
    return row[0] if row else None


# One pass over the range: the day-level figures per manager and week, the dialog-level scores
# (human value where corrected), and the week's best dialogs as ordered arrays. The unassigned
# dialogs group under the key -1 so that joins stay equi-joins (amoCRM user ids are positive).
_WEEKLY = """
with days as not materialized (
    select week_start, coalesce(responsible_user_id, -1) as uid_key, responsible_user_id, manager_name,
           dialog_id, left_waiting, first_response_seconds, ai_score
    from {mart}
    where business_date >= %(start)s and business_date < %(end)s {manager_filter}
), human as (
    {human}
), per_day as (
    select uid_key, week_start, max(responsible_user_id) as responsible_user_id,
           max(manager_name) as manager_name,
           percentile_cont(0.5) within group (order by first_response_seconds)
               filter (where first_response_seconds is not null) as median_first_response_seconds
    from days group by uid_key, week_start
), dialog_weeks as (
    select uid_key, week_start, dialog_id, bool_or(left_waiting) as left_waiting, avg(ai_score) as ai_score
    from days group by uid_key, week_start, dialog_id
), scored as (
    select dw.uid_key, dw.week_start, dw.dialog_id, dw.left_waiting,
           case when dw.ai_score is null then null
                when h.corrected_criteria > 0 then h.corrected_overall else dw.ai_score end as score,
           dw.ai_score is not null and coalesce(h.corrected_criteria > 0, false) as corrected,
           case when dw.ai_score is not null then coalesce(h.corrected_criteria, 0) else 0 end as corrected_n,
           case when dw.ai_score is not null then coalesce(h.disputed_criteria, 0) else 0 end as disputed_n
    from dialog_weeks dw left join human h on h.dialog_id = dw.dialog_id::text
), per_dialog as (
    select uid_key, week_start, count(*) as dialogs, count(*) filter (where left_waiting) as left_waiting,
           count(score) as scored, avg(score) as average_score,
           sum(corrected_n) as corrected_verdicts, sum(disputed_n) as disputed_verdicts,
           (array_agg(dialog_id order by score desc nulls last, dialog_id)
               filter (where score is not null))[1:%(best)s] as best_ids,
           (array_agg(score order by score desc nulls last, dialog_id)
               filter (where score is not null))[1:%(best)s] as best_scores,
           (array_agg(corrected order by score desc nulls last, dialog_id)
               filter (where score is not null))[1:%(best)s] as best_corrected
    from scored group by uid_key, week_start
)
select d.responsible_user_id, d.manager_name, d.week_start, p.dialogs, d.median_first_response_seconds,
       p.left_waiting, p.scored, p.average_score, p.corrected_verdicts,
       p.disputed_verdicts, p.best_ids, p.best_scores, p.best_corrected
from per_day d join per_dialog p on p.uid_key = d.uid_key and p.week_start = d.week_start
order by d.uid_key, d.week_start
"""


class _All:
    """Marker: every manager (a manager id of None means the unassigned dialogs)."""


ALL = _All()


def _manager_filter(manager: int | _All | None) -> tuple[sql.Composable, dict[str, object]]:
    if isinstance(manager, _All):
        return sql.SQL(""), {}
    if manager is None:
        return sql.SQL("and responsible_user_id is null"), {}
    return sql.SQL("and responsible_user_id = %(manager)s"), {"manager": manager}


def week_range(last_day: date, weeks: int) -> list[date]:
    """The Mondays of the ``weeks`` ISO weeks ending with the one holding ``last_day``."""
    last = week_of(last_day)
    return [last - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]


def weekly(
    conn: psycopg.Connection,
    slug: str,
    *,
    last_day: date,
    weeks: int = 12,
    manager: int | _All | None = ALL,
) -> list[ManagerTrend]:
    """Per manager (``ALL``, one amoCRM user id, or None for the unassigned), per ISO week of the
    ``weeks`` weeks ending with ``last_day``'s: the figures and the best dialogs. Managers sorted
    by dialogs (most first), the unassigned row last; managers without dialogs in the range are
    absent."""
    if not available(conn, slug) or weeks < 1:
        return []
    mondays = week_range(last_day, weeks)
    where, params = _manager_filter(manager)
    params |= {"start": mondays[0], "end": mondays[-1] + timedelta(days=7), "best": BEST_PER_WEEK}
    parts = {"mart": sql.Identifier(f"{slug}_marts", MART), "manager_filter": where}
    query = sql.SQL(_WEEKLY).format(human=human_overall(conn, slug), **parts)
    names: dict[int | None, str] = {}
    found: dict[int | None, dict[date, ManagerWeek]] = {}
    best: dict[int | None, dict[date, list[BestDialog]]] = {}
    with conn.transaction():
        conn.execute("set local work_mem = '64MB'")  # the range's sorts stay in memory
        rows = conn.execute(query, params).fetchall()
    for uid, name, week, dialogs, median, waiting, scored, avg, corrected, disputed, *top in rows:
        names[uid] = name
        found.setdefault(uid, {})[week] = ManagerWeek(
            week_start=week,
            dialogs=dialogs,
            median_first_response_seconds=median,
            left_waiting=waiting,
            scored=scored,
            average_score=None if avg is None else round(float(avg), 1),
            corrected_verdicts=int(corrected),
            disputed_verdicts=int(disputed),
        )
        ids, scores, flags = top
        if ids:
            best.setdefault(uid, {})[week] = [
                BestDialog(week, i, round(float(sc), 1), bool(c))
                for i, sc, c in zip(ids, scores, flags, strict=True)
            ]
    trends = [
        ManagerTrend(
            manager_id=uid,
            manager_name=names.get(uid) or "Unassigned",
            weeks=[by_week.get(m, ManagerWeek(week_start=m)) for m in mondays],
            best=best.get(uid, {}),
        )
        for uid, by_week in found.items()
    ]
    trends.sort(key=lambda t: (t.manager_id is None, -t.dialogs, t.manager_name))
    return trends


_DAILY = """
with days as (
    select * from {mart} where business_date >= %(start)s and business_date <= %(end)s
), human as (
    {human}
), dialog_days as (
    select d.business_date, d.responsible_user_id, d.manager_name, d.dialog_id, d.first_response_seconds,
           case when d.ai_score is null then null
                when h.corrected_criteria > 0 then h.corrected_overall else d.ai_score end as score
    from days d left join human h on h.dialog_id = d.dialog_id::text
)
select business_date, responsible_user_id, max(manager_name), count(distinct dialog_id),
       percentile_cont(0.5) within group (order by first_response_seconds)
           filter (where first_response_seconds is not null),
       avg(score)
from dialog_days group by business_date, responsible_user_id
order by responsible_user_id nulls last, business_date
"""


def daily(conn: psycopg.Connection, slug: str, start: date, end: date) -> list[ManagerDay]:
    """Per manager per business day in ``start``..``end`` (inclusive) with activity."""
    if not available(conn, slug):
        return []
    query = sql.SQL(_DAILY).format(
        mart=sql.Identifier(f"{slug}_marts", MART), human=human_overall(conn, slug)
    )
    return [
        ManagerDay(day, uid, name, dialogs, median, None if avg is None else float(avg))
        for day, uid, name, dialogs, median, avg in conn.execute(query, {"start": start, "end": end})
    ]


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(statistics.median(present)) if present else None


def four_week_medians(conn: psycopg.Connection, slug: str, day: date) -> list[DayMedians]:
    """Per manager: medians of their daily dialogs, first response and score over the days with
    activity in the 4 weeks (28 business days) before ``day``. Days without dialogs are left
    out, so a day off does not pull the typical day to zero."""
    history = daily(conn, slug, day - timedelta(days=HISTORY_DAYS), day - timedelta(days=1))
    per: dict[int | None, list[ManagerDay]] = {}
    for row in history:
        per.setdefault(row.manager_id, []).append(row)
    return [
        DayMedians(
            manager_id=uid,
            manager_name=rows[-1].manager_name,
            days=len(rows),
            dialogs=_median(r.dialogs for r in rows),
            first_response_seconds=_median(r.median_first_response_seconds for r in rows),
            score=_median(r.average_score for r in rows),
        )
        for uid, rows in per.items()
    ]
