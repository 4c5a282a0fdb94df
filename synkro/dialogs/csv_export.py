"""The filtered dialog list as CSV: the same rows, filters, scope and order as the list page.

Why guarded: the file is opened in Excel or Google Sheets, and a customer's text that starts with
`=`, `+`, `-`, `@` (or a tab / carriage return) would run there as a formula (CSV injection). Every
text cell that starts so gets a leading apostrophe, which spreadsheets show as plain text.
Written with a UTF-8 BOM so Excel reads Cyrillic correctly; streamed in chunks, never held whole.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from zoneinfo import ZoneInfo

from synkro.dialogs.listing import DialogRow
from synkro.links import dialog_url

HEADER = [
    "dialog_id",
    "url",
    "manager",
    "amocrm_user_id",
    "lead_id",
    "last_message_at",
    "left_waiting",
    "first_response_seconds",
    "risk_flags",
    "ai_score",
    "human_score",
    "disputed_criteria",
    "summary",
]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK_ROWS = 500


def safe_cell(value: object) -> object:
    """A cell that a spreadsheet will never evaluate as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _cells(row: DialogRow, zone: ZoneInfo | None, portal_url: str | None, slug: str) -> list[object]:
    last = row.last_message_at.astimezone(zone).isoformat(timespec="minutes") if row.last_message_at else ""
    return [
        row.dialog_id,
        dialog_url(portal_url, slug, row.dialog_id) or "",
        row.manager_name or "",
        row.responsible_user_id if row.responsible_user_id is not None else "",
        row.lead_id if row.lead_id is not None else "",
        last,
        "yes" if row.awaiting_reply else "no",
        round(row.first_response_seconds) if row.first_response_seconds is not None else "",
        " ".join(row.risk_flags),
        row.ai_score if row.ai_score is not None else "",
        f"{row.human_score:g}" if row.human_score is not None else "",
        row.disputed_criteria,
        row.summary,
    ]


def csv_chunks(
    rows: Iterable[DialogRow], *, slug: str = "", timezone: str | None = None, portal_url: str | None = None
) -> Iterator[str]:
    """The CSV text in chunks of CHUNK_ROWS rows (the first one starts with the BOM and header)."""
    zone = ZoneInfo(timezone) if timezone else None
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(HEADER)
    for count, row in enumerate(rows, start=1):
        writer.writerow([safe_cell(c) for c in _cells(row, zone, portal_url, slug)])
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_csv(rows: Iterable[DialogRow], write: Callable[[str], object], **options: object) -> None:
    for chunk in csv_chunks(rows, **options):  # type: ignore[arg-type]
        write(chunk)
