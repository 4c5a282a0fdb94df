"""Matching quality for `synkro check SLUG amocrm --sample N`: measured on the live APIs, not assumed.

A dialog reaches the report only if its chat's phone is one of the numbers of an amoCRM contact
(every number of every phone value counts, `synkro.phones`). Three things break that, and each is
fixed in the CRM by the owner, so the check counts them and shows a few masked examples:
- phone values that yield no valid number (a typo, a truncated number, a note without digits);
- Radist chats whose phone no contact carries (or that have no phone at all, e.g. Telegram);
- chats whose phone several contacts carry (ambiguous: the dialog goes to the preferred contact by
  the rules of `int_radist__dialog_matches`, which may not be the right one).
The same rules in SQL are the warn-level dbt tests in `dbt_project/tests/matching_quality/`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from synkro.phones import mask_phone

EXAMPLES = 5


@dataclass
class ContactPhones:
    """Every amoCRM contact read, as an index number → contact ids, plus the values without number."""

    by_number: dict[str, set[int]] = field(default_factory=dict)
    without_number: list[tuple[int, str]] = field(default_factory=list)  # (contact id, raw value)
    contacts_read: int = 0
    capped: bool = False

    def add(self, contact_id: int, phone_rows: Iterable[dict]) -> None:
        self.contacts_read += 1
        for row in phone_rows:
            numbers = (row.get("phone_numbers") or "").split()
            if not numbers:
                self.without_number.append((contact_id, row.get("phone_raw") or ""))
            for number in numbers:
                self.by_number.setdefault(number, set()).add(contact_id)


@dataclass
class ChatMatches:
    """Radist chats read, sorted by what the phone matching makes of them."""

    chats_read: int = 0
    without_phone: list[int] = field(default_factory=list)
    unmatched: list[tuple[int, str]] = field(default_factory=list)  # (chat id, e164)
    ambiguous: list[tuple[int, str, list[int]]] = field(default_factory=list)  # + contact ids
    matched: int = 0


def match_chats(phones: ContactPhones, chat_rows: Iterable[dict]) -> ChatMatches:
    result = ChatMatches()
    for row in chat_rows:
        result.chats_read += 1
        e164 = row.get("phone_e164")
        if not e164:
            result.without_phone.append(row["chat_id"])
            continue
        contacts = sorted(phones.by_number.get(e164, ()))
        if not contacts:
            result.unmatched.append((row["chat_id"], e164))
        elif len(contacts) > 1:
            result.ambiguous.append((row["chat_id"], e164, contacts))
        else:
            result.matched += 1
    return result


def quality_report(phones: ContactPhones, chats: ChatMatches | None, note: str) -> tuple[str, str, dict]:
    """(one-line summary, printable block with examples, the same as data); phones masked."""
    bad_contacts = sorted({cid for cid, _ in phones.without_number})
    read = f"{phones.contacts_read} contacts" + (" (first pages only)" if phones.capped else "")
    parts = [f"{len(bad_contacts)} of {read} have a phone value with no valid number"]
    lines = [f"Matching quality ({read}" + (f", {chats.chats_read} Radist chats)" if chats else ")")]
    if note:
        lines.append(f"({note})")
    lines.append(
        f"phone values with no valid number: {len(phones.without_number)} in {len(bad_contacts)} contacts"
    )
    lines += [f"  contact {cid}: {mask_phone(raw)!r}" for cid, raw in phones.without_number[:EXAMPLES]]
    data: dict[str, Any] = {
        "contacts_read": phones.contacts_read,
        "contacts_capped": phones.capped,
        "values_without_number": len(phones.without_number),
        "contacts_with_invalid_values": len(bad_contacts),
        "examples_without_number": [
            {"contact_id": cid, "phone": mask_phone(raw)} for cid, raw in phones.without_number[:EXAMPLES]
        ],
    }
    if chats is not None:
        parts.append(
            f"{len(chats.unmatched) + len(chats.without_phone)} of {chats.chats_read} chats match no contact"
        )
        parts.append(f"{len(chats.ambiguous)} match several")
        lines.append(
            f"chats matching no contact: {len(chats.unmatched)} whose number no contact carries, "
            f"{len(chats.without_phone)} without a phone"
        )
        lines += [f"  chat {chat_id}: {mask_phone(e164)}" for chat_id, e164 in chats.unmatched[:EXAMPLES]]
        lines.append(f"chats matching several contacts (ambiguous): {len(chats.ambiguous)}")
        lines += [
            f"  chat {chat_id}: {mask_phone(e164)} → contacts {', '.join(map(str, ids))}"
            for chat_id, e164, ids in chats.ambiguous[:EXAMPLES]
        ]
        lines.append(f"chats matching exactly one contact: {chats.matched}")
        data.update(
            chats_read=chats.chats_read,
            chats_matched=chats.matched,
            chats_without_phone=len(chats.without_phone),
            chats_unmatched=len(chats.unmatched),
            chats_ambiguous=len(chats.ambiguous),
            examples_unmatched=[
                {"chat_id": chat_id, "phone": mask_phone(e164)}
                for chat_id, e164 in chats.unmatched[:EXAMPLES]
            ],
            examples_ambiguous=[
                {"chat_id": chat_id, "phone": mask_phone(e164), "contact_ids": ids}
                for chat_id, e164, ids in chats.ambiguous[:EXAMPLES]
            ],
        )
    return "; ".join(parts), "\n".join(lines), data
