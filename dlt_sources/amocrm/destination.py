"""Read back rows already loaded, from inside a running dlt extraction.

A deletion seen in the events API (or missing from a full id scan) carries only an id, while a
dlt merge replaces whole rows. To mark `is_deleted` without blanking the other columns, the
source re-emits the row as it is in the warehouse with the flag set. This reads it through the
running pipeline's own destination client, so the source needs no separate connection settings.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable

import dlt

log = logging.getLogger(__name__)

_DLT_COLUMNS = {"_dlt_id", "_dlt_load_id"}


def loaded_rows(table: str, ids: Iterable[int]) -> list[dict]:
    """Rows of `table` (in this pipeline's dataset) whose `id` is in `ids`, without dlt columns."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return []
    try:
        pipeline = dlt.current.pipeline()
    except Exception:
        return []
    with pipeline.sql_client() as client:
        qualified = client.make_qualified_table_name(table)
        try:
            with client.execute_query(f"select * from {qualified} where id = any(%s)", wanted) as cursor:
                columns = [d[0] for d in cursor.description]
                rows = cursor.fetchall()
        except Exception as exc:
            if "does not exist" in str(exc):
                return []
            raise
    return [{k: v for k, v in zip(columns, row, strict=True) if k not in _DLT_COLUMNS} for row in rows]


def loaded_stamps(table: str) -> dict[int, tuple[int | None, bool]]:
    """`{id: (updated_at as unix seconds, is_deleted)}` of every row of `table`; empty before the
    first load. A reconciliation scan compares the API against this to write only differences."""
    try:
        pipeline = dlt.current.pipeline()
    except Exception:
        return {}
    with pipeline.sql_client() as client:
        qualified = client.make_qualified_table_name(table)
        try:
            with client.execute_query(
                f"select id, extract(epoch from updated_at)::bigint, coalesce(is_deleted, false) "
                f"from {qualified}"
            ) as cursor:
                return {
                    int(r[0]): (None if r[1] is None else int(r[1]), bool(r[2])) for r in cursor.fetchall()
                }
        except Exception as exc:
            if "does not exist" in str(exc):
                return {}
            raise


def vanished_ids(table: str, seen: Collection[int]) -> set[int]:
    """Ids of `table` not marked deleted that are not in `seen` (the ids a full scan returned).

    Computed in Postgres (`id = any(...)` over a constant array is hashed), so the warehouse's ids
    are never read into a Python set: only the few vanished ones come back.
    """
    try:
        pipeline = dlt.current.pipeline()
    except Exception:
        return set()
    with pipeline.sql_client() as client:
        qualified = client.make_qualified_table_name(table)
        try:
            with client.execute_query(
                f"select id from {qualified} where not coalesce(is_deleted, false) "
                "and not (id = any(%s::bigint[]))",
                list(seen),
            ) as cursor:
                return {int(r[0]) for r in cursor.fetchall()}
        except Exception as exc:
            if "does not exist" in str(exc):
                return set()
            raise
