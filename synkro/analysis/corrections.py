"""Human corrections of AI verdicts: disputes, their answers, and direct overrides.

Why a table of its own, append-only: an AI score nobody can question is not trusted, and a
correction nobody can trace is not trusted either. Every dispute, acceptance, rejection and
override is one row in ``<slug>_analysis.verdict_corrections``; the database refuses to update,
delete or truncate them, so the AI's value (``ai_score``, as it was when the human acted), every
human value, who and when stay visible forever.

Rows are keyed by ``dialog_id`` + ``criterion_key``, not by an analysis row: a new analysis of a
changed dialog (another window, another rubric version) keeps its history, and the latest human
value keeps standing until a human changes it.

The rules (the shared contract of issue 11, relied on by the dialog list, trends and reports):
- the **human value** of a criterion is the score of its latest ``accept`` or ``override``;
- a criterion is **disputed** while its latest row is a ``dispute``;
- ``accept`` (with the corrected score) and ``reject`` (with a note) answer an open dispute only;
- who may write which kind is :data:`KINDS_BY_ROLE` (the portal checks dialog ownership on top).

``human_overall_sql`` recomputes a dialog's overall score with the human values by the rubric's
weights; the weights of every rubric version that scored something are kept in
``<slug>_analysis.rubric_weights`` (:func:`remember_rubric`, called by the analysis run).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from synkro.analysis.scoring import FATAL_BELOW, FATAL_CAP

if TYPE_CHECKING:
    from synkro.analysis.rubric import Rubric

TABLE = "verdict_corrections"
WEIGHTS_TABLE = "rubric_weights"
# A view of human_overall_sql(per_window=True), for dbt (source analysis.dialog_human_scores).
VIEW = "dialog_human_scores"
KINDS = ("dispute", "accept", "reject", "override")
HUMAN_VALUE_KINDS = ("accept", "override")
# Who may write which kind; the portal adds that a manager disputes only their own dialogs.
KINDS_BY_ROLE: dict[str, frozenset[str]] = {
    "manager": frozenset({"dispute"}),
    "viewer": frozenset({"accept", "reject", "override"}),
    "admin": frozenset({"accept", "reject", "override"}),
    "super_admin": frozenset({"accept", "reject", "override"}),
}
NOTE_MAX = 2000
# The scoring rule of issue 14.3 (a fatal criterion below FATAL_BELOW caps the overall at FATAL_CAP)
# is owned by synkro.analysis.scoring; the corrected overall applies it to the human values too.


class CorrectionError(ValueError):
    """A correction refused before anything was written; ``code`` is one of :data:`ERROR_CODES`."""

    def __init__(self, code: str):
        if code not in ERROR_CODES:
            raise ValueError(f"unknown correction error code {code!r}")
        super().__init__(ERROR_CODES[code])
        self.code = code


# code → an English explanation (the portal shows its own translated message for the code).
ERROR_CODES = {
    "kind": "the kind must be dispute, accept, reject or override",
    "role": "this role may not make this kind of correction",
    "score": "a score from 0 to 100 is required for accept and override (and not allowed otherwise)",
    "note": "a note is required for dispute, reject and override",
    "note_long": f"the note is longer than {NOTE_MAX} characters",
    "no_dispute": "there is no open dispute on this criterion to accept or reject",
    "already_disputed": "this criterion is already disputed and waits for an answer",
}


@dataclass(frozen=True)
class Correction:
    """One row of the history."""

    id: int
    dialog_id: str
    criterion_key: str
    kind: str
    score: int | None
    note: str | None
    ai_score: int | None
    rubric_version: str | None
    actor: str
    actor_role: str
    created_at: datetime


@dataclass
class CriterionState:
    """What humans said about one criterion of one dialog, oldest row first in ``history``."""

    history: list[Correction] = field(default_factory=list)

    @property
    def latest(self) -> Correction | None:
        return self.history[-1] if self.history else None

    @property
    def human_score(self) -> int | None:
        """The score of the latest accept/override, or None when no human gave one."""
        for row in reversed(self.history):
            if row.kind in HUMAN_VALUE_KINDS:
                return row.score
        return None

    @property
    def open_dispute(self) -> bool:
        latest = self.latest
        return latest is not None and latest.kind == "dispute"

    @property
    def dispute(self) -> Correction | None:
        """The open dispute (what the manager said), when there is one."""
        return self.latest if self.open_dispute else None


def schema_name(slug: str) -> str:
    return f"{slug}_analysis"


def _qualified(slug: str, table: str) -> str:
    """A quoted ``schema.table`` for SQL text (slugs are validated names; quoting is belt and braces)."""

    def quote(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    return f"{quote(schema_name(slug))}.{quote(table)}"


_DDL = """
create schema if not exists {schema};
create table if not exists {table} (
    id             bigserial   primary key,
    dialog_id      text        not null,
    criterion_key  text        not null,
    kind           text        not null check (kind in ('dispute', 'accept', 'reject', 'override')),
    score          integer     check (score between 0 and 100),
    note           text,
    ai_score       integer,
    rubric_version text,
    actor          text        not null,
    actor_role     text        not null,
    created_at     timestamptz not null default now(),
    constraint verdict_corrections_score_kind check (
        (kind in ('accept', 'override')) = (score is not null)
    )
);
create index if not exists verdict_corrections_dialog_idx on {table} (dialog_id, criterion_key, id);
create or replace function {schema}.verdict_corrections_append_only() returns trigger
language plpgsql as $$
begin
    raise exception 'verdict_corrections is append-only (% refused)', tg_op;
