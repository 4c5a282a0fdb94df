"""One dialog's page as data: `dialog_detail()` assembles everything the template shows.

What "as the analysis saw it" means: the transcript is rebuilt with the analysis' own rules
(`synkro.analysis.transcript.build_transcript`: the messages up to the analysed window's end, the
tenant's context size and language, local times in the tenant's zone) and always PII-masked here,
whatever the tenant's LLM setting, so the portal never shows a phone the report would not. Each
criterion's evidence quote is marked in those lines (`synkro.dialogs.highlight`).

The analysis shown is the dialog's latest successful one; the others are listed with their
window and versions. The dialog's id is `fct_dialogs.dialog_id` (the Radist chat, = the analysis'
`dialog_id`). A reader outside the dialog's scope gets None, exactly as for a missing dialog.
Other features add to the page through `DialogDetail.verdicts` (human verdicts per criterion).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from synkro.analysis.corrections import corrected_overall, states
from synkro.analysis.rubric import rubric_from_settings
from synkro.analysis.transcript import _LABELS, Message, build_transcript
from synkro.dialogs.highlight import Segment, highlight_lines, normalise_quote
from synkro.dialogs.scope import DialogScope
from synkro.dialogs.warehouse import analysis, as_json, marts, table_exists
from synkro.links import contact_url, lead_url

_ANALYSIS_COLUMNS = (
    "dialog_id, window_start, window_end, rubric_version, prompt_version, model, overall_score, "
    "criteria, objections, next_step, risk_flags, sentiment, summary, recommendation, status, "
    "error, analyzed_at"
)


@dataclass
class CriterionView:
    key: str
    title: str
    weight: int | None
    score: int | None
    reason: str
    evidence: str
    evidence_found: bool


@dataclass
class AnalysisView:
    window_start: datetime
    window_end: datetime
    rubric_version: str | None
    prompt_version: str | None
    model: str | None
    overall_score: int | None
    status: str
    analyzed_at: datetime | None
    criteria: list[CriterionView] = field(default_factory=list)
    risk_flags: list[str] = field(default_factory=list)
    objections: list[dict[str, Any]] = field(default_factory=list)
    next_step: dict[str, Any] = field(default_factory=dict)
    sentiment: str | None = None
    summary: str = ""
    recommendation: str = ""
    error: str | None = None


@dataclass
class TranscriptLine:
    kind: str  # message | marker
    direction: str | None  # inbound | outbound for messages
    segments: list[Segment]


@dataclass
class DialogDetail:
    dialog_id: str
    manager_name: str | None
    responsible_user_id: int | None
    channel: str | None
    lead_id: int | None
    lead_name: str | None
    lead_url: str | None
    contact_id: int | None
    contact_name: str | None
    contact_url: str | None
    metrics: dict[str, Any]
    analysis: AnalysisView | None
    history: list[AnalysisView]
    transcript: list[TranscriptLine]
    verdicts: dict[str, Any] = field(default_factory=dict)
    human_overall: int | None = None  # the current analysis' overall with human values, when corrected


def _one(conn: psycopg.Connection, query: sql.Composable, params: Any) -> dict[str, Any] | None:
    cur = conn.execute(query, params)
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([c.name for c in cur.description or []], row, strict=True))


def _dialog_row(
    conn: psycopg.Connection, slug: str, dialog_id: int, scope: DialogScope
) -> dict[str, Any] | None:
    condition, params = scope.condition("d")
    return _one(
        conn,
        sql.SQL("select d.* from {} d where d.dialog_id = %(id)s and {}").format(
            sql.Identifier(marts(slug), "fct_dialogs"), condition
        ),
        {"id": dialog_id, **params},
    )


def _name(conn: psycopg.Connection, slug: str, table: str, key: str, name: str, value: Any) -> str | None:
    if value is None or not table_exists(conn, marts(slug), table):
        return None
    row = _one(
        conn,
        sql.SQL("select {} as name from {} where {} = %s").format(
            sql.Identifier(name), sql.Identifier(marts(slug), table), sql.Identifier(key)
        ),
        (value,),
    )
    return row["name"] if row else None


def _analyses(conn: psycopg.Connection, slug: str, dialog_id: str) -> list[dict[str, Any]]:
    if not table_exists(conn, analysis(slug), "dialog_analyses"):
        return []
    cur = conn.execute(
        sql.SQL("select {} from {} where dialog_id = %s order by analyzed_at desc, window_end desc").format(
            sql.SQL(_ANALYSIS_COLUMNS), sql.Identifier(analysis(slug), "dialog_analyses")
        ),
        (dialog_id,),
    )
    cols = [c.name for c in cur.description or []]
    return [dict(zip(cols, row, strict=True)) for row in cur]


def _messages(conn: psycopg.Connection, slug: str, dialog_id: int, until: datetime | None) -> list[Message]:
    cur = conn.execute(
        sql.SQL(
            "select sent_at, direction, text, attachments from {} where dialog_id = %(id)s "
            "and (%(until)s::timestamptz is null or sent_at < %(until)s) order by sent_at, message_id"
        ).format(sql.Identifier(marts(slug), "fct_dialog_messages")),
        {"id": dialog_id, "until": until},
    )
    return [Message(*row) for row in cur]


def _analysis_view(row: dict[str, Any], titles: dict[str, tuple[str, int]]) -> AnalysisView:
    criteria = [
        CriterionView(
            key=str(c.get("key")),
            title=titles.get(str(c.get("key")), (str(c.get("key")), None))[0],
            weight=titles.get(str(c.get("key")), ("", None))[1],
            score=c.get("score"),
            reason=c.get("reason") or "",
            evidence=normalise_quote(c.get("evidence")),
            evidence_found=False,
        )
        for c in as_json(row["criteria"], [])
        if isinstance(c, dict)
    ]
    return AnalysisView(
        window_start=row["window_start"],
        window_end=row["window_end"],
        rubric_version=row["rubric_version"],
        prompt_version=row["prompt_version"],
        model=row["model"],
        overall_score=row["overall_score"],
        status=row["status"],
        analyzed_at=row["analyzed_at"],
        criteria=criteria,
        risk_flags=list(as_json(row["risk_flags"], [])),
        objections=[o for o in as_json(row["objections"], []) if isinstance(o, dict)],
        next_step=as_json(row["next_step"], {}) or {},
        sentiment=row["sentiment"],
        summary=row["summary"] or "",
        recommendation=row["recommendation"] or "",
        error=row["error"],
    )


def _transcript(
    messages: list[Message], start: datetime, settings: Any, timezone: str, evidence: dict[str, str]
) -> tuple[list[TranscriptLine], set[str]]:
    language = getattr(settings, "language", "ru")
    text = build_transcript(
        messages,
        start,
        timezone,
        language=language,
        context_messages=getattr(settings, "context_messages", 5),
        mask=True,
    ).text
    lines = text.split("\n") if text else []
    labels = _LABELS.get(language, _LABELS["ru"])
    segmented, found = highlight_lines(lines, evidence)
    out = []
    for line, segments in zip(lines, segmented, strict=True):
        head = line.split(": ", 1)[0]
        if not line.startswith("[") or line.startswith("[…"):  # context / window / omitted markers
            out.append(TranscriptLine("marker", None, segments))
        elif head.endswith(f"] {labels['outbound']}"):
            out.append(TranscriptLine("message", "outbound", segments))
        else:
            out.append(TranscriptLine("message", "inbound", segments))
    return out, found


def dialog_detail(
    conn: psycopg.Connection,
    slug: str,
    dialog_id: str,
    *,
    scope: DialogScope,
    settings: Any,
    timezone: str,
    amocrm_base_url: str | None = None,
) -> DialogDetail | None:
    """The dialog's page, or None when it does not exist or lies outside `scope`.

    `settings`: the tenant's settings (rubric for criterion titles and weights, language and
    context_messages for the transcript). `dialog_id`: the page URL's id, digits only.
    """
    if not dialog_id.isdigit() or not table_exists(conn, marts(slug), "fct_dialogs"):
        return None
    numeric_id = int(dialog_id)
    row = _dialog_row(conn, slug, numeric_id, scope)
    if row is None:
        return None
    rubric = rubric_from_settings(getattr(settings, "rubric", None))
    titles = {c.key: (c.title, c.weight) for c in rubric.criteria}
    rows = _analyses(conn, slug, dialog_id)
    history = [_analysis_view(r, titles) for r in rows]
    current = next((a for a in history if a.status == "ok"), None)
    if current is not None:
        messages = _messages(conn, slug, numeric_id, current.window_end)
        start = current.window_start
    else:
        messages = _messages(conn, slug, numeric_id, None)
        start = messages[0].sent_at if messages else datetime.min
    evidence = {c.key: c.evidence for c in current.criteria} if current else {}
    transcript, found = _transcript(messages, start, settings, timezone, evidence)
    if current is not None:
        for c in current.criteria:
            c.evidence_found = c.key in found
    metric_names = (
        "first_message_at",
        "last_message_at",
        "messages_inbound",
        "messages_outbound",
        "first_response_seconds",
        "median_response_seconds",
        "awaiting_reply",
        "waiting_since",
    )
    return DialogDetail(
        dialog_id=dialog_id,
        manager_name=row.get("manager_name"),
        responsible_user_id=row.get("responsible_user_id"),
        channel=row.get("channel"),
        lead_id=row.get("lead_id"),
        lead_name=_name(conn, slug, "dim_leads", "lead_id", "lead_name", row.get("lead_id")),
        lead_url=lead_url(amocrm_base_url, row.get("lead_id")),
        contact_id=row.get("contact_id"),
        contact_name=_name(conn, slug, "dim_contacts", "contact_id", "contact_name", row.get("contact_id")),
        contact_url=contact_url(amocrm_base_url, row.get("contact_id")),
        metrics={name: row.get(name) for name in metric_names},
        analysis=current,
        history=history,
        transcript=transcript,
        # Human verdicts per criterion key (synkro.analysis.corrections.CriterionState).
        verdicts=states(conn, slug, [dialog_id]).get(dialog_id, {}),
        human_overall=(
            corrected_overall(conn, slug, dialog_id, current.window_start, current.window_end)
            if current is not None
            else None
        ),
    )
