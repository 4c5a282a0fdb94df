"""Which scheduled reports are due: the rule the schedule sensor applies, as pure functions.

For a tenant with its schedule on, the report for business day D is due at the first local
`run_time` after D's end. Every due day within the look-back limit is considered, oldest first,
so days missed while the daemon was down are caught up; days that ended before the tenant existed
are not.

A day is requested once per attempt. Attempt 1 has the key `scheduled:<slug>:<day>`, attempt n > 1
`scheduled:<slug>:<day>:attempt-<n>` (the job_runs idempotency key and the Dagster run key, so an
attempt is never requested twice). A day is requested again only when its last attempt `failed`,
at least `SCHEDULE_RETRY_DELAY` after that attempt finished (a flapping service is not hit every
minute; the steps' own retries have already covered the next few minutes), and at most
`SCHEDULE_MAX_ATTEMPTS` times in all. A day whose last attempt is queued or running is in flight;
succeeded or skipped is done; cancelled means an operator stopped it: none of them is requested.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from synkro.windows import Window, business_date_of, business_day, scheduled_run_at

SCHEDULE_MAX_ATTEMPTS = 3
SCHEDULE_RETRY_DELAY = timedelta(minutes=30)


class ScheduledRun(Protocol):
    """What the rule reads of a job_runs row (`synkro.controlplane.JobRun` has it all)."""

    idempotency_key: str
    attempt: int
    status: str
    finished_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class DueAttempt:
    """One scheduled run to request: the day, which attempt it is, and its key."""

    window: Window
    attempt: int
    key: str


def scheduled_key(slug: str, window: Window, attempt: int = 1) -> str:
    """Idempotency key and Dagster run key of one attempt of a scheduled report."""
    key = f"scheduled:{slug}:{window.label}"
    return key if attempt == 1 else f"{key}:attempt-{attempt}"


def due_windows(
    *,
    timezone: str,
    day_boundary: str,
    run_time: str,
    lookback_days: int,
    tenant_created_at: datetime,
    now: datetime,
) -> list[Window]:
    """Business days whose scheduled time has come, within the look-back, oldest first."""
    today = business_date_of(now, timezone, day_boundary)
    due: list[Window] = []
    for back in range(lookback_days, -1, -1):
        label = today - timedelta(days=back)
        window = business_day(label, timezone, day_boundary)
        if window.end <= tenant_created_at or window.end > now:
            continue
        if scheduled_run_at(label, timezone, run_time, day_boundary) > now:
            continue
        due.append(window)
    return due


def next_attempt(
    runs: Sequence[ScheduledRun],
    now: datetime,
    *,
    max_attempts: int = SCHEDULE_MAX_ATTEMPTS,
    retry_delay: timedelta = SCHEDULE_RETRY_DELAY,
) -> int | None:
    """The attempt to request for one due day given that day's scheduled runs, or None for none."""
    if not runs:
        return 1
    last = max(runs, key=lambda run: run.attempt)
    if last.status != "failed" or last.attempt >= max_attempts:
        return None
    ended = last.finished_at or last.updated_at
    if now - ended < retry_delay:
        return None
    return last.attempt + 1


def due_attempts(
    slug: str,
    windows: Iterable[Window],
    runs: Iterable[ScheduledRun],
    now: datetime,
    *,
    max_attempts: int = SCHEDULE_MAX_ATTEMPTS,
    retry_delay: timedelta = SCHEDULE_RETRY_DELAY,
) -> list[DueAttempt]:
    """Every attempt to request now among the due `windows`, given the tenant's scheduled runs."""
    by_key = {run.idempotency_key: run for run in runs}
    due: list[DueAttempt] = []
    for window in windows:
        keys = (scheduled_key(slug, window, n) for n in range(1, max_attempts + 1))
        day_runs = [by_key[key] for key in keys if key in by_key]
        attempt = next_attempt(day_runs, now, max_attempts=max_attempts, retry_delay=retry_delay)
        if attempt is not None:
            due.append(DueAttempt(window, attempt, scheduled_key(slug, window, attempt)))
    return due
