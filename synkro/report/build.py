"""Build the report for one window from the marts and the analysis table.

Why here and not in dbt: the report mixes hard metrics (SQL over marts, no AI) with the analysis
results and with the state of the run that produced them. Hard metrics never depend on Gemini: if
the analysis is missing the report still goes out with them and says why the scores are absent.
A source that failed or is stale is stated plainly instead of silently reporting old data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from synkro import trends
from synkro.analysis import corrections
from synkro.analysis.budget import BUDGET_REASON
from synkro.report.model import (
    AISpend,
    DialogHighlight,
    ManagerRow,
    ManagerVsUsual,
    Report,
    ReportWindow,
    SourceFreshness,
    Unlinked,
)
from synkro.report.render import local_time, report_date
from synkro.report.sentences import without_repeated_sentences

if TYPE_CHECKING:
    from synkro.controlplane.settings import TenantSettings

UNASSIGNED = "Без менеджера"
_OK_STATES = {None, "", "ok", "success", "succeeded", "skipped"}
_STEP_NAMES = {
    "amocrm": "загрузка amoCRM",
    "radist": "загрузка Radist",
    "dbt": "моделирование (dbt)",
    "analysis": "анализ Gemini",
}


def _exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    row = conn.execute("select to_regclass(%s)", (f'"{schema}"."{table}"',)).fetchone()
    return bool(row and row[0])


def _column_exists(conn: psycopg.Connection, schema: str, table: str, column: str) -> bool:
    row = conn.execute(
        "select 1 from information_schema.columns where table_schema = %s and table_name = %s "
        "and column_name = %s",
        (schema, table, column),
    ).fetchone()
    return row is not None


def working_seconds_available(conn: psycopg.Connection, slug: str) -> bool:
    """Whether the tenant's ``working_seconds`` function exists (dbt creates it on every run)."""
    row = conn.execute(
        "select to_regprocedure(%s)",
        (f'"{slug}_marts".working_seconds(timestamptz, timestamptz, text, time, time, integer[], date[])',),
    ).fetchone()
    return bool(row and row[0])


def _working_seconds_sql(slug: str, settings: TenantSettings | None) -> sql.Composable:
    """The working-hours part of ``first_inbound_at → first_reply_at``, or NULL without a calendar.

    The rule is the warehouse's own function (dbt_project/macros/working_time.sql), so the report
    and the marts cannot disagree; here it only gets the tenant's calendar for the window.
    """
    if settings is None:
        return sql.SQL("null::double precision")
    start, end = settings.working_hours.split("-")
    days = [int(d) for d in settings.working_days.split(",")]
    holidays = [date.fromisoformat(d) for d in settings.holidays.split(",") if d]
    return sql.SQL(
        "{fn}(p.first_inbound_at, r.first_reply_at, %(zone)s, {start}::time, {end}::time, "
        "{days}::integer[], {holidays}::date[])"
    ).format(
        fn=sql.Identifier(f"{slug}_marts", "working_seconds"),
        start=sql.Literal(start),
        end=sql.Literal(end),
        days=sql.Literal(days),
        holidays=sql.Literal(holidays),
    )


