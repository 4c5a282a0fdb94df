"""`synkro check SLUG gemini`: key valid, chosen model usable, and a real test analysis.

Why a test analysis and not just a model list: a key can list models and still fail on
generateContent (billing, quota, a model that refuses our response schema). Scoring three of the
tenant's own most recent dialogs exercises exactly the call the nightly run makes, and printing the
masked transcript next to the verdict lets the owner judge the rubric and the masking before the
first report. Nothing is written to the warehouse: a check must not change the tenant's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from google.genai import errors as genai_errors
from psycopg import sql

from synkro.analysis.gemini import (
    DialogJob,
    DialogResult,
    GeminiAnalyzer,
    GeminiFatalError,
    GeminiSettings,
    ModelInfo,
    classify_fatal,
    list_models,
    make_client,
)
from synkro.analysis.prompt import build_prompt
from synkro.analysis.rubric import Rubric, rubric_from_settings
from synkro.analysis.scoring import score_dialog
from synkro.analysis.transcript import Message, Transcript, build_transcript
from synkro.checks import CheckOptions, CheckResult
from synkro.windows import business_date_of, business_day

SAMPLE_DIALOGS = 3


@dataclass
class SampleDialog:
    """One recent dialog prepared exactly as the analysis step would send it."""

    dialog_id: str
    manager_name: str | None
    last_message_at: datetime
    window_label: str
    transcript: Transcript


def gemini_settings(tctx: Any) -> GeminiSettings:
    """The tenant's Gemini config with its RPM setting, as the analysis step builds it."""
    return GeminiSettings.from_config(tctx.config("gemini"), rpm=tctx.settings.gemini_rpm)


def describe_model(settings: GeminiSettings, models: list[ModelInfo]) -> tuple[bool, str]:
    """Is the chosen model listed with generateContent? If not, say whether it exists at all."""
    if any(m.name == settings.model for m in models):
        return True, f"{settings.model} supports generateContent"
    client = make_client(settings)  # keep a reference: the SDK closes its HTTP client when collected
    try:
        found = client.models.get(model=settings.model)
    except genai_errors.APIError as exc:
        if exc.code == 404:
            return False, f"{settings.model} does not exist for this key (404); see `synkro gemini models`"
        fatal = classify_fatal(exc, settings.model)
        return False, str(fatal) if fatal else f"Gemini error {exc.code} {exc.status}: {exc.message}"
    actions = ", ".join(found.supported_actions or []) or "none"
    return False, f"{settings.model} exists but does not support generateContent (supports: {actions})"


def recent_dialogs(conn: psycopg.Connection, tctx: Any, limit: int = SAMPLE_DIALOGS) -> list[SampleDialog]:
    """The `limit` dialogs with the newest messages, each cut to the business day of its last message.

    The business day (with the tenant's context messages before it) is what a nightly run sends,
    so the sample costs and reads like a real analysis.
    """
    marts = f"{tctx.slug}_marts"
    if not _table_exists(conn, marts, "fct_dialog_messages"):
        return []
    has_dialogs = _table_exists(conn, marts, "fct_dialogs")
    manager = sql.SQL("d.manager_name") if has_dialogs else sql.SQL("null::text")
    join = (
        sql.SQL("left join {} d on d.dialog_id = r.dialog_id").format(sql.Identifier(marts, "fct_dialogs"))
        if has_dialogs
        else sql.SQL("")
    )
    rows = conn.execute(
        sql.SQL(
            "with recent as (select dialog_id, max(sent_at) as last_at from {m} group by dialog_id "
            "order by last_at desc, dialog_id desc limit %s) "
            "select r.dialog_id, r.last_at, {manager} from recent r {join} order by r.last_at desc"
        ).format(m=sql.Identifier(marts, "fct_dialog_messages"), manager=manager, join=join),
        (limit,),
    ).fetchall()
    settings = tctx.settings
    timezone = tctx.tenant.timezone
    samples = []
    for dialog_id, last_at, manager_name in rows:
        boundary = settings.day_boundary
        day = business_day(business_date_of(last_at, timezone, boundary), timezone, boundary)
        messages = [
            Message(*row)
            for row in conn.execute(
                sql.SQL(
                    "select sent_at, direction, text, attachments from {} "
                    "where dialog_id = %s and sent_at < %s order by sent_at"
                ).format(sql.Identifier(marts, "fct_dialog_messages")),
                (dialog_id, day.end),
            )
        ]
        transcript = build_transcript(
            messages,
            day.start,
            timezone,
            language=settings.language,
            context_messages=settings.context_messages,
            mask=settings.mask_pii,
        )
        samples.append(SampleDialog(str(dialog_id), manager_name, last_at, day.label, transcript))
    return samples


