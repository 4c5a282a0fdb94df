"""Small hand-made `<slug>_raw` tables for the dbt tests, shaped exactly like the raw contract.

Columns and types are those dlt writes for the contract in docs/architecture.md (plus dlt's
`_dlt_load_id` / `_dlt_id`); the rows are chosen so every expected mart value can be computed by hand.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

RAW_TABLES: dict[str, list[tuple[str, str]]] = {
    "amocrm_leads": [
        ("id", "bigint"),
        ("name", "varchar"),
        ("price", "bigint"),
        ("status_id", "bigint"),
        ("pipeline_id", "bigint"),
        ("responsible_user_id", "bigint"),
        ("created_at", "timestamptz"),
        ("updated_at", "timestamptz"),
        ("closed_at", "timestamptz"),
        ("is_deleted", "boolean"),
    ],
    "amocrm_contacts": [
        ("id", "bigint"),
        ("name", "varchar"),
        ("first_name", "varchar"),
        ("last_name", "varchar"),
        ("responsible_user_id", "bigint"),
        ("created_at", "timestamptz"),
        ("updated_at", "timestamptz"),
        ("is_deleted", "boolean"),
    ],
    "amocrm_contact_phones": [
        ("contact_id", "bigint"),
        ("position", "bigint"),
        ("phone_raw", "varchar"),
        ("phone_e164", "varchar"),
        ("phone_valid", "boolean"),
        ("enum_code", "varchar"),
        ("phone_numbers", "varchar"),  # last: rows written before it existed simply stop earlier
    ],
    "amocrm_contact_emails": [
        ("contact_id", "bigint"),
        ("position", "bigint"),
        ("email", "varchar"),
        ("enum_code", "varchar"),
    ],
    "amocrm_lead_contacts": [("lead_id", "bigint"), ("contact_id", "bigint"), ("is_main", "boolean")],
    "amocrm_pipelines": [("id", "bigint"), ("name", "varchar"), ("sort", "bigint"), ("is_main", "boolean")],
    "amocrm_statuses": [
        ("pipeline_id", "bigint"),
        ("id", "bigint"),
        ("name", "varchar"),
        ("sort", "bigint"),
        ("type", "varchar"),
    ],
    "amocrm_users": [("id", "bigint"), ("name", "varchar"), ("email", "varchar")],
    "radist_chats": [
        ("chat_id", "bigint"),
        ("contact_id", "bigint"),
        ("contact_name", "varchar"),
        ("connection_id", "bigint"),
        ("channel", "varchar"),
        ("phone_raw", "varchar"),
        ("phone_e164", "varchar"),
        ("phone_valid", "boolean"),
        ("created_at", "timestamptz"),
        ("last_message_at", "timestamptz"),
    ],
    "radist_messages": [
        ("message_id", "varchar"),
        ("chat_id", "bigint"),
        ("sent_at", "timestamptz"),
        ("direction", "varchar"),
        ("message_type", "varchar"),
        ("text", "varchar"),
        ("attachments", "jsonb"),
        ("status", "varchar"),
    ],
}


def create_raw_schema(conn: psycopg.Connection, slug: str) -> None:
    """Create `<slug>_raw` with every contract table, empty."""
    conn.execute(f'create schema if not exists "{slug}_raw"')
    for table, columns in RAW_TABLES.items():
        cols = ", ".join(f'"{name}" {type_}' for name, type_ in columns)
        conn.execute(
            f'create table if not exists "{slug}_raw"."{table}" '
            f"({cols}, _dlt_load_id varchar not null, _dlt_id varchar not null unique)"
        )


def insert_rows(
    conn: psycopg.Connection, slug: str, table: str, rows: Iterable[Sequence[Any]], load_id: str
) -> None:
    """Insert rows (values in the contract's column order) as one dlt load would; a row may stop
    before the last columns, which then stay NULL (as in a load made before they existed)."""
    all_names = [name for name, _ in RAW_TABLES[table]]
    for row in rows:
        names = all_names[: len(row)]
        columns = ", ".join(f'"{name}"' for name in [*names, "_dlt_load_id", "_dlt_id"])
        placeholders = ", ".join(["%s"] * (len(names) + 2))
        sql = f'insert into "{slug}_raw"."{table}" ({columns}) values ({placeholders})'
        values = [json.dumps(v) if isinstance(v, list) else v for v in row]
        conn.execute(sql, [*values, load_id, uuid.uuid4().hex[:14]])


def copy_rows(conn: psycopg.Connection, slug: str, table: str, rows: Iterable[dict], load_id: str) -> int:
    """COPY loader-shaped row dicts into a raw table, as one dlt load.

    Rows flagged `_tombstone` (the loaders' hard-delete marker) are skipped, as dlt never lands them.
    Returns the number of rows written.
    """
    names = [name for name, _ in RAW_TABLES[table]]
    columns = ", ".join(f'"{name}"' for name in [*names, "_dlt_load_id", "_dlt_id"])
    written = 0
    with conn.cursor() as cur, cur.copy(f'copy "{slug}_raw"."{table}" ({columns}) from stdin') as copy:
        for row in rows:
            if row.get("_tombstone"):
                continue
            values = [json.dumps(v) if isinstance(v, list | dict) else v for v in (row.get(n) for n in names)]
            copy.write_row([*values, load_id, uuid.uuid4().hex[:14]])
            written += 1
    return written
