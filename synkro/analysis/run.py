"""Analyse one tenant's report window: read the marts, score changed dialogs, write dialog_analyses.

Why this shape: the analysis step must be cheap to re-run. A dialog is sent to Gemini only when
its transcript, the rubric, the prompt or the model changed since it was last scored; every result
is written (and committed) as soon as it arrives, so a run stopped by an invalid key or an
exhausted quota keeps everything it already paid for.

Only the window a run is asked to score is touched: a new rubric version re-scores a dialog when
a run covers its day, never all of history at once. The row a re-score replaces is kept in
``dialog_analysis_history`` (see ``synkro.analysis.history``), so ``dialog_analyses`` always holds
the current verdict per dialog and window (what reports and marts read) and every rubric version
that ever scored a dialog stays visible.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from pydantic import BaseModel, Field

from synkro.analysis import budget, corrections
from synkro.analysis.batch import BatchAnalyzer, BatchPolicy
from synkro.analysis.escalation import escalation_reason
from synkro.analysis.gemini import (
    DialogJob,
    DialogResult,
    GeminiAnalyzer,
    GeminiFatalError,
    GeminiSettings,
)
from synkro.analysis.pricing import Mode
from synkro.analysis.prompt import build_prompt, prompt_version
from synkro.analysis.rubric import Rubric, rubric_from_settings
from synkro.analysis.scoring import risk_flags, score_dialog
from synkro.analysis.transcript import Message, build_transcript, transcript_hash
from synkro.report.build import left_waiting_dialogs
from synkro.report.model import ReportWindow

if TYPE_CHECKING:
    from synkro.controlplane.settings import TenantSettings


class AnalysisSummary(BaseModel):
    """What one analysis run did; shown by the CLI and stored with the Dagster materialization."""

    tenant_slug: str
    window_start: datetime
    window_end: datetime
    model: str
    rubric_version: str
    rubric_number: int = 0
    prompt_version: str
    dialogs_in_window: int = 0
    analyzed: int = 0
    failed: int = 0
    unchanged: int = 0
    reused: int = 0
    left_out: dict[str, str] = Field(default_factory=dict)
    failures: dict[str, str] = Field(default_factory=dict)
    gemini_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    cost_unknown: int = 0  # results of a model the pricing table does not price
    mode: str = "online"  # online | batch (answers a batch did not give are scored online)
    batch: dict[str, Any] | None = None  # the batch's name, state, answered/online counts, note
    budget: dict[str, Any] | None = None  # the monthly budget: limit, spent before, left out
    escalation: dict[str, Any] | None = None  # the cascade: model, re-scored dialogs and why
    stopped: str | None = None
    stopped_kind: str | None = None


class AnalysisStopped(RuntimeError):
    """The run stopped on an error the tenant must fix; rows written before it are kept."""

    def __init__(self, message: str, summary: AnalysisSummary, kind: str) -> None:
        super().__init__(message)
        self.summary = summary
        self.kind = kind


def analysis_schema(slug: str) -> str:
    return f"{slug}_analysis"


def marts_schema(slug: str) -> str:
    return f"{slug}_marts"


_DDL = """
create table if not exists {table} (
    tenant_slug     text        not null,
    dialog_id       text        not null,
    window_start    timestamptz not null,
    window_end      timestamptz not null,
    transcript_hash text,
    rubric_version  text,
    prompt_version  text,
    model           text,
    overall_score   integer,
    criteria        jsonb,
    objections      jsonb,
    next_step       jsonb,
    risk_flags      jsonb,
    sentiment       text,
    summary         text,
    recommendation  text,
    input_tokens    integer     not null default 0,
    output_tokens   integer     not null default 0,
    thinking_tokens integer     not null default 0,
    cached_input_tokens integer not null default 0,
    cost_usd        numeric(12, 6),
    mode            text        not null default 'online',
    status          text        not null check (status in ('ok', 'failed', 'skipped')),
    error           text,
    analyzed_at     timestamptz not null default now(),
    rubric_number   integer,
    model_overall_score integer,
    primary key (dialog_id, window_start, window_end)
)
"""

# Columns added after the first release: tenants' existing tables get them on the next run.
_ADDED_COLUMNS = (
    ("rubric_number", "integer"),
    ("model_overall_score", "integer"),
    ("cached_input_tokens", "integer not null default 0"),
    ("mode", "text not null default 'online'"),
    ("confidence", "integer"),
    ("escalation", "text"),
)

_HISTORY_DDL = """
create table if not exists {history} (
    history_id    bigserial   primary key,
    like {table} including defaults,
    superseded_at timestamptz not null default now()
)
"""

_COLUMNS = [
    "tenant_slug",
    "dialog_id",
    "window_start",
    "window_end",
    "transcript_hash",
    "rubric_version",
    "prompt_version",
    "model",
    "overall_score",
    "criteria",
    "objections",
    "next_step",
    "risk_flags",
    "sentiment",
    "summary",
    "recommendation",
    "input_tokens",
    "output_tokens",
    "thinking_tokens",
    "cached_input_tokens",
    "cost_usd",
    "mode",
    "confidence",
    "escalation",
    "status",
    "error",
    "analyzed_at",
    "rubric_number",
    "model_overall_score",
]


def _add_columns(conn: psycopg.Connection, table: sql.Identifier) -> None:
    for name, kind in _ADDED_COLUMNS:
        add = sql.SQL("alter table {} add column if not exists {} " + kind)
        conn.execute(add.format(table, sql.Identifier(name)))


def ensure_analysis_table(conn: psycopg.Connection, slug: str) -> None:
    """Create ``<slug>_analysis.dialog_analyses`` and its history if missing (the dbt source ``analysis``).

    Tables of tenants created before a column existed gain it here (``add column if not exists``).
    """
    schema = analysis_schema(slug)
    table = sql.Identifier(schema, "dialog_analyses")
    history = sql.Identifier(schema, "dialog_analysis_history")
    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL(_DDL).format(table=table))
    _add_columns(conn, table)
    conn.execute(sql.SQL(_HISTORY_DDL).format(history=history, table=table))
    _add_columns(conn, history)
    conn.execute(
        sql.SQL("create index if not exists {} on {} (dialog_id)").format(
            sql.Identifier("dialog_analysis_history_dialog_idx"), history
        )
    )
    conn.execute(
        sql.SQL("create index if not exists {} on {} (window_start, window_end)").format(
            sql.Identifier("dialog_analyses_window_idx"), table
        )
    )
    conn.commit()
    # Human corrections live beside the analyses, so the marts and reports can always join them.
    corrections.ensure_table(conn, slug)


def _archive(conn: psycopg.Connection, slug: str, row: dict[str, Any]) -> None:
    """Copy the successful verdict a new row is about to replace into the history (same transaction)."""
    schema = analysis_schema(slug)
    cols = sql.SQL(", ").join(map(sql.Identifier, _COLUMNS))
    conn.execute(
        sql.SQL(
            "insert into {h} ({cols}) select {cols} from {t} "
            "where dialog_id = %(dialog_id)s and window_start = %(window_start)s "
            "and window_end = %(window_end)s and status = 'ok'"
        ).format(
            h=sql.Identifier(schema, "dialog_analysis_history"),
            t=sql.Identifier(schema, "dialog_analyses"),
            cols=cols,
        ),
        {k: row[k] for k in ("dialog_id", "window_start", "window_end")},
    )


def _upsert(conn: psycopg.Connection, slug: str, row: dict[str, Any]) -> None:
    table = sql.Identifier(analysis_schema(slug), "dialog_analyses")
    row = {**row, "analyzed_at": row.get("analyzed_at") or datetime.now().astimezone()}
    cols = [c for c in _COLUMNS if c in row]
    query = sql.SQL(
        "insert into {t} ({cols}) values ({vals}) on conflict (dialog_id, window_start, window_end) "
        "do update set {updates}"
    ).format(
        t=table,
        cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
        vals=sql.SQL(", ").join(sql.Placeholder(c) for c in cols),
        updates=sql.SQL(", ").join(
            sql.SQL("{c} = excluded.{c}").format(c=sql.Identifier(c))
            for c in cols
            if c not in ("dialog_id", "window_start", "window_end")
        ),
    )
    _archive(conn, slug, row)
    conn.execute(query, row)
    conn.commit()


def _read_messages(
    conn: psycopg.Connection, slug: str, start: datetime, end: datetime, context: int
) -> dict[str, list[Message]]:
    """Messages of dialogs active in [start, end): all in the window plus ``context`` earlier ones."""
    query = sql.SQL(
        """
        with active as (
            select distinct dialog_id from {m} where sent_at >= %(s)s and sent_at < %(e)s
        ), ranked as (
            select m.dialog_id::text as dialog_id, m.sent_at, m.direction, m.text, m.attachments,
                   row_number() over (
                       partition by m.dialog_id, (m.sent_at < %(s)s) order by m.sent_at desc
                   ) as rn
            from {m} m join active a on a.dialog_id = m.dialog_id
            where m.sent_at < %(e)s
        )
        select dialog_id, sent_at, direction, text, attachments from ranked
        where sent_at >= %(s)s or rn <= %(ctx)s
        order by dialog_id, sent_at
        """
    ).format(m=sql.Identifier(marts_schema(slug), "fct_dialog_messages"))
    out: dict[str, list[Message]] = defaultdict(list)
    for dialog_id, sent_at, direction, text, attachments in conn.execute(
        query, {"s": start, "e": end, "ctx": context}
    ):
        out[dialog_id].append(Message(sent_at, direction, text, attachments))
    return out


def _previous_ok(conn: psycopg.Connection, slug: str, dialog_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Latest successful analysis per dialog (any window), to decide what is unchanged."""
    if not dialog_ids:
        return {}
    query = sql.SQL(
        "select distinct on (dialog_id) {cols} from {t} where status = 'ok' and dialog_id = any(%s) "
        "order by dialog_id, analyzed_at desc"
    ).format(
        cols=sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)),
        t=sql.Identifier(analysis_schema(slug), "dialog_analyses"),
    )
    cur = conn.execute(query, (dialog_ids,))
    return {row[1]: dict(zip(_COLUMNS, row, strict=True)) for row in cur}


