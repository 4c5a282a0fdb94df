"""A tenant's monthly AI budget: what the month has spent, what a run may still spend, who goes first.

Why a spend ledger of its own: ``dialog_analyses`` holds the *current* verdict of a dialog and is
overwritten when the dialog is re-scored, so it under-counts what was paid. Every paid Gemini
answer — online, batch, and (when it lands) the bot's — appends one row to
``<slug>_analysis.ai_spend``; the month's spend is their sum since the first day of the month in
the tenant's time zone.

Why an order: when the budget cannot cover every dialog, what it buys must matter most. Dialogs
are scored in this order: open deals first, then customers waiting for an answer, then the largest
deals by amoCRM price; the rest are left out with a reason the report and the portal show.
A run admits dialogs by a conservative estimate (no cache, a full-length answer); the actual cost
is recorded as it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from synkro import tenancy
from synkro.analysis.gemini import GeminiSettings, estimate_cost
from synkro.analysis.pricing import Mode, Usage

BUDGET_REASON = "budget: monthly AI budget"

_DDL = """
create table if not exists {table} (
    id                  bigserial primary key,
    spent_at            timestamptz not null default now(),
    kind                text        not null check (kind in ('analysis', 'bot')),
    dialog_id           text,
    model               text,
    mode                text        not null default 'online',
    input_tokens        integer     not null default 0,
    cached_input_tokens integer     not null default 0,
    output_tokens       integer     not null default 0,
    thinking_tokens     integer     not null default 0,
    cost_usd            numeric(12, 6)
)
"""


def _table(slug: str) -> sql.Identifier:
    return sql.Identifier(tenancy.analysis_schema(slug), "ai_spend")


def ensure_spend_table(conn: psycopg.Connection, slug: str) -> None:
    schema = sql.Identifier(tenancy.analysis_schema(slug))
    conn.execute(sql.SQL("create schema if not exists {}").format(schema))
    conn.execute(sql.SQL(_DDL).format(table=_table(slug)))
    conn.execute(
        sql.SQL("create index if not exists {} on {} (spent_at)").format(
            sql.Identifier("ai_spend_spent_at_idx"), _table(slug)
        )
    )


def record_spend(
    conn: psycopg.Connection,
    slug: str,
    kind: str,
    *,
    model: str,
    mode: Mode,
    usage: Usage,
    cost: float | None,
    dialog_id: str | None = None,
) -> None:
    """Append one paid answer (the caller commits with the row it belongs to)."""
    conn.execute(
        sql.SQL(
            "insert into {} (kind, dialog_id, model, mode, input_tokens, cached_input_tokens, output_tokens, "
            "thinking_tokens, cost_usd) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        ).format(_table(slug)),
        (
            kind,
            dialog_id,
            model,
            mode,
            usage.prompt_tokens,
            usage.cached_tokens,
            usage.output_tokens,
            usage.thinking_tokens,
            cost,
        ),
    )


def month_start(now: datetime, timezone: str) -> datetime:
    """Midnight of the first day of ``now``'s month in the tenant's time zone."""
    local = now.astimezone(ZoneInfo(timezone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def month_spent(conn: psycopg.Connection, slug: str, since: datetime) -> float:
    """USD spent since ``since`` (answers of unknown cost count 0; the report says they are unknown)."""
    row = conn.execute(
        sql.SQL("select coalesce(sum(cost_usd), 0) from {} where spent_at >= %s").format(_table(slug)),
        (since,),
    ).fetchone()
    return float(row[0]) if row else 0.0


@dataclass(frozen=True)
class Priority:
    """Why a dialog goes first: its deal is open, its customer waits, its deal is large."""

    open_deal: bool = False
    waiting: bool = False
    price: float = 0.0

    def key(self, dialog_id: str) -> tuple[bool, bool, float, str]:
        return (not self.open_deal, not self.waiting, -self.price, dialog_id)


def _exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    row = conn.execute("select to_regclass(%s)", (f'"{schema}"."{table}"',)).fetchone()
    return bool(row and row[0])


def priorities(
    conn: psycopg.Connection, slug: str, dialog_ids: list[str], window_end: datetime
) -> dict[str, Priority]:
    """Priority of each dialog from the marts (``dim_leads`` is optional: amoCRM-less tenants)."""
    marts = tenancy.marts_schema(slug)
    if not dialog_ids:
        return {}
    has_leads = _exists(conn, marts, "dim_leads")
    lead_cols = (
        "coalesce(l.status_type = 'open', false), coalesce(l.price, 0)"
        if has_leads
        else "d.lead_id is not null, 0"
    )
    lead_join = "left join {leads} l on l.lead_id = d.lead_id" if has_leads else ""
    query = sql.SQL(
        f"""
        select d.dialog_id::text, {lead_cols},
               coalesce((select m.direction = 'inbound' from {{messages}} m
                         where m.dialog_id = d.dialog_id and m.sent_at < %(end)s
                         order by m.sent_at desc limit 1), false)
        from {{dialogs}} d {lead_join}
        where d.dialog_id::text = any(%(ids)s)
        """
    ).format(
        dialogs=sql.Identifier(marts, "fct_dialogs"),
        messages=sql.Identifier(marts, "fct_dialog_messages"),
        leads=sql.Identifier(marts, "dim_leads"),
    )
    out = {}
    for dialog_id, open_deal, price, waiting in conn.execute(query, {"ids": dialog_ids, "end": window_end}):
        out[dialog_id] = Priority(bool(open_deal), bool(waiting), float(price or 0))
    return out


def estimated_cost(settings: GeminiSettings, prompt_chars: int, mode: Mode) -> float | None:
    """A conservative USD estimate of one dialog: ≈3 characters per token, no cache, a full answer."""
    usage = Usage(prompt_tokens=prompt_chars // 3 + 400, output_tokens=min(settings.max_output_tokens, 2000))
    return estimate_cost(settings.model, usage, settings, mode)
