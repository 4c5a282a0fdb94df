"""Create small `<slug>_marts` tables by SQL, with the column names and types of the dbt marts.

Why: the analysis and report tests must not wait for a full dbt build; these few rows have the
same shape as `fct_dialogs`, `fct_dialog_messages` and `dim_leads` (see dbt_project/models/marts).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import psycopg


@dataclass
class Dialog:
    dialog_id: int
    manager_name: str | None
    lead_id: int | None
    messages: list[tuple[datetime, str, str]]  # (sent_at, direction, text)
    attachments: dict[int, list[dict[str, str]]] = field(default_factory=dict)  # message index -> files


def create_marts(
    conn: psycopg.Connection,
    slug: str,
    dialogs: list[Dialog],
    leads_created: list[datetime],
    leads: dict[int, tuple[float, str]] | None = None,
) -> None:
    """``leads``: lead_id -> (price, status_type) of the dialogs' deals (``open``/``won``/``lost``)."""
    s = f'"{slug}_marts"'
    conn.execute(f"drop schema if exists {s} cascade")
    conn.execute(f"create schema {s}")
    conn.execute(
        f"create table {s}.fct_dialogs (dialog_id bigint primary key, chat_id bigint, contact_id bigint, "
        "lead_id bigint, responsible_user_id bigint, manager_name text, phone_e164 text, channel text, "
        "match_status text, first_message_at timestamptz, last_message_at timestamptz)"
    )
    conn.execute(
        f"create table {s}.fct_dialog_messages (dialog_id bigint, message_id text primary key, "
        "sent_at timestamptz, business_date date, direction text, message_type text, text text, "
        "attachments jsonb, status text)"
    )
    conn.execute(
        f"create table {s}.dim_leads (lead_id bigint primary key, price numeric, status_type text, "
        "created_at timestamptz)"
    )
    for d in dialogs:
        conn.execute(
            f"insert into {s}.fct_dialogs (dialog_id, chat_id, lead_id, manager_name, phone_e164, channel, "
            "match_status, first_message_at, last_message_at) values (%s, %s, %s, %s, %s, 'whatsapp', "
            "'matched', %s, %s)",
            (
                d.dialog_id,
                d.dialog_id,
                d.lead_id,
                d.manager_name,
                "+79990000000",
                d.messages[0][0],
                d.messages[-1][0],
            ),
        )
        for i, (at, direction, text) in enumerate(d.messages):
            conn.execute(
                f"insert into {s}.fct_dialog_messages (dialog_id, message_id, sent_at, direction, text, "
                "attachments) values (%s, %s, %s, %s, %s, %s::jsonb)",
                (
                    d.dialog_id,
                    f"{d.dialog_id}-{i}",
                    at,
                    direction,
                    text,
                    json.dumps(d.attachments.get(i, [])),
                ),
            )
    for i, at in enumerate(leads_created):
        conn.execute(f"insert into {s}.dim_leads (lead_id, created_at) values (%s, %s)", (1000 + i, at))
    for lead_id, (price, status_type) in (leads or {}).items():
        conn.execute(
            f"insert into {s}.dim_leads (lead_id, price, status_type) values (%s, %s, %s)",
            (lead_id, price, status_type),
        )
    conn.commit()
