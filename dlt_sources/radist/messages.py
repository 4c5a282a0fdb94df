"""Read the messages of many chats with a few worker threads, streaming rows back in small pages.

Radist has no endpoint for "messages of many chats": it is one paged request series per chat, so
a sequential load spends its time waiting on round trips (73 s for ~11k rows on `medium`). A few
workers (bounded by the client's in-flight cap; all of them share its 429 pause) read different
chats at once. Nothing accumulates: each worker hands over pages of at most `page_rows` rows
through a queue of `2 x workers` slots, so memory is a handful of pages however large a chat
or an account is, and a slow consumer (dlt writing) simply blocks the workers.

The caller (the dlt transformer) owns the pipeline state and is told when a chat is complete, so
a chat's incremental mark is advanced only after all its rows went to dlt.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from dlt_sources.radist import rows
from synkro.clients.radist import RadistClient


@dataclass(frozen=True)
class ChatRead:
    """One chat whose messages must be read back to `since` (None: all of them)."""

    chat_id: int
    since: datetime | None
    loaded: datetime | None


@dataclass
class ChatRows:
    """Message rows of one chat, in API order (newest first)."""

    chat_id: int
    rows: list[dict]


@dataclass
class ChatDone:
    """Every message of `chat_id` was handed over; `newest` is the latest `sent_at` seen (or the old mark)."""

    chat_id: int
    newest: datetime | None


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_EXIT = object()


def read_messages(
    client: RadistClient, chats: Iterable[ChatRead], workers: int, page_rows: int = 100
) -> Iterator[ChatRows | ChatDone]:
    """Yield `ChatRows` pages and one `ChatDone` per chat, chats interleaved as workers finish.

    Rows of one chat arrive in order and before its `ChatDone`. The first worker error stops the
    others at their next page and is re-raised here; stopping early (closing the generator)
    stops them too.
    """
    todo: queue.SimpleQueue[ChatRead] = queue.SimpleQueue()
    count = 0
    for chat in chats:
        todo.put(chat)
        count += 1
    if count == 0:
        return
    workers = max(1, min(workers, count))
    out: queue.Queue[object] = queue.Queue(maxsize=2 * workers)
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            while not stop.is_set():
                try:
                    chat = todo.get_nowait()
                except queue.Empty:
                    return
                page: list[dict] = []
                newest = chat.loaded
                for message in client.messages(chat.chat_id, since=chat.since):
                    row = rows.message_row(message, chat.chat_id)
                    page.append(row)
                    if row["sent_at"] is not None and (newest is None or row["sent_at"] > newest):
                        newest = row["sent_at"]
                    if len(page) >= page_rows:
                        if not hand_over(ChatRows(chat.chat_id, page)):
                            return
                        page = []
                if page and not hand_over(ChatRows(chat.chat_id, page)):
                    return
                if not hand_over(ChatDone(chat.chat_id, newest)):
                    return
        except BaseException as exc:
            stop.set()
            out.put(_Failed(exc))  # the consumer drains until every worker exited
        finally:
            out.put(_EXIT)

    threads = [
        threading.Thread(target=work, name=f"synkro-radist-messages-{i}", daemon=True) for i in range(workers)
    ]
    for thread in threads:
        thread.start()
    running = workers
    failure: BaseException | None = None
    try:
        while running:
            item = out.get()
            if item is _EXIT:
                running -= 1
            elif isinstance(item, _Failed):
                failure = failure or item.exc
            elif failure is None:
                yield item  # type: ignore[misc]
        if failure is not None:
            raise failure
    finally:
        stop.set()
        while running:  # unblock workers waiting to hand over, then let them exit
            if out.get() is _EXIT:
                running -= 1
        for thread in threads:
            thread.join(timeout=5)
