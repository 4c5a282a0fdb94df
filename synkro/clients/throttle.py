"""Client-side concurrency control for an API whose limits are unknown (Radist).

Radist publishes no rate limit but answers 429 (docs/apis/radist.md §8). Several worker threads
read chats' messages at once, so the brake has to be shared by all of them:

- at most `max_in_flight` requests are outstanding, and request starts are at least
  `min_interval` apart (a gentle pace, whatever the number of threads);
- a 429 pauses *every* thread until one shared resume time (exponential in the number of 429s
  in a row, or the server's `Retry-After` if longer), instead of each thread backing off on
  its own and the others carrying on at full speed;
- a 429 also halves how many requests may be in flight; a run of successes gives the slots
  back one at a time (additive increase), so a load settles below the server's real limit.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable


class SharedThrottle:
    """One per API client; `acquire()` before a request, `release(...)` after its response."""

    def __init__(
        self,
        max_in_flight: int = 2,
        min_interval: float = 0.0,
        *,
        backoff_base: float = 2.0,
        backoff_cap: float = 15.0,
        recover_after: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.max_in_flight = max_in_flight
        self.min_interval = min_interval
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.recover_after = recover_after
        self._clock = clock
        self._cond = threading.Condition()
        self._limit = max_in_flight
        self._in_flight = 0
        self._next_start = 0.0
        self._resume_at = 0.0
        self._strikes = 0
        self._streak = 0
        self.peak_in_flight = 0
        self.throttled = 0
        self.paused_seconds = 0.0

    @property
    def limit(self) -> int:
        """How many requests may be in flight right now (lowered after 429s)."""
        return self._limit

    def acquire(self) -> None:
        """Block until this thread may send: a free slot, the pacing gap, and no shared pause."""
        with self._cond:
            while True:
                now = self._clock()
                wait = max(self._resume_at, self._next_start) - now
                if self._in_flight < self._limit and wait <= 0:
                    self._in_flight += 1
                    self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
                    self._next_start = now + self.min_interval
                    return
                if self._in_flight < self._limit:
                    self._cond.wait(timeout=wait)
                else:
                    self._cond.wait(timeout=max(wait, 0.5))

    def release(self, *, ok: bool = True, throttled: bool = False, retry_after: float | None = None) -> float:
        """The request finished (`ok`: answered without a retryable error). On a 429 (`throttled`)
        pause everyone and return the pause in seconds; the caller waits it out in `acquire`."""
        with self._cond:
            self._in_flight -= 1
            pause = 0.0
            if throttled:
                self.throttled += 1
                pause = min(self.backoff_cap, self.backoff_base * 2**self._strikes)
                pause *= 0.5 + random.random() / 2
                if retry_after is not None:
                    pause = max(pause, min(retry_after, 60.0))
                self._strikes += 1
                self._streak = 0
                self._limit = max(1, self._limit // 2)
                resume = self._clock() + pause
                if resume > self._resume_at:
                    self.paused_seconds += resume - max(self._resume_at, self._clock())
                    self._resume_at = resume
            elif ok:
                self._strikes = 0
                self._streak += 1
                if self._limit < self.max_in_flight and self._streak >= self.recover_after:
                    self._limit += 1
                    self._streak = 0
            self._cond.notify_all()
            return pause

    def __repr__(self) -> str:
        return (
            f"SharedThrottle(max_in_flight={self.max_in_flight}, limit={self._limit}, "
            f"min_interval={self.min_interval})"
        )
