"""The tenant's dialog list: filters, the risk order, server-side pages — and the same rows for CSV.

Risk order (riskiest first), one rule for the page and the CSV:
1. the customer is left waiting (`fct_dialogs.awaiting_reply`: the last message is the customer's);
2. more risk flags in the dialog's latest successful analysis;
3. a lower score (the human-corrected overall where one exists, else the AI's; unscored last);
4. the most recent last message; then the dialog id, so the order is total and pages never
   overlap or skip a row.

Pages are `LIMIT page_size + 1 OFFSET …` over that order (one row more tells whether a next page
exists, without counting every match). The sort keys are computed per dialog in one pass over
`fct_dialogs` joined to each dialog's latest analysis (an index on `dialog_analyses (dialog_id,
analyzed_at desc) where status = 'ok'` serves that lookup, see `ensure_analysis_table`); a top-N
sort keeps only one page in memory, and the summary text is joined only after paging.
`bench/bench_dialog_list.py` measures it on 50,000 dialogs.

Day range: local calendar days in the tenant's zone; a dialog matches when it has messages in
the range (its first message before the range's end, its last at or after its start).
"Disputed" and the human score come from the corrections helper's `human_overall_sql` (the
shared contract in issue 11); without that module or its table, no dialog counts as disputed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from synkro.analysis.schema import RiskFlag
from synkro.dialogs.scope import DialogScope
from synkro.dialogs.warehouse import analysis, as_json, marts, table_exists

PAGE_SIZE = 50
MAX_PAGE = 100_000
FLAGS = tuple(f.value for f in RiskFlag)


class FilterError(ValueError):
    """A filter value that cannot be used; names the filter and says what is wrong."""

    def __init__(self, name: str, reason: str):
        self.name = name
        self.reason = reason
        super().__init__(f"{name}: {reason}")


@dataclass(frozen=True)
class DialogFilters:
    day_from: date | None = None
    day_to: date | None = None
    manager: int | None = None  # amoCRM responsible user id
    flag: str | None = None
    score_below: int | None = None
    disputed: bool = False
    unanswered: bool = False
    page: int = 1

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> DialogFilters:
        """Read the list's query string; an unusable value raises FilterError naming it."""

        def text(name: str) -> str | None:
            value = (params.get(name) or "").strip()
            return value or None

        def day(name: str) -> date | None:
            value = text(name)
            if value is None:
                return None
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise FilterError(name, "expected a date as YYYY-MM-DD") from None

        def number(name: str, low: int, high: int) -> int | None:
            value = text(name)
            if value is None:
                return None
            if not value.isdigit() or not low <= int(value) <= high:
                raise FilterError(name, f"expected a whole number from {low} to {high}")
            return int(value)

        flag = text("flag")
        if flag is not None and flag not in FLAGS:
            raise FilterError("flag", "unknown risk flag")
        filters = cls(
            day_from=day("from"),
            day_to=day("to"),
            manager=number("manager", 0, 2**62),
            flag=flag,
            score_below=number("score_below", 1, 101),
            disputed=text("disputed") in ("1", "on", "true"),
            unanswered=text("unanswered") in ("1", "on", "true"),
            page=number("page", 1, MAX_PAGE) or 1,
        )
        if filters.day_from and filters.day_to and filters.day_from > filters.day_to:
            raise FilterError("to", "the end of the range is before its start")
        return filters

    def query(self, **changes: Any) -> str:
        """The query string of these filters (with `changes`), for links to other pages and CSV."""
        f = replace(self, **changes)
        pairs = {
            "from": f.day_from.isoformat() if f.day_from else None,
            "to": f.day_to.isoformat() if f.day_to else None,
            "manager": f.manager,
            "flag": f.flag,
            "score_below": f.score_below,
            "disputed": "1" if f.disputed else None,
            "unanswered": "1" if f.unanswered else None,
            "page": f.page if f.page > 1 else None,
        }
        return urlencode({k: v for k, v in pairs.items() if v is not None})


