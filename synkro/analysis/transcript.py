"""Compact, PII-masked transcripts of one dialog, and their hash.

Why: the model reads a transcript, not raw rows. One line per message with the local time of the
tenant (`[29.11 10:14] клиент: …`) keeps the token count low and lets the model cite lines as
evidence. A few messages before the window are given as marked context so a reply is not judged
without its question. The hash of the final text decides whether a dialog must be re-scored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from synkro.analysis.pii import mask_pii

MAX_MESSAGE_CHARS = 1500
MAX_TRANSCRIPT_CHARS = 40_000

_LABELS = {
    "ru": {
        "inbound": "клиент",
        "outbound": "менеджер",
        "file": "файл",
        "context": "--- контекст: более ранние сообщения ---",
        "window": "--- сообщения за период ---",
        "cut": "[… обрезано]",
        "omitted": "[… пропущено сообщений: {n}]",
    },
    "en": {
        "inbound": "customer",
        "outbound": "manager",
        "file": "file",
        "context": "--- context: earlier messages ---",
        "window": "--- messages in the period ---",
        "cut": "[… cut]",
        "omitted": "[… messages omitted: {n}]",
    },
}


@dataclass(frozen=True)
class Message:
    """One message as read from fct_dialog_messages."""

    sent_at: datetime
    direction: str  # inbound | outbound
    text: str | None
    attachments: Any = None


@dataclass(frozen=True)
class Transcript:
    text: str
    hash: str
    messages_in_window: int
    context_messages: int


def _attachment_names(attachments: Any) -> list[str]:
    """Names of attachments from the marts' JSON list of {name, mime, url} (text or parsed)."""
    if attachments in (None, "", "null"):
        return []
    if isinstance(attachments, (str, bytes)):
        try:
            attachments = json.loads(attachments)
        except ValueError:
            return []
    if isinstance(attachments, dict):
        attachments = [attachments]
    names = []
    for item in attachments or []:
        if isinstance(item, dict):
            names.append(str(item.get("name") or item.get("mime") or "без имени"))
        elif item:
            names.append(str(item))
    return names


def _line(msg: Message, tz: ZoneInfo, labels: dict[str, str], mask: bool) -> str:
    stamp = msg.sent_at.astimezone(tz).strftime("%d.%m %H:%M")
    who = labels.get(msg.direction, msg.direction)
    text = " ".join((msg.text or "").split())
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + " " + labels["cut"]
    parts = [text] if text else []
    parts += [f"[{labels['file']}: {name}]" for name in _attachment_names(msg.attachments)]
    body = " ".join(parts)
    if mask:
        body = mask_pii(body)
    return f"[{stamp}] {who}: {body}"


def build_transcript(
    messages: Iterable[Message],
    window_start: datetime,
    timezone: str,
    *,
    language: str = "ru",
    context_messages: int = 5,
    mask: bool = True,
) -> Transcript:
    """Render the messages (sorted here) of one dialog; those before ``window_start`` become context.

    ``mask`` is on by default: turning it off is a tenant decision, never a convenience.
    """
    tz = ZoneInfo(timezone)
    labels = _LABELS.get(language, _LABELS["ru"])
    ordered = sorted(messages, key=lambda m: m.sent_at)
    earlier = [m for m in ordered if m.sent_at < window_start]
    inside = [m for m in ordered if m.sent_at >= window_start]
    context = earlier[-context_messages:] if context_messages > 0 else []
    lines: list[str] = []
    if context:
        lines.append(labels["context"])
        lines += [_line(m, tz, labels, mask) for m in context]
        lines.append(labels["window"])
    window_lines = [_line(m, tz, labels, mask) for m in inside]
    lines += _fit(window_lines, labels, MAX_TRANSCRIPT_CHARS - sum(len(x) + 1 for x in lines))
    text = "\n".join(lines)
    return Transcript(
        text=text,
        hash=transcript_hash(text),
        messages_in_window=len(inside),
        context_messages=len(context),
    )


def _fit(lines: Sequence[str], labels: dict[str, str], budget: int) -> list[str]:
    """Keep the start and the end of a very long dialog, dropping the middle, within ``budget`` chars."""
    if sum(len(x) + 1 for x in lines) <= budget:
        return list(lines)
    head: list[str] = []
    tail: list[str] = []
    used = 100
    i, j = 0, len(lines) - 1
    while i <= j:
        take_head = len(head) <= len(tail)
        line = lines[i] if take_head else lines[j]
        if used + len(line) + 1 > budget:
            break
        used += len(line) + 1
        if take_head:
            head.append(line)
            i += 1
        else:
            tail.append(line)
            j -= 1
    omitted = len(lines) - len(head) - len(tail)
    return [*head, labels["omitted"].format(n=omitted), *reversed(tail)]


def transcript_hash(text: str) -> str:
    """Stable content hash of the exact text the model sees."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
