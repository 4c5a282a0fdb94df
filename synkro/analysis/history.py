"""Every verdict a dialog ever got: the current ones and those a later re-score replaced.

Why: a new rubric version re-scores the days a run is asked to; the dialog page must still show
which rubric version scored what ("scored by"). ``dialog_analyses`` holds the current verdict
per dialog and window; ``dialog_analysis_history`` the ones it replaced (written by
``synkro.analysis.run`` in the same transaction as the replacement).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from synkro.analysis.run import analysis_schema


@dataclass(frozen=True)
class ScoredVersion:
    """One verdict on one dialog over one window; ``current`` marks the one reports read."""

    window_start: datetime
    window_end: datetime
    rubric_version: str | None  # content hash of the rubric
    rubric_number: int | None  # the tenant's numbered rubric version (None: scored before numbering)
    prompt_version: str | None
    model: str | None
    overall_score: int | None
    status: str
    analyzed_at: datetime
    current: bool


def versions(conn: psycopg.Connection, slug: str, dialog_id: str) -> list[ScoredVersion]:
    """Every verdict of ``dialog_id``, newest first (empty when the tenant was never analysed)."""
    schema = analysis_schema(slug)
    parts = []
    for table, current in (("dialog_analyses", True), ("dialog_analysis_history", False)):
        found = conn.execute("select to_regclass(%s)", (f'"{schema}"."{table}"',)).fetchone()
        if not found or not found[0]:
            continue
        # rubric_number via to_jsonb: tables of older releases lack the column until their next run
        parts.append(
            sql.SQL(
                "select window_start, window_end, rubric_version, "
                "(to_jsonb(t) ->> 'rubric_number')::integer, prompt_version, model, overall_score, "
                "status, analyzed_at, {current} "
                "from {t} t where dialog_id = %(d)s"
            ).format(current=sql.Literal(current), t=sql.Identifier(schema, table))
        )
    if not parts:
        return []
    query = sql.SQL(" union all ").join(parts) + sql.SQL(" order by 9 desc, 10 desc")
    return [ScoredVersion(*row) for row in conn.execute(query, {"d": str(dialog_id)})]