def _table_exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    row = conn.execute("select to_regclass(%s)", (f'"{schema}"."{table}"',)).fetchone()
    return bool(row and row[0])


def format_analysis(sample: SampleDialog, result: DialogResult, rubric: Rubric) -> str:
    """Everything the owner needs to judge one verdict: the text sent and what came back."""
    head = (
        f"=== Dialog {sample.dialog_id} · manager {sample.manager_name or '—'} · "
        f"business day {sample.window_label} ==="
    )
    lines = [head, "Transcript sent (masked):", sample.transcript.text, ""]
    a = result.analysis
    if a is None:
        lines.append(f"Result: FAILED — {result.error}")
        return "\n".join(lines)
    titles = {c.key: c.title for c in rubric.criteria}
    verdict = score_dialog(rubric, a.criteria, sample.transcript.text)
    lines.append(
        f"Score: {verdict.overall_score}/100 (ours, from the criteria and weights; the model said "
        f"{a.overall_score}) · sentiment {a.sentiment.value} · model {result.model}"
    )
    lines.append("Criteria:")
    for c in a.criteria:
        lines.append(f"  - {titles.get(c.key, c.key)} [{c.key}]: {c.score} — {c.reason}")
        lines.append(f"      evidence: «{c.evidence}»" if c.evidence else "      evidence: —")
    flags = ", ".join(f.value for f in a.risk_flags) or "none"
    lines.append(f"Flags: {flags}")
    for o in a.objections:
        lines.append(f"Objection: {o.text} ({'handled' if o.handled else 'not handled'})")
    step = f"{a.next_step_what} ({a.next_step_when})" if a.next_step_agreed else "not agreed"
    lines.append(f"Next step: {step}")
    lines.append(f"Summary: {a.summary}")
    lines.append(f"Recommendation: {a.recommendation}")
    tokens = result.input_tokens + result.output_tokens + result.thinking_tokens
    cost = f", ≈${result.cost_usd:.6f}" if result.cost_usd is not None else ""
    lines.append(f"Tokens: {tokens} (in {result.input_tokens}, out {result.output_tokens}{cost})")
    return "\n".join(lines)


def run(tctx: Any, options: CheckOptions) -> CheckResult:
    result = CheckResult("gemini", on_line=options.on_line)
    settings = gemini_settings(tctx)
    try:
        models = list_models(settings)
    except GeminiFatalError as exc:
        result.add("API key", False, str(exc))
        return result
    result.add("API key", True, f"valid: {len(models)} models support generateContent")
    model_ok, detail = describe_model(settings, models)
    result.add("model", model_ok, detail)
    result.data["models"] = [m.name for m in models]
    if not model_ok:
        return result

    from synkro.db import connect

    with connect(tctx.warehouse_url()) as conn:
        samples = recent_dialogs(conn, tctx)
    if not samples:
        result.add("test analysis", None, "no dialogs in the warehouse yet; load data, then check again")
        return result
    rubric = rubric_from_settings(tctx.settings.rubric)
    language = tctx.settings.language
    jobs = [DialogJob(s.dialog_id, build_prompt(s.transcript.text, rubric, language)) for s in samples]
    outcome = GeminiAnalyzer(settings).analyze_many(jobs)  # fatal errors land in outcome.fatal
    by_id = {r.dialog_id: r for r in outcome.results}
    if outcome.fatal is not None:
        result.add("test analysis", False, str(outcome.fatal))
    scored = [by_id[s.dialog_id] for s in samples if s.dialog_id in by_id]
    failed = [r for r in scored if r.status != "ok"]
    if outcome.fatal is None:
        detail = f"{len(scored) - len(failed)} of {len(samples)} recent dialogs scored"
        if failed:
            detail += "; failed: " + "; ".join(f"{r.dialog_id}: {r.error}" for r in failed)
        result.add("test analysis", not failed, detail)
    for sample in samples:
        if sample.dialog_id in by_id:
            result.extra.append(format_analysis(sample, by_id[sample.dialog_id], rubric))
    result.data["analyses"] = [
        {
            "dialog_id": r.dialog_id,
            "status": r.status,
            "error": r.error,
            "analysis": r.analysis.model_dump(mode="json") if r.analysis else None,
        }
        for r in scored
    ]
    return result