def _dialog_stats(
    conn: psycopg.Connection,
    slug: str,
    window: ReportWindow,
    followup: timedelta,
    calendar: TenantSettings | None = None,
) -> list[dict[str, Any]]:
    """Per dialog active in the window: counts, first response (raw and, with ``calendar``, within
    working hours), left waiting, manager and lead.

    Left waiting: the customer has the last word at the window's end and has been waiting (since
    the first message after the company's last reply) for at least ``followup``; a question asked
    minutes before the day boundary still has time to be answered.
    """
    marts = f"{slug}_marts"
    query = sql.SQL(
        """
        with w as (
            select m.dialog_id, m.sent_at, m.direction
            from {msgs} m where m.sent_at >= %(s)s and m.sent_at < %(e)s
        ), per_dialog as (
            select dialog_id,
                   count(*) filter (where direction = 'inbound') as messages_in,
                   count(*) filter (where direction = 'outbound') as messages_out,
                   min(sent_at) filter (where direction = 'inbound') as first_inbound_at
            from w group by dialog_id
        ), last_msg as (
            select distinct on (dialog_id) dialog_id, direction
            from w order by dialog_id, sent_at desc
        ), waiting as (
            select i.dialog_id, min(i.sent_at) as since
            from w i
            where i.direction = 'inbound' and i.sent_at > coalesce(
                (select max(o.sent_at) from w o where o.dialog_id = i.dialog_id and o.direction = 'outbound'),
                '-infinity'::timestamptz)
            group by i.dialog_id
        ), first_reply as (
            select p.dialog_id, (
                select min(o.sent_at) from w o
                where o.dialog_id = p.dialog_id and o.direction = 'outbound'
                  and o.sent_at > p.first_inbound_at
            ) as first_reply_at
            from per_dialog p
        )
        select p.dialog_id::text, p.messages_in, p.messages_out,
               extract(epoch from r.first_reply_at - p.first_inbound_at)::double precision
                   as first_response_seconds,
               {working}::double precision as first_response_working_seconds,
               (l.direction = 'inbound' and wt.since <= %(waiting_from)s) as left_waiting,
               coalesce(d.manager_name, %(unassigned)s) as manager_name,
               d.lead_id
        from per_dialog p
        join first_reply r on r.dialog_id = p.dialog_id
        join last_msg l on l.dialog_id = p.dialog_id
        left join waiting wt on wt.dialog_id = p.dialog_id
        left join {dialogs} d on d.dialog_id = p.dialog_id
        order by p.dialog_id
        """
    ).format(
        msgs=sql.Identifier(marts, "fct_dialog_messages"),
        dialogs=sql.Identifier(marts, "fct_dialogs"),
        working=_working_seconds_sql(slug, calendar),
    )
    params = {
        "s": window.start,
        "e": window.end,
        "unassigned": UNASSIGNED,
        "waiting_from": window.end - followup,
        "zone": window.timezone,
    }
    cur = conn.execute(query, params)
    cols = [c.name for c in cur.description or []]
    return [dict(zip(cols, row, strict=True)) for row in cur]


def left_waiting_dialogs(
    conn: psycopg.Connection, slug: str, window: ReportWindow, followup: timedelta
) -> set[str]:
    """Ids of the dialogs the report counts as "left waiting" in ``window``.

    The one owner of that rule: the analysis sets its ``customer_waiting`` flag from this set
    instead of believing the model, so the flag and the report's count never disagree.
    """
    return {s["dialog_id"] for s in _dialog_stats(conn, slug, window, followup) if s["left_waiting"]}


def _median(values: list[float]) -> float | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return float(values[mid]) if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _analyses(conn: psycopg.Connection, slug: str, window: ReportWindow) -> list[dict[str, Any]] | None:
    schema = f"{slug}_analysis"
    if not _exists(conn, schema, "dialog_analyses"):
        return None
    cur = conn.execute(
        sql.SQL(
            "select dialog_id, status, overall_score, criteria, risk_flags, summary, recommendation, error, "
            "model, input_tokens, output_tokens, thinking_tokens, cached_input_tokens, cost_usd, mode "
            "from {} "
            "where window_start = %s and window_end = %s"
        ).format(sql.Identifier(schema, "dialog_analyses")),
        (window.start, window.end),
    )
    cols = [c.name for c in cur.description or []]
    return [dict(zip(cols, row, strict=True)) for row in cur]


def _human_scores(
    conn: psycopg.Connection, slug: str, window: ReportWindow
) -> dict[str, tuple[int, int, int]]:
    """Per dialog analysed in the window: (overall with human values, corrected criteria, open disputes).

    Only dialogs with any human correction or open dispute are returned; a tenant without the
    corrections table has none.
    """
    if not corrections.table_exists(conn, slug) or not corrections.relation_exists(
        conn, slug, corrections.WEIGHTS_TABLE
    ):
        return {}
    query = (
        "select dialog_id, corrected_overall, corrected_criteria, disputed_criteria "
        f"from {corrections.human_overall_sql(slug, per_window=True)} as h "
        "where window_start = %s and window_end = %s and (corrected_criteria > 0 or disputed_criteria > 0)"
    )
    return {row[0]: tuple(row[1:]) for row in conn.execute(query, (window.start, window.end))}


def _apply_human_values(ok: list[dict[str, Any]], human: dict[str, tuple[int, int, int]]) -> None:
    """Replace each corrected dialog's overall score by the human one; the AI's stays in ``ai_score``."""
    for a in ok:
        a["ai_score"] = a["overall_score"]
        corrected = human.get(a["dialog_id"])
        if corrected is not None and corrected[1] > 0 and corrected[0] is not None:
            a["overall_score"] = corrected[0]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return list(json.loads(value))
    return list(value)