@dataclass
class DialogRow:
    dialog_id: str
    manager_name: str | None
    responsible_user_id: int | None
    lead_id: int | None
    last_message_at: datetime | None
    awaiting_reply: bool
    first_response_seconds: float | None
    risk_flags: list[str]
    ai_score: int | None
    human_score: float | None
    disputed_criteria: int
    summary: str


@dataclass
class DialogPage:
    rows: list[DialogRow]
    page: int
    has_next: bool


def human_overall_source(conn: psycopg.Connection, slug: str) -> str | None:
    """The corrections contract's per-dialog SQL, when its module and table exist; else None."""
    try:
        from synkro.analysis.corrections import human_overall_sql  # the corrections helper's module
    except ImportError:
        return None
    if not table_exists(conn, analysis(slug), "verdict_corrections"):
        return None
    return human_overall_sql(slug)


def _local_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def _query(
    conn: psycopg.Connection, slug: str, filters: DialogFilters, scope: DialogScope, timezone: str
) -> tuple[sql.Composable, dict[str, Any]]:
    """The filtered, risk-ordered rows (no LIMIT): one statement shared by pages and CSV."""
    zone = ZoneInfo(timezone)
    condition, params = scope.condition("d")
    where: list[sql.Composable] = [condition]
    if filters.day_from:
        where.append(sql.SQL("d.last_message_at >= %(day_from)s"))
        params["day_from"] = _local_start(filters.day_from, zone)
    if filters.day_to:
        where.append(sql.SQL("d.first_message_at < %(day_to)s"))
        params["day_to"] = _local_start(filters.day_to + timedelta(days=1), zone)
    if filters.manager is not None:
        where.append(sql.SQL("d.responsible_user_id = %(manager)s"))
        params["manager"] = filters.manager
    if filters.unanswered:
        where.append(sql.SQL("d.awaiting_reply"))
    if filters.flag:
        where.append(sql.SQL("a.risk_flags ? %(flag)s"))
        params["flag"] = filters.flag
    human = human_overall_source(conn, slug)
    has_analyses = table_exists(conn, analysis(slug), "dialog_analyses")
    score = sql.SQL("coalesce(h.corrected_overall, a.overall_score)" if human else "a.overall_score")
    if filters.score_below is not None:
        where.append(sql.SQL("{} < %(score_below)s").format(score))
        params["score_below"] = filters.score_below
    if filters.disputed:
        where.append(sql.SQL("coalesce(h.disputed_criteria, 0) > 0" if human else "false"))
    latest = (
        sql.SQL(
            "left join lateral (select x.overall_score, x.risk_flags from {} x "
            "where x.dialog_id = d.dialog_id::text and x.status = 'ok' "
            "order by x.analyzed_at desc limit 1) a on true"
        ).format(sql.Identifier(analysis(slug), "dialog_analyses"))
        if has_analyses
        else sql.SQL("left join (select null::integer as overall_score, null::jsonb as risk_flags) a on true")
    )
    corrections = (
        sql.SQL("left join ({}) h on h.dialog_id = d.dialog_id::text").format(sql.SQL(human))
        if human
        else sql.SQL("")
    )
    human_cols = (
        sql.SQL("h.corrected_overall as human_score, coalesce(h.disputed_criteria, 0) as disputed_criteria")
        if human
        else sql.SQL("null::numeric as human_score, 0 as disputed_criteria")
    )
    query = sql.SQL(
        """
        select d.dialog_id::text as dialog_id, d.manager_name, d.responsible_user_id, d.lead_id,
               d.last_message_at, coalesce(d.awaiting_reply, false) as awaiting_reply,
               d.first_response_seconds, a.risk_flags, a.overall_score as ai_score, {human_cols}
        from {dialogs} d
        {latest}
        {corrections}
        where {where}
        order by coalesce(d.awaiting_reply, false) desc,
                 coalesce(jsonb_array_length(a.risk_flags), 0) desc,
                 {score} asc nulls last,
                 d.last_message_at desc nulls last,
                 d.dialog_id desc
        """
    ).format(
        human_cols=human_cols,
        dialogs=sql.Identifier(marts(slug), "fct_dialogs"),
        latest=latest,
        corrections=corrections,
        where=sql.SQL(" and ").join(where),
        score=score,
    )
    return query, params


