"""Step retries that Dagster owns: one policy for transient errors, fail fast on the rest.

A step with `retry_policy=retry_policy()` is re-run by Dagster up to 3 more times, after waits of
30 s, 90 s and 210 s (Dagster's exponential (2^n - 1) x 30 s), each moved by up to ±30 s of
jitter so that tenants which failed together do not retry together. Which failures are worth it
is decided by `synkro.failures.is_transient`; a step turns every other failure into a
`dg.Failure(allow_retries=False)` with `fail_fast_unless_transient(exc)` (or the
`permanent_failures_fail_fast()` block), so a bad key or a forbidden chat fails after one attempt.

    @dg.asset(retry_policy=retry_policy())
    def step(context):
        try:
            ...
        except Exception as exc:
            mirror.failed("step", exc)
            fail_fast_unless_transient(exc)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import dagster as dg

from synkro.failures import is_transient

MAX_RETRIES = 3
# The clients already retry for seconds (amoCRM, Radist, Telegram); a step retry is for outages
# of minutes. Longer ones are the schedule's: it re-requests a failed day later (synkro.schedule).
FIRST_DELAY_SECONDS = 30.0


def retry_policy(max_retries: int = MAX_RETRIES, delay: float = FIRST_DELAY_SECONDS) -> dg.RetryPolicy:
    """Waits of (2^n − 1) × `delay` before retry n (30 s, 90 s, 210 s by default), each ± `delay`."""
    return dg.RetryPolicy(
        max_retries=max_retries, delay=delay, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
    )


def fail_fast_unless_transient(exc: BaseException) -> NoReturn:
    """Re-raise `exc` so the retry policy applies, or, when no retry can help, fail without retries.

    Call it in an `except` block. Dagster's own control flow (`dg.Failure`, `dg.RetryRequested`)
    and interrupts pass through unchanged.
    """
    if isinstance(exc, (dg.Failure, dg.RetryRequested)) or not isinstance(exc, Exception):
        raise exc
    if is_transient(exc):
        raise exc
    raise dg.Failure(description=f"{type(exc).__name__}: {exc}", allow_retries=False) from exc


@contextmanager
def permanent_failures_fail_fast() -> Iterator[None]:
    """`with permanent_failures_fail_fast(): ...` — `fail_fast_unless_transient` for a whole block."""
    try:
        yield
    except Exception as exc:
        fail_fast_unless_transient(exc)
