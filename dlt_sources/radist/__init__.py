"""dlt source for Radist.Online: one row per chat and the messages of the chats that moved.

Radist has no server-side filter by phone or by time for chats, so every run pages through
`with_contacts` (cheap: 100 contacts a page) and decides locally:
- which chats belong to the tenant (mode `amocrm_radist`: the chat's E.164 phone is one of the
  tenant's amoCRM contact phones; mode `radist_only`: all chats);
- which chats changed (a fingerprint of the chat row is kept in state, unchanged chats are not
  re-emitted);
- which chats need their messages re-read: those whose last message is newer than what the last
  load saw. Their messages are paged backwards only down to that point minus `overlap`, so late
  status changes in the overlap are merged again on `message_id`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, Literal

import dlt

from dlt_sources.radist import rows
from synkro.clients.radist import RadistClient, parse_radist_time

log = logging.getLogger(__name__)

Mode = Literal["amocrm_radist", "radist_only"]
MODES = ("amocrm_radist", "radist_only")


@dlt.source(name="radist", max_table_nesting=0)
def radist_source(
    client: RadistClient,
    region: str = "RU",
    mode: Mode = "amocrm_radist",
    known_phones: set[str] | None = None,
    full: bool = False,
    overlap: timedelta = timedelta(hours=3),
) -> Any:
    """Radist chats and messages of one company (`client.company_id`)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if mode == "amocrm_radist" and known_phones is None:
        raise ValueError("mode 'amocrm_radist' needs known_phones (the tenant's amoCRM contact phones)")
    phones = set(known_phones or ())

    @dlt.resource(name="radist_chats_api", selected=False)
    def chats_api() -> Iterator[list[dict]]:
        channels: dict[int, str] = {}
        try:
            for source in client.sources():
                if source.get("connection_id") is not None:
                    channels[int(source["connection_id"])] = str(source.get("type") or "")
        except Exception as exc:  # the channel label is a nicety; chats still load without it
            log.warning("Radist chat sources unavailable (%s); channel left empty", type(exc).__name__)
        batch: list[dict] = []
        skipped = 0
        for contact in client.contacts_with_chats():
            for chat in contact.get("chats") or []:
                row = rows.chat_row(contact, chat, region, channels)
                if mode == "amocrm_radist" and row["phone_e164"] not in phones:
                    skipped += 1
                    continue
                batch.append(row)
                if len(batch) >= 100:
                    yield batch
                    batch = []
        if batch:
            yield batch
        if skipped:
            log.info("Radist: %d chats skipped (phone not among the tenant's amoCRM contacts)", skipped)

    @dlt.transformer(
        name="radist_chats",
        data_from=chats_api,
        primary_key="chat_id",
        write_disposition="merge",
        columns=rows.CHAT_COLUMNS,
    )
    def radist_chats(batch: list[dict]) -> Iterator[list[dict]]:
        state = dlt.current.resource_state().setdefault("fingerprints", {})
        changed = []
        for row in batch:
            key, mark = str(row["chat_id"]), rows.fingerprint(row)
            if full or state.get(key) != mark:
                changed.append(row)
                state[key] = mark
        if changed:
            yield changed

    @dlt.transformer(
        name="radist_messages",
        data_from=chats_api,
        primary_key="message_id",
        write_disposition="merge",
        columns=rows.MESSAGE_COLUMNS,
    )
    def radist_messages(batch: list[dict]) -> Iterator[list[dict]]:
        state = dlt.current.resource_state().setdefault("last_message_at", {})
        for chat in batch:
            key = str(chat["chat_id"])
            loaded = parse_radist_time(state.get(key)) if not full else None
            latest: datetime | None = chat["last_message_at"]
            if loaded is not None and (latest is None or latest <= loaded):
                continue
            since = loaded - overlap if loaded is not None else None
            out: list[dict] = []
            newest = loaded
            for message in client.messages(chat["chat_id"], since=since):
                row = rows.message_row(message, chat["chat_id"])
                out.append(row)
                if row["sent_at"] is not None and (newest is None or row["sent_at"] > newest):
                    newest = row["sent_at"]
                if len(out) >= 500:
                    yield out
                    out = []
            if out:
                yield out
            mark = max(filter(None, (newest, latest)), default=None)
            if mark is not None:
                state[key] = mark.isoformat()

    return chats_api, radist_chats, radist_messages