end
$$;
create or replace trigger verdict_corrections_no_update_delete before update or delete on {table}
    for each row execute function {schema}.verdict_corrections_append_only();
create or replace trigger verdict_corrections_no_truncate before truncate on {table}
    for each statement execute function {schema}.verdict_corrections_append_only();
create table if not exists {weights} (
    rubric_version text    not null,
    criterion_key  text    not null,
    weight         integer not null check (weight > 0),
    primary key (rubric_version, criterion_key)
);
"""


def ensure_table(conn: psycopg.Connection, slug: str) -> None:
    """Create the corrections table (with its append-only triggers) and the weights table; commits.

    Once ``dialog_analyses`` exists, also the view ``dialog_human_scores`` (one row per analysed
    window with its human-corrected overall), which the dbt marts read.
    """
    analyses = relation_exists(conn, slug, "dialog_analyses")
    if (
        table_exists(conn, slug)
        and relation_exists(conn, slug, WEIGHTS_TABLE)
        and (not analyses or relation_exists(conn, slug, VIEW))
    ):
        return
    schema = sql.Identifier(schema_name(slug))
    statements = _DDL.format(
        schema=schema.as_string(conn),
        table=sql.Identifier(schema_name(slug), TABLE).as_string(conn),
        weights=sql.Identifier(schema_name(slug), WEIGHTS_TABLE).as_string(conn),
    )
    # One advisory lock per tenant: two first corrections at once must not race on CREATE.
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"verdict_corrections:{slug}",))
    conn.execute(statements)
    if analyses:
        conn.execute(
            f"create or replace view {_qualified(slug, VIEW)} as select * from "
            f"{human_overall_sql(slug, per_window=True)} as h"
        )
    conn.commit()


def relation_exists(conn: psycopg.Connection, slug: str, table: str) -> bool:
    row = conn.execute("select to_regclass(%s)", (_qualified(slug, table),)).fetchone()
    return bool(row and row[0])


def table_exists(conn: psycopg.Connection, slug: str) -> bool:
    return relation_exists(conn, slug, TABLE)


def remember_rubric(conn: psycopg.Connection, slug: str, rubric: Rubric) -> None:
    """Keep the weights of ``rubric``'s version, so overall scores can be recomputed in SQL."""
    ensure_table(conn, slug)
    with conn.cursor() as cur:
        cur.executemany(
            sql.SQL(
                "insert into {} (rubric_version, criterion_key, weight) values (%s, %s, %s) "
                "on conflict do nothing"
            ).format(sql.Identifier(schema_name(slug), WEIGHTS_TABLE)),
            [(rubric.version, c.key, c.weight) for c in rubric.criteria],
        )
    conn.commit()