def _jsonb(value: Any) -> psycopg.types.json.Jsonb:
    return psycopg.types.json.Jsonb(value)


def _result_row(
    result: DialogResult, base: dict[str, Any], transcript: str, rubric: Rubric, customer_waiting: bool
) -> dict[str, Any]:
    """One table row from a result, scored by us (``synkro.analysis.scoring``), not by the model."""
    row = {
        **base,
        "dialog_id": result.dialog_id,
        "transcript_hash": transcript_hash(transcript),
        "model": result.model,
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "thinking_tokens": result.thinking_tokens,
        "cached_input_tokens": result.cached_tokens,
        "cost_usd": result.cost_usd,
        "mode": result.mode,
        "status": result.status,
        "error": result.error,
        "overall_score": None,
        "model_overall_score": None,
        "criteria": None,
        "objections": None,
        "next_step": None,
        "risk_flags": None,
        "sentiment": None,
        "summary": None,
        "recommendation": None,
    }
    a = result.analysis
    if a is not None:
        verdict = score_dialog(rubric, a.criteria, transcript)
        row |= {
            "overall_score": verdict.overall_score,
            "model_overall_score": a.overall_score,
            "criteria": _jsonb(verdict.criteria),
            "objections": _jsonb([o.model_dump(mode="json") for o in a.objections]),
            "next_step": _jsonb(
                {"agreed": a.next_step_agreed, "what": a.next_step_what, "when": a.next_step_when}
            ),
            "risk_flags": _jsonb(risk_flags((f.value for f in a.risk_flags), customer_waiting)),
            "sentiment": a.sentiment.value,
            "summary": a.summary,
            "recommendation": a.recommendation,
            "confidence": a.confidence,
        }
    return row


