"""A thread-safe sliding-window request limiter, shared per tenant and API inside one process.

amoCRM allows 7 requests per second per integration and blocks the whole account (403 on every
call) after repeated excess, so the limit must hold across *all* resources of a tenant, including
dlt's parallel extraction threads. A sliding-window log (not a token bucket) is used because a
bucket allows a full burst plus refill inside one second, i.e. up to 2x the limit in the window the
server measures.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class RateLimiter:
    """At most `rate` requests in any `period * margin` seconds; `rate=None` means unlimited.

    A request holds its slot from `acquire()` until `release()`, and the slot's time is the
    moment the response came back, not the moment it was sent. The server sees a request
    somewhere between the two, so counting from completion guarantees that request k+rate
    arrives at least one window after request k even when threads, the GIL or the network
    delay some requests and not others (counting from send time let 8 requests land in one
    second under load).
    """

    def __init__(self, rate: float | None = 7, period: float = 1.0, margin: float = 1.01) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive or None")
        self.rate = rate
        self.window = period * margin
        self._slots = max(1, int(rate)) if rate is not None else 0
        self._held: dict[int, float] = {}  # slot id -> completion time (inf while in flight)
        self._next_id = 0
        self._lock = threading.Lock()
        self.acquired = 0
        self.waited_seconds = 0.0

    def acquire(self) -> int:
        """Block until a slot is free, take it and return its id (pass it to `release`)."""
        while True:
            with self._lock:
                self._next_id += 1
                slot = self._next_id
                if self.rate is None:
                    self.acquired += 1
                    return slot
                now = time.monotonic()
                for key in [k for k, done in self._held.items() if done <= now - self.window]:
                    del self._held[key]
                if len(self._held) < self._slots:
                    self._held[slot] = float("inf")
                    self.acquired += 1
                    return slot
                oldest = min(self._held.values())
                wait = oldest + self.window - now if oldest != float("inf") else 0.01
                self.waited_seconds += wait
            time.sleep(max(wait, 0.001))

    def release(self, slot: int) -> None:
        """The request of `slot` finished (answered or failed): its window starts now."""
        with self._lock:
            if slot in self._held:
                self._held[slot] = time.monotonic()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """`with limiter.slot(): send one request`."""
        held = self.acquire()
        try:
            yield
        finally:
            self.release(held)

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate}, window={self.window:.3f}s)"


_registry: dict[str, RateLimiter] = {}
_registry_lock = threading.Lock()


def shared_limiter(key: str, rate: float | None = 7) -> RateLimiter:
    """Return the process-wide limiter for `key` (e.g. `amocrm:<slug>`), creating it on first use.

    Every client built for the same tenant and API must pass the same key so they share one window.
    A later call with a different `rate` replaces the limiter (the tenant's setting changed).
    """
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None or limiter.rate != rate:
            limiter = RateLimiter(rate)
            _registry[key] = limiter
        return limiter