def _validate(kind: str, actor_role: str, score: int | None, note: str | None) -> str | None:
    if kind not in KINDS:
        raise CorrectionError("kind")
    if kind not in KINDS_BY_ROLE.get(actor_role, frozenset()):
        raise CorrectionError("role")
    if kind in HUMAN_VALUE_KINDS:
        if score is None or isinstance(score, bool) or not 0 <= int(score) <= 100:
            raise CorrectionError("score")
    elif score is not None:
        raise CorrectionError("score")
    note = (note or "").strip() or None
    if note is None and kind in ("dispute", "reject", "override"):
        raise CorrectionError("note")
    if note is not None and len(note) > NOTE_MAX:
        raise CorrectionError("note_long")
    return note


_COLUMNS = (
    "id, dialog_id, criterion_key, kind, score, note, ai_score, rubric_version, actor, actor_role, created_at"
)


def record(
    conn: psycopg.Connection,
    slug: str,
    dialog_id: str,
    criterion_key: str,
    kind: str,
    *,
    score: int | None,
    note: str | None,
    ai_score: int | None,
    rubric_version: str | None,
    actor: str,
    actor_role: str,
) -> Correction:
    """Append one correction after checking the rules; raises CorrectionError and writes nothing otherwise.

    The check of the criterion's current state and the insert run under a per-criterion advisory
    lock, so two answers to one dispute cannot both be accepted. Commits.
    """
    note = _validate(kind, actor_role, score, note)
    ensure_table(conn, slug)
    table = sql.Identifier(schema_name(slug), TABLE)
    with conn.transaction():
        conn.execute(
            "select pg_advisory_xact_lock(hashtext(%s))",
            (f"verdict:{slug}:{dialog_id}:{criterion_key}",),
        )
        latest = conn.execute(
            sql.SQL(
                "select kind from {} where dialog_id = %s and criterion_key = %s order by id desc limit 1"
            ).format(table),
            (dialog_id, criterion_key),
        ).fetchone()
        disputed = latest is not None and latest[0] == "dispute"
        if kind in ("accept", "reject") and not disputed:
            raise CorrectionError("no_dispute")
        if kind == "dispute" and disputed:
            raise CorrectionError("already_disputed")
        row = conn.execute(
            sql.SQL(
                "insert into {} (dialog_id, criterion_key, kind, score, note, ai_score, rubric_version, "
                "actor, actor_role) values (%s, %s, %s, %s, %s, %s, %s, %s, %s) returning " + _COLUMNS
            ).format(table),
            (
                dialog_id,
                criterion_key,
                kind,
                int(score) if score is not None else None,
                note,
                ai_score,
                rubric_version,
                actor,
                actor_role,
            ),
        ).fetchone()
    if not conn.autocommit:
        conn.commit()
    return Correction(*row)


def states(
    conn: psycopg.Connection, slug: str, dialog_ids: Iterable[str]
) -> dict[str, dict[str, CriterionState]]:
    """``{dialog_id: {criterion_key: CriterionState}}`` for the dialogs that have any correction.

    A tenant without the table yet (nobody corrected anything) answers ``{}``.
    """
    ids = sorted(set(dialog_ids))
    if not ids or not table_exists(conn, slug):
        return {}
    rows = conn.execute(
        sql.SQL("select " + _COLUMNS + " from {} where dialog_id = any(%s) order by id").format(
            sql.Identifier(schema_name(slug), TABLE)
        ),
        (ids,),
    ).fetchall()
    out: dict[str, dict[str, CriterionState]] = defaultdict(lambda: defaultdict(CriterionState))
    for row in rows:
        correction = Correction(*row)
        out[correction.dialog_id][correction.criterion_key].history.append(correction)
    return {d: dict(by_key) for d, by_key in out.items()}