def analyze_window(
    conn: psycopg.Connection,
    slug: str,
    window_start: datetime,
    window_end: datetime,
    settings: TenantSettings,
    gemini_config: Any,
    *,
    timezone: str,
    analyzer: GeminiAnalyzer | None = None,
    scheduled: bool = False,
    progress: Callable[[str], None] | None = None,
    batch_policy: BatchPolicy | None = None,
) -> AnalysisSummary:
    """Score every dialog with activity in [window_start, window_end) that changed since last scored.

    ``settings``: the tenant's settings (language, rubric, mask_pii, context_messages, the AI budget
    ai_max_dialogs / ai_max_tokens, gemini_rpm); ``timezone``: the tenant's, for the transcript's
    local times. ``gemini_config``: the tenant's Gemini config (api_key, model, base_url,
    api_version, ...). ``scheduled``: a nightly run, which goes through the Batch API when the
    tenant's ``ai_batch`` is ``auto`` (``always``: every run; ``never``: none). Raises
    AnalysisStopped (after writing what was done) when Gemini refuses in a way no retry fixes.
    """
    language = settings.language
    rubric = rubric_from_settings(settings.rubric)
    context = settings.context_messages
    gemini = GeminiSettings.from_config(
        gemini_config,
        max_dialogs=settings.ai_max_dialogs,
        max_tokens=settings.ai_max_tokens,
        rpm=settings.gemini_rpm,
    )
    analyzer = analyzer or GeminiAnalyzer(gemini)
    use_batch = settings.ai_batch == "always" or (settings.ai_batch == "auto" and scheduled)
    p_version = prompt_version(language)
    summary = AnalysisSummary(
        tenant_slug=slug,
        window_start=window_start,
        window_end=window_end,
        model=gemini.model,
        rubric_version=rubric.version,
        rubric_number=settings.rubric_version,
        prompt_version=p_version,
    )
    ensure_analysis_table(conn, slug)
    budget.ensure_spend_table(conn, slug)
    conn.commit()
    corrections.remember_rubric(conn, slug, rubric)
    dialogs = _read_messages(conn, slug, window_start, window_end, context)
    summary.dialogs_in_window = len(dialogs)
    previous = _previous_ok(conn, slug, list(dialogs))
    waiting = left_waiting_dialogs(
        conn,
        slug,
        ReportWindow(start=window_start, end=window_end, timezone=timezone),
        timedelta(minutes=settings.followup_window_minutes),
    )
    base = {
        "tenant_slug": slug,
        "window_start": window_start,
        "window_end": window_end,
        "rubric_version": rubric.version,
        "rubric_number": settings.rubric_version,
        "prompt_version": p_version,
    }

    jobs: list[DialogJob] = []
    hashes: dict[str, str] = {}
    texts: dict[str, str] = {}
    for dialog_id, messages in sorted(dialogs.items()):
        transcript = build_transcript(
            messages,
            window_start,
            timezone,
            language=language,
            context_messages=context,
            mask=settings.mask_pii,
        )
        hashes[dialog_id] = transcript.hash
        texts[dialog_id] = transcript.text
        prev = previous.get(dialog_id)
        # A verdict the stronger model gave (the cascade) stands for the bulk model too.
        scored_by = gemini.model
        if prev and prev.get("escalation") and prev["model"] == settings.ai_escalation_model:
            scored_by = prev["model"]
        if prev and (
            prev["transcript_hash"],
            prev["rubric_version"],
            prev["prompt_version"],
            prev["model"],
        ) == (
            transcript.hash,
            rubric.version,
            p_version,
            scored_by,
        ):
            if (prev["window_start"], prev["window_end"]) == (window_start, window_end):
                summary.unchanged += 1
            else:  # same content scored under another window: reuse it, no new spend
                reused = {**prev, **base, "input_tokens": 0, "output_tokens": 0, "thinking_tokens": 0}
                reused |= {"cost_usd": 0, "error": None, "analyzed_at": None, "cached_input_tokens": 0}
                reused["risk_flags"] = risk_flags(reused["risk_flags"] or [], dialog_id in waiting)
                for key in ("criteria", "objections", "next_step", "risk_flags"):
                    reused[key] = _jsonb(reused[key])
                _upsert(conn, slug, reused)
                summary.reused += 1
            continue
        jobs.append(DialogJob(dialog_id, build_prompt(transcript.text, rubric, language)))

    # What the budget buys must matter most: open deals, waiting customers, large deals first.
    order = budget.priorities(conn, slug, [j.dialog_id for j in jobs], window_end)
    jobs.sort(key=lambda j: order.get(j.dialog_id, budget.Priority()).key(j.dialog_id))
    budget_left_out: dict[str, str] = {}
    mode: Mode = "batch" if use_batch else "online"
    if settings.ai_monthly_budget_usd is not None and jobs:
        jobs, budget_left_out, summary.budget = _within_monthly_budget(
            conn,
            slug,
            jobs,
            settings.ai_monthly_budget_usd,
            gemini,
            mode,
            timezone,
        )

    write_lock = threading.Lock()

    def account(result: DialogResult) -> None:
        """Every paid answer: one spend-ledger row and the run's totals (caller holds the lock)."""
        if result.input_tokens or result.output_tokens:
            budget.record_spend(
                conn,
                slug,
                "analysis",
                dialog_id=result.dialog_id,
                model=result.model,
                mode=result.mode,
                usage=result.usage(),
                cost=result.cost_usd,
            )
        summary.input_tokens += result.input_tokens
        summary.output_tokens += result.output_tokens
        summary.thinking_tokens += result.thinking_tokens
        summary.cached_tokens += result.cached_tokens
        summary.cost_usd = round(summary.cost_usd + (result.cost_usd or 0.0), 6)
        if result.cost_usd is None and result.input_tokens:
            summary.cost_unknown += 1

    def on_result(result: DialogResult) -> None:
        with write_lock:
            dialog_id = result.dialog_id
            account(result)
            _upsert(conn, slug, _result_row(result, base, texts[dialog_id], rubric, dialog_id in waiting))
            if result.status == "ok":
                summary.analyzed += 1
            else:
                summary.failed += 1
                summary.failures[result.dialog_id] = result.error or "unknown error"

    def on_escalated(result: DialogResult, reason: str) -> None:
        """A second verdict replaces the first only when it is ok (the first goes to the history)."""
        with write_lock:
            dialog_id = result.dialog_id
            account(result)
            if result.status == "ok":
                row = _result_row(result, base, texts[dialog_id], rubric, dialog_id in waiting)
                _upsert(conn, slug, {**row, "escalation": reason})

    calls_before = analyzer.calls
    runner: GeminiAnalyzer | BatchAnalyzer = analyzer
    if use_batch:
        policy = batch_policy or BatchPolicy(max_wait_seconds=settings.ai_batch_max_wait_minutes * 60)
        runner = BatchAnalyzer(
            analyzer, policy, display_name=f"synkro-{slug}-{window_start:%Y%m%d}", progress=progress
        )
        summary.mode = "batch"
    outcome = runner.analyze_many(jobs, on_result=on_result) if jobs else None
    if isinstance(runner, BatchAnalyzer) and jobs:
        summary.batch = asdict(runner.report)
    summary.gemini_calls = analyzer.calls - calls_before
    left_out = {**budget_left_out, **(outcome.left_out if outcome is not None else {})}
    summary.left_out = left_out
    for dialog_id, reason in left_out.items():
        if reason.startswith("budget"):
            _upsert(
                conn,
                slug,
                {
                    **base,
                    "dialog_id": dialog_id,
                    "transcript_hash": hashes[dialog_id],
                    "model": gemini.model,
                    "status": "skipped",
                    "error": reason,
                },
            )
    if outcome is not None and outcome.fatal is None and settings.ai_escalation_model:
        candidates: dict[str, str] = {}
        for result in outcome.results:
            capped = (
                score_dialog(rubric, result.analysis.criteria, texts[result.dialog_id]).capped_by
                if result.analysis is not None
                else []
            )
            priority = order.get(result.dialog_id, budget.Priority())
            if reason := escalation_reason(result, capped, priority, settings):
                candidates[result.dialog_id] = reason
        if candidates:
            chosen = [j for j in jobs if j.dialog_id in candidates]
            spent = summary.input_tokens + summary.output_tokens + summary.thinking_tokens
            summary.escalation = _escalate(
                conn, slug, chosen, candidates, gemini, settings, timezone, spent, on_escalated, progress
            )
            summary.gemini_calls += summary.escalation.pop("calls")
    if outcome is not None and outcome.fatal is not None:
        fatal: GeminiFatalError = outcome.fatal
        summary.stopped, summary.stopped_kind = str(fatal), fatal.kind
        raise AnalysisStopped(str(fatal), summary, fatal.kind)
    return summary


