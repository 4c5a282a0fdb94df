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

Messages of a batch of chats are read by a few worker threads (`messages.read_messages`), rows
streamed to dlt in bounded batches; since rows merge on `message_id` and each chat's mark is
the max of what was seen, the order chats finish in does not matter.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, Literal

import dlt

from dlt_sources.radist import rows
from dlt_sources.radist.messages import ChatDone, ChatRead, read_messages
from synkro.clients.prefetch import prefetch
from synkro.clients.radist import PAGE_LIMIT, RadistClient, parse_radist_time

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
    workers: int | None = None,
    batch_rows: int = 500,
) -> Any:
    """Radist chats and messages of one company (`client.company_id`).

    `workers` chats' messages are read at once (default: the client's in-flight cap, which also
    bounds it); rows reach dlt in batches of at most `batch_rows`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if mode == "amocrm_radist" and known_phones is None:
        raise ValueError("mode 'amocrm_radist' needs known_phones (the tenant's amoCRM contact phones)")
    phones = set(known_phones or ())
    workers = max(1, min(workers or client.throttle.max_in_flight, client.throttle.max_in_flight))

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
        # The next contact pages are read while dlt and the message workers handle this one.
        for contact in prefetch(client.contacts_with_chats(), depth=2 * PAGE_LIMIT):
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
        latest: dict[int, datetime | None] = {}
        reads: list[ChatRead] = []
        for chat in batch:
            key = str(chat["chat_id"])
            loaded = parse_radist_time(state.get(key)) if not full else None
            last: datetime | None = chat["last_message_at"]
            if loaded is not None and (last is None or last <= loaded):
                continue
            latest[chat["chat_id"]] = last
            reads.append(ChatRead(chat["chat_id"], loaded - overlap if loaded is not None else None, loaded))
        # Rows by message_id: a message seen twice in one batch (paging overlap) is written once.
        out: dict[str, dict] = {}
        for item in read_messages(client, reads, workers):
            if isinstance(item, ChatDone):
                # Every row of the chat is in `out` or already yielded: its mark may advance.
                mark = max(filter(None, (item.newest, latest[item.chat_id])), default=None)
                if mark is not None:
                    state[str(item.chat_id)] = mark.isoformat()
                continue
            for row in item.rows:
                out[row["message_id"]] = row
            if len(out) >= batch_rows:
                yield list(out.values())
                out = {}
        if out:
            yield list(out.values())

    return chats_api, radist_chats, radist_messages