def human_overall_sql(slug: str, *, per_window: bool = False) -> str:
    """A parenthesised subquery: each analysed dialog's overall score with human values applied.

    Use it as ``select … from <this> as h``. Columns: ``dialog_id``, ``window_start``,
    ``window_end``, ``rubric_version``, ``ai_overall`` (the stored overall), ``corrected_overall``
    (the stored overall when no human value exists; otherwise the weighted mean of the criterion
    scores with each human value in place of the AI's — N/A criteria, stored without a score, left
    out — by each criterion's stored weight, else the weights recorded for the rubric version that
    scored the row, else equal weights; capped at FATAL_CAP when a ``fatal`` criterion ends below
    FATAL_BELOW, rounded half up), and
    ``corrected_criteria`` / ``disputed_criteria`` (how many criteria carry a human value / an open
    dispute). One row per dialog (its latest successful analysis), or with ``per_window`` one row
    per analysed window (its latest successful analysis there) — for a report of one day.
    Both tables must exist (:func:`ensure_table`).
    """
    analyses = _qualified(slug, "dialog_analyses")
    corrections = _qualified(slug, TABLE)
    weights = _qualified(slug, WEIGHTS_TABLE)
    distinct = "dialog_id, window_start, window_end" if per_window else "dialog_id"
    return f"""(
    with current_analysis as (
        select distinct on ({distinct}) dialog_id, window_start, window_end, rubric_version,
               overall_score, criteria
        from {analyses}
        where status = 'ok'
        order by {distinct}, analyzed_at desc
    ), latest_row as (
        select distinct on (dialog_id, criterion_key) dialog_id, criterion_key, kind
        from {corrections}
        order by dialog_id, criterion_key, id desc
    ), human_value as (
        select distinct on (dialog_id, criterion_key) dialog_id, criterion_key, score
        from {corrections}
        where kind in ('accept', 'override')
        order by dialog_id, criterion_key, id desc
    ), scored as (
        select a.dialog_id, a.window_start, a.window_end,
               case when jsonb_typeof(c.item -> 'score') = 'number'
                    then (c.item ->> 'score')::numeric end as ai_score,
               h.score as human_score,
               coalesce(
                   case when jsonb_typeof(c.item -> 'weight') = 'number'
                        then (c.item ->> 'weight')::numeric end,
                   w.weight, 1
               ) as weight,
               coalesce(c.item ->> 'type' = 'fatal', false) as fatal,
               coalesce(l.kind = 'dispute', false) as disputed
        from current_analysis a
        cross join lateral jsonb_array_elements(
            case when jsonb_typeof(a.criteria) = 'array' then a.criteria else '[]'::jsonb end
        ) as c(item)
        left join human_value h on h.dialog_id = a.dialog_id and h.criterion_key = c.item ->> 'key'
        left join latest_row l on l.dialog_id = a.dialog_id and l.criterion_key = c.item ->> 'key'
        left join {weights} w on w.rubric_version = a.rubric_version and w.criterion_key = c.item ->> 'key'
    ), per_row as (
        select dialog_id, window_start, window_end,
               count(human_score) as corrected_criteria,
               count(*) filter (where disputed) as disputed_criteria,
               sum(coalesce(human_score, ai_score) * weight)
                   filter (where coalesce(human_score, ai_score) is not null)
                 / nullif(sum(weight) filter (where coalesce(human_score, ai_score) is not null), 0)
                   as weighted,
               coalesce(bool_or(fatal and coalesce(human_score, ai_score) < {FATAL_BELOW}), false)
                   as capped
        from scored
        group by dialog_id, window_start, window_end
    )
    select a.dialog_id, a.window_start, a.window_end, a.rubric_version,
           a.overall_score as ai_overall,
           case when coalesce(p.corrected_criteria, 0) = 0 then a.overall_score
                when p.capped then least(round(p.weighted), {FATAL_CAP})::integer
                else round(p.weighted)::integer end as corrected_overall,
           coalesce(p.corrected_criteria, 0)::integer as corrected_criteria,
           coalesce(p.disputed_criteria, 0)::integer as disputed_criteria
    from current_analysis a
    left join per_row p on p.dialog_id = a.dialog_id and p.window_start = a.window_start
        and p.window_end = a.window_end
)"""


def corrected_overall(
    conn: psycopg.Connection, slug: str, dialog_id: str, window_start: datetime, window_end: datetime
) -> int | None:
    """The dialog's overall for one analysed window with human values applied, or None when no
    criterion of it carries a human value (or nothing was ever corrected in this tenant)."""
    if not (
        table_exists(conn, slug)
        and relation_exists(conn, slug, WEIGHTS_TABLE)
        and relation_exists(conn, slug, "dialog_analyses")
    ):
        return None
    row = conn.execute(
        f"select corrected_overall from {human_overall_sql(slug, per_window=True)} as h "
        "where dialog_id = %s and window_start = %s and window_end = %s and corrected_criteria > 0",
        (dialog_id, window_start, window_end),
    ).fetchone()
    return row[0] if row else None
