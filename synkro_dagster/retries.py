"""Step retries that Dagster owns: transient errors are retried with backoff and jitter, the rest
fail fast.

The policy (`retry_policy()`: 3 retries after waits of 30 s, 90 s and 210 s — Dagster's
exponential (2^n − 1) × 30 s — each moved by up to ±30 s so tenants that failed together do not
retry together) is a `dg.RetryPolicy`, but a step *requests* its retry: `retry_or_fail_fast`
raises `dg.RetryRequested` with the policy's delay when `synkro.failures.is_transient` says a
retry can help (network, 5xx, Postgres connection lost) and `dg.Failure(allow_retries=False)` when
it cannot (bad key, forbidden chat). Dagster then re-executes the step (STEP_UP_FOR_RETRY) and
counts the attempts.

Why the policy is not attached to the ops: Dagster turns an *interrupt* of a step that has a
RetryPolicy into a retry (`op_execution_error_boundary`: "respect retry policy when interrupts
occur"), so `synkro stop` or a cancel from the UI would restart the step instead of ending the
run. Requesting the retry from the step keeps cancellation a cancellation.

    except Exception as exc:
        mirror.failed("step", exc)
        retry_or_fail_fast(exc, context.retry_number)
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


POLICY = retry_policy()


def retry_or_fail_fast(exc: BaseException, retry_number: int, policy: dg.RetryPolicy = POLICY) -> NoReturn:
    """Ask Dagster for a retry of a transient failure, or fail without retries.

    `retry_number` is the step context's (0 on the first attempt). Call it in an `except` block.
    Dagster's own control flow (`dg.Failure`, `dg.RetryRequested`) and interrupts pass through.
    """
    if isinstance(exc, (dg.Failure, dg.RetryRequested)) or not isinstance(exc, Exception):
        raise exc
    if is_transient(exc):
        raise dg.RetryRequested(
            max_retries=policy.max_retries, seconds_to_wait=policy.calculate_delay(retry_number + 1)
        ) from exc
    raise dg.Failure(description=f"{type(exc).__name__}: {exc}", allow_retries=False) from exc


@contextmanager
def retried_when_transient(retry_number: int, policy: dg.RetryPolicy = POLICY) -> Iterator[None]:
    """`with retried_when_transient(context.retry_number): ...` — `retry_or_fail_fast` for a block."""
    try:
        yield
    except Exception as exc:
        retry_or_fail_fast(exc, retry_number, policy)
