"""The request limiter must hold its limit in every 1-second window, across threads."""

from __future__ import annotations

import threading
import time

from sandbox.state import max_in_window
from synkro.clients.ratelimit import RateLimiter, shared_limiter


def test_limit_holds_in_every_window_across_threads() -> None:
    limiter = RateLimiter(rate=20)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(15):
            with limiter.slot(), lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert len(stamps) == 60
    assert max_in_window(sorted(stamps), 1.0) <= 20
    # 60 requests at 20/s need at least two full windows after the first burst, not much more.
    assert 2.0 <= elapsed < 3.6


def test_unlimited_never_waits() -> None:
    limiter = RateLimiter(rate=None)
    started = time.monotonic()
    for _ in range(1000):
        with limiter.slot():
            pass
    assert time.monotonic() - started < 0.5
    assert limiter.acquired == 1000


def test_slow_request_holds_its_slot_until_it_completes() -> None:
    """A request counts from when it finished, so a late-arriving one cannot share a window."""
    limiter = RateLimiter(rate=2)
    first = limiter.acquire()
    with limiter.slot():
        pass
    time.sleep(1.2)  # the second slot has expired, the first is still in flight
    started = time.monotonic()
    with limiter.slot():
        pass
    assert time.monotonic() - started < 0.1
    done = threading.Event()

    def third() -> None:
        with limiter.slot():
            done.set()

    worker = threading.Thread(target=third)
    worker.start()
    time.sleep(0.3)
    assert not done.is_set()  # both slots busy: one in flight, one finished just now
    limiter.release(first)
    worker.join(timeout=3)
    assert done.is_set()


def test_shared_limiter_is_one_per_key() -> None:
    assert shared_limiter("amocrm:acme") is shared_limiter("amocrm:acme")
    assert shared_limiter("amocrm:acme") is not shared_limiter("amocrm:globex")
    assert shared_limiter("amocrm:acme", rate=5).rate == 5
