"""Small reads of a tenant's warehouse that the dialog pages share."""

from __future__ import annotations

import json
from typing import Any

import psycopg


def marts(slug: str) -> str:
    return f"{slug}_marts"


def analysis(slug: str) -> str:
    return f"{slug}_analysis"


def table_exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    row = conn.execute("select to_regclass(%s)", (f'"{schema}"."{table}"',)).fetchone()
    return bool(row and row[0])


def as_json(value: Any, default: Any) -> Any:
    """A jsonb column's value (psycopg parses it; older rows or text columns may hold a string)."""
    if value is None:
        return default
    if isinstance(value, (str, bytes)):
        try:
            return json.loads(value)
        except ValueError:
            return default
    return value