def _highlight(
    a: dict[str, Any], stat: dict[str, Any] | None, amocrm_base_url: str | None
) -> DialogHighlight:
    criteria = _as_list(a.get("criteria"))
    scored = [c for c in criteria if c.get("score") is not None]  # N/A criteria carry no score
    worst = min(scored, key=lambda c: c["score"], default=None)
    lead_id = stat.get("lead_id") if stat else None
    evidence = (worst or {}).get("evidence", "") or ""
    summary, recommendation = without_repeated_sentences(
        [a.get("summary") or "", a.get("recommendation") or ""], already_said=[evidence]
    )
    return DialogHighlight(
        dialog_id=a["dialog_id"],
        manager_name=(stat or {}).get("manager_name") or UNASSIGNED,
        score=a.get("overall_score"),
        ai_score=a.get("ai_score"),
        risk_flags=_as_list(a.get("risk_flags")),
        evidence=evidence,
        summary=summary,
        recommendation=recommendation,
        lead_id=lead_id,
        lead_url=lead_url(amocrm_base_url, lead_id),
    )


_WEEKDAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")


def working_hours_label(settings: TenantSettings) -> str:
    """The tenant's calendar as the report names it, e.g. "пн–пт 09:00–18:00, кроме праздников"."""
    days = [int(d) for d in settings.working_days.split(",")]
    if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
        day_text = f"{_WEEKDAYS[days[0] - 1]}–{_WEEKDAYS[days[-1] - 1]}"
    else:
        day_text = ", ".join(_WEEKDAYS[d - 1] for d in days)
    label = f"{day_text} {settings.working_hours.replace('-', '–')}"
    return label + (", кроме праздников" if settings.holidays else "")


def lead_url(amocrm_base_url: str | None, lead_id: int | None) -> str | None:
    """Link to the lead card in amoCRM: ``{base}/leads/detail/{lead_id}``."""
    if not amocrm_base_url or lead_id is None:
        return None
    return f"{amocrm_base_url.rstrip('/')}/leads/detail/{lead_id}"


def _unlinked(conn: psycopg.Connection, slug: str, dialog_ids: list[str]) -> Unlinked:
    """How many of the window's dialogs have no deal, and why (fct_dialogs.match_status)."""
    out = Unlinked()
    if not dialog_ids:
        return out
    query = sql.SQL(
        "select count(*) filter (where match_status = 'unmatched'), "
        "count(*) filter (where match_status <> 'unmatched') "
        "from {} where dialog_id::text = any(%s) and lead_id is null"
    ).format(sql.Identifier(f"{slug}_marts", "fct_dialogs"))
    out.no_contact, out.no_lead = conn.execute(query, (dialog_ids,)).fetchone()
    out.dialogs = out.no_contact + out.no_lead
    return out


def _freshness(
    conn: psycopg.Connection, slug: str, window: ReportWindow, stale_after: timedelta, now: datetime
) -> list[SourceFreshness]:
    """Last successful dlt load per source and the newest data timestamp in raw tables."""
    raw = f"{slug}_raw"
    loads: dict[str, datetime] = {}
    if _exists(conn, raw, "_dlt_loads"):
        for name, at in conn.execute(
            sql.SQL(
                "select schema_name, max(inserted_at) from {} where status = 0 group by schema_name"
            ).format(sql.Identifier(raw, "_dlt_loads"))
        ):
            loads[str(name)] = at
    probes = {"amocrm": ("amocrm_leads", "updated_at"), "radist": ("radist_messages", "sent_at")}
    out = []
    for source, (table, column) in probes.items():
        last_data = None
        if _exists(conn, raw, table) and _column_exists(conn, raw, table, column):
            last_data = conn.execute(
                sql.SQL("select max({}) from {}").format(sql.Identifier(column), sql.Identifier(raw, table))
            ).fetchone()[0]
        last_load = next((at for name, at in loads.items() if name.startswith(source)), None)
        stale = last_load is None or (now - last_load > stale_after and last_load < window.end)
        out.append(
            SourceFreshness(source=source, last_load_at=last_load, last_data_at=last_data, stale=stale)
        )
    return out


