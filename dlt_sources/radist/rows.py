"""Radist API objects → rows of `radist_chats` and `radist_messages` (docs/architecture.md).

Message text lives in one of three places (docs/apis/radist.md §5): `text.text`, then the WABA
interactive body, then a media object's caption. Media objects also give the attachment list.
Field names the reference marks unconfirmed (status, attachment URL, mime) are read defensively.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from synkro.clients.radist import parse_radist_time
from synkro.phones import normalize_phone

MEDIA_KEYS = ("file", "image", "audio", "video", "voice", "document", "sticker")

CHAT_COLUMNS: dict[str, dict[str, Any]] = {
    "chat_id": {"data_type": "bigint", "nullable": False},
    "contact_id": {"data_type": "bigint"},
    "contact_name": {"data_type": "text"},
    "connection_id": {"data_type": "bigint"},
    "channel": {"data_type": "text"},
    "phone_raw": {"data_type": "text"},
    "phone_e164": {"data_type": "text"},
    "phone_valid": {"data_type": "bool"},
    "created_at": {"data_type": "timestamp"},
    "last_message_at": {"data_type": "timestamp"},
}
MESSAGE_COLUMNS: dict[str, dict[str, Any]] = {
    "message_id": {"data_type": "text", "nullable": False},
    "chat_id": {"data_type": "bigint"},
    "sent_at": {"data_type": "timestamp"},
    "direction": {"data_type": "text"},
    "message_type": {"data_type": "text"},
    "text": {"data_type": "text"},
    "attachments": {"data_type": "json"},
    "status": {"data_type": "text"},
}


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def chat_row(contact: dict, chat: dict, region: str, channels: dict[int, str]) -> dict:
    """One row per chat, carrying its contact's id and name along."""
    raw_phone = chat.get("phone") or chat.get("source_chat_id") or ""
    phone = normalize_phone(raw_phone, region)
    connection_id = _int_or_none(chat.get("connection_id"))
    last = (chat.get("last_message") or {}).get("created_at") or chat.get("last_message_at")
    channel = chat.get("channel") or chat.get("type") or channels.get(connection_id or -1)
    return {
        "chat_id": int(chat["chat_id"]),
        "contact_id": _int_or_none(contact.get("contact_id")),
        "contact_name": contact.get("contact_name"),
        "connection_id": connection_id,
        "channel": channel,
        "phone_raw": str(raw_phone) or None,
        "phone_e164": phone.e164,
        "phone_valid": phone.valid,
        "created_at": parse_radist_time(chat.get("created_at")),
        "last_message_at": parse_radist_time(last) or parse_radist_time(contact.get("last_chat_updated_at")),
    }


def fingerprint(row: dict) -> str:
    """Stable hash of a chat row, to skip re-loading chats that did not change."""
    return hashlib.sha1(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()[:16]


def message_text(message: dict) -> str | None:
    text = message.get("text")
    if isinstance(text, dict) and text.get("text"):
        return str(text["text"])
    if isinstance(text, str) and text:
        return text
    interactive = message.get("waba_interactive") or message.get("interactive") or {}
    body = interactive.get("body") if isinstance(interactive, dict) else None
    if isinstance(body, dict) and body.get("text"):
        return str(body["text"])
    for key in MEDIA_KEYS:
        media = message.get(key)
        if isinstance(media, dict) and media.get("caption"):
            return str(media["caption"])
    return None


def attachments(message: dict) -> list[dict]:
    found = []
    for key in MEDIA_KEYS:
        media = message.get(key)
        if isinstance(media, dict):
            found.append(
                {
                    "name": media.get("name") or media.get("file_name"),
                    "mime": media.get("mime") or media.get("mime_type") or media.get("mimetype"),
                    "url": media.get("url") or media.get("link") or media.get("file_url"),
                }
            )
    return found


def message_row(message: dict, chat_id: int) -> dict:
    status = message.get("status")
    if isinstance(status, dict):
        status = status.get("status") or status.get("name")
    return {
        "message_id": str(message["message_id"]),
        "chat_id": int(message.get("chat_id") or chat_id),
        "sent_at": parse_radist_time(message.get("created_at")),
        "direction": message.get("direction"),
        "message_type": message.get("message_type"),
        "text": message_text(message),
        "attachments": attachments(message),
        "status": None if status is None else str(status),
    }
