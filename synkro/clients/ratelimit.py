"""A thread-safe sliding-window request limiter, shared per tenant and API inside one process.

amoCRM allows 7 requests per second per integration and blocks the whole account (403 on every
call) after repeated excess, so the limit must hold across *all* resources of a tenant, including
dlt's parallel extraction threads. A sliding-window log (not a token bucket) is used because a
bucket allows a full burst plus refill inside one second, i.e. up to 2x the limit in the window the
server measures. `margin` stretches the window slightly so network jitter cannot push two
requests that left us 1.0 s apart into the same server-side second.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class RateLimiter:
    """At most `rate` acquisitions in any `period * margin` seconds; `rate=None` means unlimited."""

    def __init__(self, rate: float | None = 7, period: float = 1.0, margin: float = 1.05) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive or None")
        self.rate = rate
        self.window = period * margin
        self._slots = max(1, int(rate)) if rate is not None else 0
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self.acquired = 0
        self.waited_seconds = 0.0

    def acquire(self) -> None:
        """Block until one more request fits in the window, then record it."""
        if self.rate is None:
            with self._lock:
                self.acquired += 1
            return
        while True:
            with self._lock:
                now = time.monotonic()
                while self._sent and now - self._sent[0] >= self.window:
                    self._sent.popleft()
                if len(self._sent) < self._slots:
                    self._sent.append(now)
                    self.acquired += 1
                    return
                wait = self.window - (now - self._sent[0])
                self.waited_seconds += wait
            time.sleep(wait)

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
