"""Seed a tenant's marts and analyses with the full shape of the dbt marts, for the dialog pages.

Why not `tests/analysis_marts.py`: the dialog pages read the hard metrics of `fct_dialogs`
(first response, replies, left waiting), the lead and contact names — columns that module's
small tables leave out. Column names and types here are those of dbt_project/models/marts
(`fct_dialogs.sql`, `fct_dialog_messages.sql`, `dim_leads.sql`, `dim_contacts.sql`); the
analyses are written by the analysis step's own DDL (`ensure_analysis_table`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from synkro.analysis.run import ensure_analysis_table

FCT_DIALOGS = (
    "dialog_id bigint, chat_id bigint, contact_id bigint, lead_id bigint, responsible_user_id bigint, "
    "manager_name text, phone_e164 text, channel text, match_status text, first_message_at timestamptz, "
    "last_message_at timestamptz, messages_total integer, messages_inbound integer, "
    "messages_outbound integer, "
    "first_response_seconds double precision, median_response_seconds double precision, "
    "awaiting_reply boolean, waiting_since timestamptz, candidate_contacts integer"
)
FCT_DIALOG_MESSAGES = (
    "dialog_id bigint, message_id text, sent_at timestamptz, business_date date, direction text, "
    "message_type text, text text, attachments jsonb, status text, source_load_id text"
)
DIM_LEADS = (
    "lead_id bigint, lead_name text, responsible_user_id bigint, manager_name text, created_at timestamptz"
)
DIM_CONTACTS = "contact_id bigint, contact_name text, responsible_user_id bigint, phone_e164 text"


def create_tables(conn: psycopg.Connection, slug: str) -> None:
    """Empty marts of the dbt shape (the schema is dropped first) and the analysis table."""
    s = f'"{slug}_marts"'
    conn.execute(f"drop schema if exists {s} cascade")
    conn.execute(f"create schema {s}")
    conn.execute(f"create table {s}.fct_dialogs ({FCT_DIALOGS})")
    conn.execute(f"create table {s}.fct_dialog_messages ({FCT_DIALOG_MESSAGES})")
    conn.execute(f"create table {s}.dim_leads ({DIM_LEADS})")
    conn.execute(f"create table {s}.dim_contacts ({DIM_CONTACTS})")
    conn.commit()
    ensure_analysis_table(conn, slug)


@dataclass
class SeedDialog:
    dialog_id: int
    responsible_user_id: int | None
    manager_name: str | None
    messages: list[tuple[datetime, str, str]]  # (sent_at, direction, text)
    lead_id: int | None = None
    lead_name: str | None = None
    contact_id: int | None = None
    contact_name: str | None = None
    first_response_seconds: float | None = None
    analyses: list[dict[str, Any]] = field(default_factory=list)  # dialog_analyses columns


def seed(conn: psycopg.Connection, slug: str, dialogs: list[SeedDialog]) -> None:
    s = f'"{slug}_marts"'
    for d in dialogs:
        inbound = sum(1 for _, direction, _ in d.messages if direction == "inbound")
        last = d.messages[-1] if d.messages else None
        waiting = bool(last and last[1] == "inbound")
        conn.execute(
            f"insert into {s}.fct_dialogs values (%s, %s, %s, %s, %s, %s, '+79990000000', 'whatsapp', "
            "'matched', %s, %s, %s, %s, %s, %s, %s, %s, %s, 1)",
            (
                d.dialog_id,
                d.dialog_id,
                d.contact_id,
                d.lead_id,
                d.responsible_user_id,
                d.manager_name,
                d.messages[0][0] if d.messages else None,
                last[0] if last else None,
                len(d.messages),
                inbound,
                len(d.messages) - inbound,
                d.first_response_seconds,
                d.first_response_seconds,
                waiting,
                last[0] if waiting else None,
            ),
        )
        for i, (at, direction, text) in enumerate(d.messages):
            conn.execute(
                f"insert into {s}.fct_dialog_messages values "
                "(%s, %s, %s, %s, %s, 'text', %s, '[]', 'ok', '1')",
                (d.dialog_id, f"{d.dialog_id}-{i}", at, at.date(), direction, text),
            )
        if d.lead_id is not None:
            conn.execute(
                f"insert into {s}.dim_leads values (%s, %s, %s, %s, %s)",
                (d.lead_id, d.lead_name, d.responsible_user_id, d.manager_name, d.messages[0][0]),
            )
        if d.contact_id is not None:
            conn.execute(
                f"insert into {s}.dim_contacts values (%s, %s, %s, '+79990000000')",
                (d.contact_id, d.contact_name, d.responsible_user_id),
            )
        for a in d.analyses:
            row = {"tenant_slug": slug, "dialog_id": str(d.dialog_id), "status": "ok", **a}
            for key in ("criteria", "objections", "next_step", "risk_flags"):
                if key in row and row[key] is not None:
                    row[key] = Jsonb(row[key])
            cols, marks = ", ".join(row), ", ".join(["%s"] * len(row))
            conn.execute(
                f'insert into "{slug}_analysis".dialog_analyses ({cols}) values ({marks})',
                list(row.values()),
            )
    conn.commit()
