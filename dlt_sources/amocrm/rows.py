"""amoCRM API objects → flat rows of the raw warehouse contract (docs/architecture.md).

Kept apart from the dlt plumbing so the mapping rules (unix seconds → UTC timestamps, PHONE/EMAIL
picked by `field_code` not field id, `enum_code` or legacy `enum`, `is_main` spellings) are plain
functions. Column hints are declared for every contract column: dlt does not create a column
whose values are all null in the first load, and dbt models select them by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from synkro.phones import extract_values

# Rows that carry this flag delete their key from the destination (dlt `hard_delete` hint).
TOMBSTONE = "_tombstone"

LEAD_COLUMNS: dict[str, dict[str, Any]] = {
    "id": {"data_type": "bigint", "nullable": False},
    "name": {"data_type": "text"},
    "price": {"data_type": "bigint"},
    "status_id": {"data_type": "bigint"},
    "pipeline_id": {"data_type": "bigint"},
    "responsible_user_id": {"data_type": "bigint"},
    "created_at": {"data_type": "timestamp"},
    "updated_at": {"data_type": "timestamp"},
    "closed_at": {"data_type": "timestamp"},
    "is_deleted": {"data_type": "bool"},
}
CONTACT_COLUMNS: dict[str, dict[str, Any]] = {
    "id": {"data_type": "bigint", "nullable": False},
    "name": {"data_type": "text"},
    "first_name": {"data_type": "text"},
    "last_name": {"data_type": "text"},
    "responsible_user_id": {"data_type": "bigint"},
    "created_at": {"data_type": "timestamp"},
    "updated_at": {"data_type": "timestamp"},
    "is_deleted": {"data_type": "bool"},
}
_TOMBSTONE_COLUMN = {TOMBSTONE: {"data_type": "bool", "hard_delete": True}}
PHONE_COLUMNS: dict[str, dict[str, Any]] = {
    "contact_id": {"data_type": "bigint", "nullable": False},
    "position": {"data_type": "bigint", "nullable": False},
    "phone_raw": {"data_type": "text"},
    "phone_e164": {"data_type": "text"},
    "phone_valid": {"data_type": "bool"},
    # Every valid number of the value, E.164, space-separated (`phone_e164` is the first of them).
    "phone_numbers": {"data_type": "text"},
    "enum_code": {"data_type": "text"},
    **_TOMBSTONE_COLUMN,
}
EMAIL_COLUMNS: dict[str, dict[str, Any]] = {
    "contact_id": {"data_type": "bigint", "nullable": False},
    "position": {"data_type": "bigint", "nullable": False},
    "email": {"data_type": "text"},
    "enum_code": {"data_type": "text"},
    **_TOMBSTONE_COLUMN,
}
LINK_COLUMNS: dict[str, dict[str, Any]] = {
    "lead_id": {"data_type": "bigint", "nullable": False},
    "contact_id": {"data_type": "bigint", "nullable": False},
    "is_main": {"data_type": "bool"},
    **_TOMBSTONE_COLUMN,
}
PIPELINE_COLUMNS: dict[str, dict[str, Any]] = {
    "id": {"data_type": "bigint", "nullable": False},
    "name": {"data_type": "text"},
    "sort": {"data_type": "bigint"},
    "is_main": {"data_type": "bool"},
}
STATUS_COLUMNS: dict[str, dict[str, Any]] = {
    "pipeline_id": {"data_type": "bigint", "nullable": False},
    "id": {"data_type": "bigint", "nullable": False},
    "name": {"data_type": "text"},
    "sort": {"data_type": "bigint"},
    "type": {"data_type": "text"},
}
USER_COLUMNS: dict[str, dict[str, Any]] = {
    "id": {"data_type": "bigint", "nullable": False},
    "name": {"data_type": "text"},
    "email": {"data_type": "text"},
}

WON_STATUS_ID = 142
LOST_STATUS_ID = 143


def ts(value: int | float | None) -> datetime | None:
    """amoCRM unix seconds (UTC) → aware datetime; 0/None mean "not set"."""
    if not value:
        return None
    return datetime.fromtimestamp(int(value), tz=UTC)


def lead_row(lead: dict) -> dict:
    return {
        "id": lead["id"],
        "name": lead.get("name"),
        "price": lead.get("price"),
        "status_id": lead.get("status_id"),
        "pipeline_id": lead.get("pipeline_id"),
        "responsible_user_id": lead.get("responsible_user_id"),
        "created_at": ts(lead.get("created_at")),
        "updated_at": ts(lead.get("updated_at")),
        "closed_at": ts(lead.get("closed_at")),
        "is_deleted": bool(lead.get("is_deleted", False)),
    }


def contact_row(contact: dict) -> dict:
    return {
        "id": contact["id"],
        "name": contact.get("name"),
        "first_name": contact.get("first_name"),
        "last_name": contact.get("last_name"),
        "responsible_user_id": contact.get("responsible_user_id"),
        "created_at": ts(contact.get("created_at")),
        "updated_at": ts(contact.get("updated_at")),
        "is_deleted": bool(contact.get("is_deleted", False)),
    }


def _multitext_values(entity: dict, field_code: str) -> Iterator[dict]:
    """Values of every custom field with this `field_code` (`custom_fields_values` may be null)."""
    for cf in entity.get("custom_fields_values") or []:
        if (cf.get("field_code") or "").upper() == field_code:
            yield from cf.get("values") or []


def _enum_code(value: dict) -> str | None:
    code = value.get("enum_code")
    if code is None and isinstance(value.get("enum"), str):
        code = value["enum"]
    return code


def contact_phone_rows(contact: dict, region: str) -> list[dict]:
    """One row per PHONE value in order, with every number it holds; a contact with none yields
    a tombstone clearing old rows."""
    values = list(_multitext_values(contact, "PHONE"))
    phones = extract_values([value.get("value") for value in values], region)
    rows = [
        {
            "contact_id": contact["id"],
            "position": position,
            "phone_raw": phone.raw,
            "phone_e164": phone.e164,
            "phone_valid": phone.valid,
            "phone_numbers": " ".join(phone.numbers) or None,
            "enum_code": _enum_code(value),
            TOMBSTONE: False,
        }
        for position, (value, phone) in enumerate(zip(values, phones, strict=True))
    ]
    return rows or [{"contact_id": contact["id"], "position": -1, TOMBSTONE: True}]


def contact_email_rows(contact: dict) -> list[dict]:
    rows = [
        {
            "contact_id": contact["id"],
            "position": position,
            "email": (str(value.get("value") or "").strip() or None),
            "enum_code": _enum_code(value),
            TOMBSTONE: False,
        }
        for position, value in enumerate(_multitext_values(contact, "EMAIL"))
    ]
    return rows or [{"contact_id": contact["id"], "position": -1, TOMBSTONE: True}]


def lead_contact_rows(lead: dict) -> list[dict]:
    """The lead's current contact set from `with=contacts` (replaces the lead's old links wholesale)."""
    linked = ((lead.get("_embedded") or {}).get("contacts")) or []
    rows = [
        {
            "lead_id": lead["id"],
            "contact_id": c["id"],
            "is_main": bool(c.get("is_main", (c.get("metadata") or {}).get("main_contact", False))),
            TOMBSTONE: False,
        }
        for c in linked
    ]
    return rows or [{"lead_id": lead["id"], "contact_id": -1, TOMBSTONE: True}]


def status_type(status: dict) -> str:
    """`won`/`lost` for the system statuses 142/143 (same ids in every pipeline), else `open`."""
    if status.get("id") == WON_STATUS_ID:
        return "won"
    if status.get("id") == LOST_STATUS_ID:
        return "lost"
    return "open"


def pipeline_row(pipeline: dict) -> dict:
    return {
        "id": pipeline["id"],
        "name": pipeline.get("name"),
        "sort": pipeline.get("sort"),
        "is_main": bool(pipeline.get("is_main", False)),
    }


def status_rows(pipeline: dict) -> list[dict]:
    return [
        {
            "pipeline_id": status.get("pipeline_id") or pipeline["id"],
            "id": status["id"],
            "name": status.get("name"),
            "sort": status.get("sort"),
            "type": status_type(status),
        }
        for status in ((pipeline.get("_embedded") or {}).get("statuses") or [])
    ]


def user_row(user: dict) -> dict:
    return {"id": user["id"], "name": user.get("name"), "email": user.get("email")}
