"""Run a page iterator one step ahead in a background thread.

A dlt extraction is sequential: while dlt maps and writes one page, no request is in flight, so a
rate-limited API (amoCRM, 7 req/s) is used well below its budget. Fetching the next pages while
the current one is processed makes the limiter, not our own processing, the bottleneck. The
queue is bounded, so memory stays at `depth` pages however large the account is.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def prefetch(source: Iterator[T], depth: int = 3) -> Iterator[T]:
    """Yield the items of `source`, produced in a daemon thread up to `depth` items ahead.

    Exceptions raised by `source` are re-raised in the consumer. If the consumer stops early,
    the producer is told to stop at its next item.
    """
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in source:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_DONE)
        except BaseException as exc:
            buffer.put(_Failure(exc))

    worker = threading.Thread(target=produce, name="synkro-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join(timeout=5)
