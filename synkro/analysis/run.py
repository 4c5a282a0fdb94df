"""Analyse one tenant's report window: read the marts, score changed dialogs, write dialog_analyses.

Why this shape: the analysis step must be cheap to re-run. A dialog is sent to Gemini only when
its transcript, the rubric, the prompt or the model changed since it was last scored; every result
is written (and committed) as soon as it arrives, so a run stopped by an invalid key or an
exhausted quota keeps everything it already paid for.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from pydantic import BaseModel, Field

from synkro import tenancy
from synkro.analysis.gemini import (
    DialogJob,
    DialogResult,
    GeminiAnalyzer,
    GeminiFatalError,
    GeminiSettings,
)
from synkro.analysis.prompt import build_prompt, prompt_version
from synkro.analysis.rubric import rubric_from_settings
from synkro.analysis.transcript import Message, build_transcript

if TYPE_CHECKING:
    from synkro.controlplane.settings import TenantSettings


class AnalysisSummary(BaseModel):
    """What one analysis run did; shown by the CLI and stored with the Dagster materialization."""

    tenant_slug: str
    window_start: datetime
    window_end: datetime
    model: str
    rubric_version: str
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
    cost_usd: float = 0.0
    stopped: str | None = None
    stopped_kind: str | None = None


class AnalysisStopped(RuntimeError):
    """The run stopped on an error the tenant must fix; rows written before it are kept."""

    def __init__(self, message: str, summary: AnalysisSummary, kind: str) -> None:
        super().__init__(message)
        self.summary = summary
        self.kind = kind


def analysis_schema(slug: str) -> str:
    return tenancy.analysis_schema(slug)


def marts_schema(slug: str) -> str:
    return tenancy.marts_schema(slug)


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
    cost_usd        numeric(12, 6),
    status          text        not null check (status in ('ok', 'failed', 'skipped')),
    error           text,
    analyzed_at     timestamptz not null default now(),
    primary key (dialog_id, window_start, window_end)
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
    "cost_usd",
    "status",
    "error",
    "analyzed_at",
]


def ensure_analysis_table(conn: psycopg.Connection, slug: str) -> None:
    """Create ``<slug>_analysis.dialog_analyses`` if missing (the dbt source ``analysis``)."""
    schema = analysis_schema(slug)
    table = sql.Identifier(schema, "dialog_analyses")
    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL(_DDL).format(table=table))
    conn.execute(
        sql.SQL("create index if not exists {} on {} (window_start, window_end)").format(
            sql.Identifier("dialog_analyses_window_idx"), table
        )
    )
    conn.commit()


def _upsert(conn: psycopg.Connection, slug: str, row: dict[str, Any]) -> None:
    table = sql.Identifier(analysis_schema(slug), "dialog_analyses")
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
    result: DialogResult, base: dict[str, Any], transcript_hash: str, criteria_keys: list[str]
) -> dict[str, Any]:
    """One table row from a result; criteria the rubric does not know are dropped (models invent keys)."""
    row = {
        **base,
        "dialog_id": result.dialog_id,
        "transcript_hash": transcript_hash,
        "model": result.model,
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "thinking_tokens": result.thinking_tokens,
        "cost_usd": result.cost_usd,
        "status": result.status,
        "error": result.error,
        "overall_score": None,
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
        row |= {
            "overall_score": a.overall_score,
            "criteria": _jsonb([c.model_dump(mode="json") for c in a.criteria if c.key in criteria_keys]),
            "objections": _jsonb([o.model_dump(mode="json") for o in a.objections]),
            "next_step": _jsonb(
                {"agreed": a.next_step_agreed, "what": a.next_step_what, "when": a.next_step_when}
            ),
            "risk_flags": _jsonb(sorted({f.value for f in a.risk_flags})),
            "sentiment": a.sentiment.value,
            "summary": a.summary,
            "recommendation": a.recommendation,
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
) -> AnalysisSummary:
    """Score every dialog with activity in [window_start, window_end) that changed since last scored.

    ``settings``: the tenant's settings (language, rubric, mask_pii, context_messages, the AI budget
    ai_max_dialogs / ai_max_tokens, gemini_rpm); ``timezone``: the tenant's, for the transcript's
    local times. ``gemini_config``: the tenant's Gemini config (api_key, model, base_url,
    api_version, ...). Raises AnalysisStopped (after writing what was done) when Gemini refuses in
    a way no retry fixes.
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
    p_version = prompt_version(language)
    summary = AnalysisSummary(
        tenant_slug=slug,
        window_start=window_start,
        window_end=window_end,
        model=gemini.model,
        rubric_version=rubric.version,
        prompt_version=p_version,
    )
    ensure_analysis_table(conn, slug)
    dialogs = _read_messages(conn, slug, window_start, window_end, context)
    summary.dialogs_in_window = len(dialogs)
    previous = _previous_ok(conn, slug, list(dialogs))
    base = {
        "tenant_slug": slug,
        "window_start": window_start,
        "window_end": window_end,
        "rubric_version": rubric.version,
        "prompt_version": p_version,
    }

    jobs: list[DialogJob] = []
    hashes: dict[str, str] = {}
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
        prev = previous.get(dialog_id)
        if prev and (
            prev["transcript_hash"],
            prev["rubric_version"],
            prev["prompt_version"],
            prev["model"],
        ) == (
            transcript.hash,
            rubric.version,
            p_version,
            gemini.model,
        ):
            if (prev["window_start"], prev["window_end"]) == (window_start, window_end):
                summary.unchanged += 1
            else:  # same content scored under another window: reuse it, no new spend
                reused = {**prev, **base, "input_tokens": 0, "output_tokens": 0, "thinking_tokens": 0}
                reused |= {"cost_usd": 0, "error": None}
                for key in ("criteria", "objections", "next_step", "risk_flags"):
                    reused[key] = _jsonb(reused[key])
                _upsert(conn, slug, reused)
                summary.reused += 1
            continue
        jobs.append(DialogJob(dialog_id, build_prompt(transcript.text, rubric, language)))

    write_lock = threading.Lock()

    def on_result(result: DialogResult) -> None:
        with write_lock:
            _upsert(conn, slug, _result_row(result, base, hashes[result.dialog_id], rubric.keys()))
            summary.input_tokens += result.input_tokens
            summary.output_tokens += result.output_tokens
            summary.thinking_tokens += result.thinking_tokens
            summary.cost_usd = round(summary.cost_usd + (result.cost_usd or 0.0), 6)
            if result.status == "ok":
                summary.analyzed += 1
            else:
                summary.failed += 1
                summary.failures[result.dialog_id] = result.error or "unknown error"

    calls_before = analyzer.calls
    outcome = analyzer.analyze_many(jobs, on_result=on_result) if jobs else None
    summary.gemini_calls = analyzer.calls - calls_before
    if outcome is not None:
        summary.left_out = dict(outcome.left_out)
        for dialog_id, reason in outcome.left_out.items():
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
        if outcome.fatal is not None:
            fatal: GeminiFatalError = outcome.fatal
            summary.stopped, summary.stopped_kind = str(fatal), fatal.kind
            raise AnalysisStopped(str(fatal), summary, fatal.kind)
    return summary


def summary_json(summary: AnalysisSummary) -> str:
    return json.dumps(summary.model_dump(mode="json"), ensure_ascii=False)