def _against_usual(conn: psycopg.Connection, report: Report) -> list[ManagerVsUsual]:
    """Each manager of the report against their 4-week medians, for the day the report covers
    (its label; a forced window: the local day it ends in). Managers without history are left
    out; the unassigned dialogs are matched to the report's unassigned row."""
    window = report.window
    day = (
        report_date(report)
        or (window.end - timedelta(microseconds=1)).astimezone(ZoneInfo(window.timezone)).date()
    )
    usual = {
        UNASSIGNED if m.manager_id is None else m.manager_name: m
        for m in trends.four_week_medians(conn, report.tenant_slug, day)
    }
    return [
        ManagerVsUsual(
            manager_name=row.manager_name,
            dialogs=row.dialogs,
            usual_dialogs=u.dialogs,
            first_response_seconds=row.median_first_response_seconds,
            usual_first_response_seconds=u.first_response_seconds,
            score=row.average_score,
            usual_score=None if u.score is None else round(u.score, 1),
            history_days=u.days,
        )
        for row in report.managers
        if (u := usual.get(row.manager_name)) is not None
    ]


def build_report(
    conn: psycopg.Connection,
    slug: str,
    window: ReportWindow,
    settings: TenantSettings,
    run_status: Mapping[str, Any] | None = None,
    *,
    amocrm_base_url: str | None = None,
    now: datetime | None = None,
) -> Report:
    """Assemble the report. ``run_status`` maps a step (amocrm, radist, dbt, analysis) to "ok" or
    an error text (or a mapping with ``error``/``status``); ``settings`` are the tenant's
    (``language``, ``stale_after_hours``, ``followup_window_minutes``, ``min_dialogs``,
    ``risky_dialogs_limit``)."""
    now = now or datetime.now(UTC)
    report = Report(tenant_slug=slug, window=window, generated_at=now, language=settings.language)
    for step, state in (run_status or {}).items():
        text = state if isinstance(state, str) else state.get("error") or state.get("status")
        if text is not None and str(text).lower() not in _OK_STATES:
            report.problems.append(f"Шаг «{_STEP_NAMES.get(step, step)}» завершился с ошибкой: {text}")

    stale_after = timedelta(hours=settings.stale_after_hours)
    report.freshness = _freshness(conn, slug, window, stale_after, now)
    for f in report.freshness:
        if f.stale:
            when = local_time(report, f.last_load_at) if f.last_load_at else "никогда"
            report.problems.append(f"Данные {f.source} устарели: последняя загрузка — {when}.")

    marts = f"{slug}_marts"
    if not (_exists(conn, marts, "fct_dialog_messages") and _exists(conn, marts, "fct_dialogs")):
        report.problems.append("Витрины диалогов ещё не построены: цифр за период нет.")
        report.analysis_available = False
        report.kind = "notice"
        return report

    working = working_seconds_available(conn, slug)
    if working:
        report.working_hours = working_hours_label(settings)
    else:
        report.notes.append(
            "Время ответа в рабочие часы не посчитано: витрины построены до его появления "
            f"(пересоберите их: synkro run {slug}). Показано время по часам."
        )
    followup = timedelta(minutes=settings.followup_window_minutes)
    stats = _dialog_stats(conn, slug, window, followup, settings if working else None)
    by_id = {s["dialog_id"]: s for s in stats}
    h = report.headline
    h.dialogs = len(stats)
    h.messages_in = sum(s["messages_in"] for s in stats)
    h.messages_out = sum(s["messages_out"] for s in stats)
    h.median_first_response_seconds = _median([s["first_response_seconds"] for s in stats])
    h.median_first_response_working_seconds = _median([s["first_response_working_seconds"] for s in stats])
    h.left_waiting = sum(1 for s in stats if s["left_waiting"])
    report.unlinked = _unlinked(conn, slug, list(by_id))
    if _exists(conn, marts, "dim_leads") and _column_exists(conn, marts, "dim_leads", "created_at"):
        h.new_leads = conn.execute(
            sql.SQL("select count(*) from {} where created_at >= %s and created_at < %s").format(
                sql.Identifier(marts, "dim_leads")
            ),
            (window.start, window.end),
        ).fetchone()[0]

    min_dialogs = settings.min_dialogs
    if h.dialogs < min_dialogs:
        report.kind = "notice"
        report.notes.append(
            f"За период {h.dialogs} диалог(ов) — меньше порога {min_dialogs}, подробный отчёт не формируется."
        )
        return report

    analyses = _analyses(conn, slug, window)
    rows = [a for a in (analyses or []) if a["dialog_id"] in by_id]
    ok = [a for a in rows if a["status"] == "ok" and a["overall_score"] is not None]
    human = _human_scores(conn, slug, window)
    _apply_human_values(ok, human)
    scores_by_dialog = {a["dialog_id"]: a["overall_score"] for a in ok}
    q = report.quality
    q.analyzed, q.failed = len(ok), sum(1 for a in rows if a["status"] == "failed")
    q.not_analyzed = h.dialogs - q.analyzed
    in_report = {a["dialog_id"] for a in ok}
    corrected = {d: c for d, c in human.items() if d in in_report}
    q.corrected_verdicts = sum(c[1] for c in corrected.values())
    q.corrected_dialogs = sum(1 for c in corrected.values() if c[1] > 0)
    q.disputed_verdicts = sum(c[2] for c in corrected.values())
    if ok:
        scores = [a["overall_score"] for a in ok]
        q.average = round(sum(scores) / len(scores), 1)
        q.minimum, q.maximum = min(scores), max(scores)
        mean = sum(scores) / len(scores)
        q.stddev = round((sum((x - mean) ** 2 for x in scores) / len(scores)) ** 0.5, 1)
    else:
        report.analysis_available = False
        report.notes.append("Оценки качества недоступны: анализ диалогов не выполнен. Ниже — только метрики.")
    over_budget = sum(1 for a in rows if (a["error"] or "").startswith(BUDGET_REASON))
    if over_budget:
        report.notes.append(
            f"Месячный бюджет на ИИ исчерпан: не оценено диалогов — {over_budget}. Сначала оценены открытые "
            "сделки, клиенты, ждущие ответа, и крупные сделки."
        )
    if ok and q.not_analyzed > over_budget:
        report.notes.append(f"Не оценено диалогов: {q.not_analyzed} (ошибки анализа или лимит бюджета).")

    managers: dict[str, list[dict[str, Any]]] = {}
    for s in stats:
        managers.setdefault(s["manager_name"], []).append(s)
    for name, items in sorted(managers.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        scored = [scores_by_dialog[s["dialog_id"]] for s in items if s["dialog_id"] in scores_by_dialog]
        report.managers.append(
            ManagerRow(
                manager_name=name,
                dialogs=len(items),
                median_first_response_seconds=_median([s["first_response_seconds"] for s in items]),
                median_first_response_working_seconds=_median(
                    [s["first_response_working_seconds"] for s in items]
                ),
                left_waiting=sum(1 for s in items if s["left_waiting"]),
                average_score=round(sum(scored) / len(scored), 1) if scored else None,
            )
        )

    report.against_usual = _against_usual(conn, report)

    limit = settings.risky_dialogs_limit
    risky = sorted(ok, key=lambda a: (a["overall_score"], -len(_as_list(a["risk_flags"])), a["dialog_id"]))
    risky = [a for a in risky if _as_list(a["risk_flags"]) or a["overall_score"] < 60][:limit]
    report.riskiest = [_highlight(a, by_id.get(a["dialog_id"]), amocrm_base_url) for a in risky]
    if ok:
        best = max(ok, key=lambda a: (a["overall_score"], a["dialog_id"]))
        if best["dialog_id"] not in {r.dialog_id for r in report.riskiest}:
            report.best = _highlight(best, by_id.get(best["dialog_id"]), amocrm_base_url)

    spend = AISpend()
    for a in rows:
        spend.cost_usd += float(a["cost_usd"] or 0)
        spend.input_tokens += a["input_tokens"] or 0
        spend.output_tokens += a["output_tokens"] or 0
        spend.thinking_tokens += a["thinking_tokens"] or 0
        spend.cached_tokens += a["cached_input_tokens"] or 0
        spend.batch_dialogs += a["mode"] == "batch"
        if a["cost_usd"] is None and (a["input_tokens"] or 0) > 0:
            spend.unpriced_dialogs += 1
        spend.model = spend.model or a["model"]
    spend.cost_usd = round(spend.cost_usd, 4)
    report.ai_spend = spend
    return report
