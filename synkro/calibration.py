"""Calibration: per rubric criterion, how often and how far humans moved the AI's score.

Why: a criterion whose scores people keep changing is worded badly (or the model misreads it);
these figures and examples are the evidence for rewording the rubric. Read from the append-only
`verdict_corrections` (synkro.analysis.corrections) and the current analyses:

- ``scored``: verdicts with an AI score, one per dialog (its latest successful analysis);
- ``human``: dialogs whose criterion carries a human value (latest accept/override);
- ``changed``: of those, the ones where the human value differs from the AI's value at the time
  of the correction; ``changed_share`` = changed / scored;
- ``mean_change`` / ``mean_abs_change``: human − AI over the human values (0 when equal);
- ``disputes`` / ``accepted`` / ``rejected``: dispute rows and their answers;
- ``examples``: the latest human values that differ from the AI's, with the note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from synkro.analysis import corrections
from synkro.analysis.rubric import Rubric

EXAMPLES_PER_CRITERION = 5


@dataclass(frozen=True)
class Example:
    dialog_id: str
    ai_score: int | None
    human_score: int
    note: str | None
    actor: str
    created_at: datetime


@dataclass
class CriterionCalibration:
    key: str
    title: str
    scored: int = 0
    human: int = 0
    changed: int = 0
    mean_change: float | None = None
    mean_abs_change: float | None = None
    disputes: int = 0
    accepted: int = 0
    rejected: int = 0
    overrides: int = 0
    examples: list[Example] = field(default_factory=list)

    @property
    def changed_share(self) -> float | None:
        return self.changed / self.scored if self.scored else None


def _q(slug: str, table: str) -> str:
    return f'"{slug}_analysis"."{table}"'


def calibration(conn: psycopg.Connection, slug: str, rubric: Rubric) -> list[CriterionCalibration]:
    """One entry per criterion of ``rubric`` (then any other key humans corrected), in rubric order."""
    by_key = {c.key: CriterionCalibration(c.key, c.title) for c in rubric.criteria}

    def entry(key: str) -> CriterionCalibration:
        return by_key.setdefault(key, CriterionCalibration(key, key))

    if corrections.relation_exists(conn, slug, "dialog_analyses"):
        for key, scored in conn.execute(
            f"""
            with current_analysis as (
                select distinct on (dialog_id) criteria from {_q(slug, "dialog_analyses")}
                where status = 'ok' order by dialog_id, analyzed_at desc
            )
            select c.item ->> 'key', count(*) from current_analysis a
            cross join lateral jsonb_array_elements(
                case when jsonb_typeof(a.criteria) = 'array' then a.criteria else '[]'::jsonb end
            ) as c(item)
            where c.item ->> 'score' is not null group by 1
            """
        ):
            if key in by_key:
                entry(key).scored = scored
    if not corrections.table_exists(conn, slug):
        return list(by_key.values())
    table = _q(slug, corrections.TABLE)
    for key, disputes, accepted, rejected, overrides in conn.execute(
        f"""
        select criterion_key, count(*) filter (where kind = 'dispute'),
               count(*) filter (where kind = 'accept'), count(*) filter (where kind = 'reject'),
               count(*) filter (where kind = 'override')
        from {table} group by 1
        """
    ):
        item = entry(key)
        item.disputes, item.accepted, item.rejected, item.overrides = disputes, accepted, rejected, overrides
    human_values = f"""
        select distinct on (dialog_id, criterion_key) dialog_id, criterion_key, score, ai_score, note,
               actor, created_at, id
        from {table} where kind in ('accept', 'override')
        order by dialog_id, criterion_key, id desc
    """
    for key, human, changed, mean_change, mean_abs in conn.execute(
        f"""
        select criterion_key, count(*), count(*) filter (where score is distinct from ai_score),
               avg(score - ai_score)::float, avg(abs(score - ai_score))::float
        from ({human_values}) h group by 1
        """
    ):
        item = entry(key)
        item.human, item.changed = human, changed
        item.mean_change, item.mean_abs_change = mean_change, mean_abs
    for key, dialog_id, ai_score, score, note, actor, created_at in conn.execute(
        f"""
        select criterion_key, dialog_id, ai_score, score, note, actor, created_at from (
            select h.*, row_number() over (partition by criterion_key order by id desc) as n
            from ({human_values}) h where score is distinct from ai_score
        ) ranked where n <= %s order by criterion_key, id desc
        """,
        (EXAMPLES_PER_CRITERION,),
    ):
        entry(key).examples.append(Example(dialog_id, ai_score, score, note, actor, created_at))
    return list(by_key.values())
