"""The background page fetcher keeps order, bounds memory and surfaces the producer's errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from synkro.clients.prefetch import prefetch


def test_order_and_bounded_lookahead() -> None:
    produced: list[int] = []

    def pages() -> Iterator[int]:
        for i in range(10):
            produced.append(i)
            yield i

    consumed = []
    for item in prefetch(pages(), depth=2):
        time.sleep(0.02)
        # Never more than depth queued + one being handed over + one blocked in put.
        assert len(produced) - len(consumed) <= 4
        consumed.append(item)
    assert consumed == list(range(10))


def test_producer_error_reaches_consumer_after_earlier_items() -> None:
    def pages() -> Iterator[int]:
        yield 1
        raise RuntimeError("page 2 failed")

    got = []
    with pytest.raises(RuntimeError, match="page 2 failed"):
        for item in prefetch(pages()):
            got.append(item)
    assert got == [1]


def test_consumer_stopping_early_stops_the_producer() -> None:
    def endless() -> Iterator[int]:
        i = 0
        while True:
            i += 1
            yield i

    stream = prefetch(endless(), depth=2)
    assert next(stream) == 1
    stream.close()
    time.sleep(0.3)
    assert not any(t.name == "synkro-prefetch" and t.is_alive() for t in threading.enumerate())