def _escalate(
    conn: psycopg.Connection,
    slug: str,
    jobs: list[DialogJob],
    reasons: dict[str, str],
    gemini: GeminiSettings,
    settings: TenantSettings,
    timezone: str,
    spent_tokens: int,
    on_escalated: Callable[[DialogResult, str], None],
    progress: Callable[[str], None] | None,
) -> dict[str, Any]:
    """Re-score ``jobs`` online with the stronger model (see ``synkro.analysis.escalation``)."""
    model = settings.ai_escalation_model or gemini.model
    stronger = GeminiSettings.from_config(gemini, model=model, fallback_model=None, max_dialogs=None)
    over_budget: dict[str, str] = {}
    if settings.ai_monthly_budget_usd is not None:
        jobs, over_budget, _ = _within_monthly_budget(
            conn, slug, jobs, settings.ai_monthly_budget_usd, stronger, "online", timezone
        )
    figures: dict[str, Any] = {
        "model": model,
        "candidates": len(reasons),
        "rescored": 0,
        "failed": {},
        "over_budget": len(over_budget),
        "reasons": dict(reasons),
        "calls": 0,
    }
    if not jobs:
        return figures
    if progress:
        progress(f"escalation: {len(jobs)} dialogs re-scored by {model}")
    analyzer = GeminiAnalyzer(stronger)

    def on_second(result: DialogResult) -> None:
        if result.status == "ok":
            figures["rescored"] += 1
        else:
            figures["failed"][result.dialog_id] = result.error or "unknown error"
        on_escalated(result, reasons[result.dialog_id])

    second = analyzer.analyze_many(jobs, on_result=on_second, already_spent=spent_tokens)
    figures["calls"] = analyzer.calls
    if second.fatal is not None:  # e.g. the stronger model is retired: the first verdicts stand
        figures["stopped"] = str(second.fatal)
    return figures


