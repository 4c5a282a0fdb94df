"""Which scheduled reports are due: the rule the schedule sensor applies, as a pure function.

For a tenant with its schedule on, the report for business day D is due at the first local
`run_time` after D's end. Every due day within the look-back limit that has not been requested
yet is returned, oldest first, so days missed while the daemon was down are caught up; days that
ended before the tenant existed are not.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from synkro.windows import Window, business_date_of, business_day, scheduled_run_at


def scheduled_key(slug: str, window: Window) -> str:
    """Idempotency key and Dagster run key of a scheduled report: tenant + business day."""
    return f"scheduled:{slug}:{window.label}"


def due_windows(
    *,
    slug: str,
    timezone: str,
    day_boundary: str,
    run_time: str,
    lookback_days: int,
    tenant_created_at: datetime,
    now: datetime,
    already_requested: set[str],
) -> list[Window]:
    today = business_date_of(now, timezone, day_boundary)
    due: list[Window] = []
    for back in range(lookback_days, -1, -1):
        label = today - timedelta(days=back)
        window = business_day(label, timezone, day_boundary)
        if window.end <= tenant_created_at or window.end > now:
            continue
        if scheduled_run_at(label, timezone, run_time, day_boundary) > now:
            continue
        if scheduled_key(slug, window) in already_requested:
            continue
        due.append(window)
    return due