def _with_summary(conn: psycopg.Connection, slug: str, rows: sql.Composable) -> sql.Composable:
    """The summary joined after sorting and paging: wide text never passes through the sort."""
    if not table_exists(conn, analysis(slug), "dialog_analyses"):
        return sql.SQL("select r.*, null::text as summary from ({}) r").format(rows)
    return sql.SQL(
        "select r.*, (select x.summary from {} x where x.dialog_id = r.dialog_id and x.status = 'ok' "
        "order by x.analyzed_at desc limit 1) as summary from ({}) r"
    ).format(sql.Identifier(analysis(slug), "dialog_analyses"), rows)


def _row(values: dict[str, Any]) -> DialogRow:
    return DialogRow(
        dialog_id=values["dialog_id"],
        manager_name=values["manager_name"],
        responsible_user_id=values["responsible_user_id"],
        lead_id=values["lead_id"],
        last_message_at=values["last_message_at"],
        awaiting_reply=bool(values["awaiting_reply"]),
        first_response_seconds=values["first_response_seconds"],
        risk_flags=list(as_json(values["risk_flags"], [])),
        ai_score=values["ai_score"],
        human_score=float(values["human_score"]) if values["human_score"] is not None else None,
        disputed_criteria=int(values["disputed_criteria"] or 0),
        summary=values["summary"] or "",
    )


def marts_ready(conn: psycopg.Connection, slug: str) -> bool:
    return table_exists(conn, marts(slug), "fct_dialogs")


def dialog_page(
    conn: psycopg.Connection,
    slug: str,
    filters: DialogFilters,
    *,
    scope: DialogScope,
    timezone: str,
    page_size: int = PAGE_SIZE,
) -> DialogPage:
    """One page of the filtered list in risk order."""
    query, params = _query(conn, slug, filters, scope, timezone)
    params |= {"limit": page_size + 1, "offset": (filters.page - 1) * page_size}
    paged = sql.SQL("{} limit %(limit)s offset %(offset)s").format(query)
    cur = conn.execute(_with_summary(conn, slug, paged), params)
    cols = [c.name for c in cur.description or []]
    rows = [_row(dict(zip(cols, r, strict=True))) for r in cur]
    return DialogPage(rows=rows[:page_size], page=filters.page, has_next=len(rows) > page_size)


def all_rows(
    conn: psycopg.Connection, slug: str, filters: DialogFilters, *, scope: DialogScope, timezone: str
) -> Iterator[DialogRow]:
    """Every filtered row in risk order, streamed from a server-side cursor (for CSV)."""
    query, params = _query(conn, slug, filters, scope, timezone)
    with conn.cursor(name="dialog_export") as cur:
        cur.itersize = 2000
        cur.execute(_with_summary(conn, slug, query), params)
        cols = None
        for values in cur:
            cols = cols or [c.name for c in cur.description or []]
            yield _row(dict(zip(cols, values, strict=True)))


def managers(conn: psycopg.Connection, slug: str, scope: DialogScope) -> list[tuple[int, str]]:
    """The managers to filter by: (amoCRM user id, name) of dialogs the reader may see."""
    condition, params = scope.condition("d")
    cur = conn.execute(
        sql.SQL(
            "select d.responsible_user_id, max(d.manager_name) from {} d "
            "where d.responsible_user_id is not null and {} group by 1 order by 2 nulls last, 1"
        ).format(sql.Identifier(marts(slug), "fct_dialogs"), condition),
        params,
    )
    return [(int(uid), name or f"#{uid}") for uid, name in cur]