def _within_monthly_budget(
    conn: psycopg.Connection,
    slug: str,
    jobs: list[DialogJob],
    monthly_usd: float,
    gemini: GeminiSettings,
    mode: Mode,
    timezone: str,
) -> tuple[list[DialogJob], dict[str, str], dict[str, Any]]:
    """The jobs (in priority order) whose estimated cost fits what the month has left."""
    since = budget.month_start(datetime.now(UTC), timezone)
    spent = budget.month_spent(conn, slug, since)
    remaining = monthly_usd - spent
    admitted: list[DialogJob] = []
    left_out: dict[str, str] = {}
    planned = 0.0
    reached = f"{budget.BUDGET_REASON} of ${monthly_usd:.2f} reached (${spent:.2f} spent since {since:%d.%m})"
    for job in jobs:
        estimate = budget.estimated_cost(gemini, len(job.prompt.text), mode)
        if estimate is None:
            left_out[job.dialog_id] = (
                f"{budget.BUDGET_REASON}: model {gemini.model} has no known price, so the spend cannot be "
                "checked; set price_input_per_million / price_output_per_million in the Gemini config"
            )
        elif planned + estimate > remaining:
            left_out[job.dialog_id] = reached
        else:
            planned += estimate
            admitted.append(job)
    figures = {
        "monthly_usd": monthly_usd,
        "spent_before_usd": round(spent, 6),
        "planned_usd": round(planned, 6),
        "left_out": len(left_out),
        "since": since.isoformat(),
    }
    return admitted, left_out, figures


def summary_json(summary: AnalysisSummary) -> str:
    return json.dumps(summary.model_dump(mode="json"), ensure_ascii=False)
