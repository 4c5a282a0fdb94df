"""Business days and report windows, in the tenant's timezone.

The same rule as dbt's `business_day` macro (dbt_project/macros/business_day.sql): a business day
is the window between two consecutive local boundaries (default 22:01). It is labelled with the
date holding most of it: for an evening boundary the date it ends on (22:01 on the 29th to 22:01
on the 30th is "the 30th", the day a 22:10 report covers); for a morning boundary the date it
starts on. Boundaries are local wall-clock times, so windows follow DST (23 or 25 hours).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


class WindowError(ValueError):
    """A requested report window breaks the tenant's forced-run limits.

    `code` names the rule (`incomplete`, `not_a_time`, `order`, `too_long`, `too_far_back`,
    `future`), `field` the bound at fault (`start`, `end` or None) and `values` the limit, so a
    form can put its own words beside the right field; the message is the CLI's.
    """

    def __init__(self, code: str, message: str, field: str | None = None, **values: object) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.values = values


# How the CLI names the two bounds (`synkro run --from … --to …`).
BOUND_OPTIONS = {"start": "--from", "end": "--to"}


@dataclass(frozen=True)
class Window:
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC
    label: str  # business date (ISO) or "forced"

    def key(self) -> str:
        """Stable text for run keys and idempotency: `2026-11-30T19:01:00+00:00/...`."""
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


def parse_hhmm(value: str) -> time:
    hours, minutes = value.strip().split(":")
    return time(int(hours), int(minutes))


def _evening(boundary: time) -> bool:
    return boundary.hour * 60 + boundary.minute > 720


def business_day(label: date, timezone: str, boundary: str = "22:01") -> Window:
    """The UTC window of the business day labelled `label`."""
    zone = ZoneInfo(timezone)
    cut = parse_hhmm(boundary)
    first = label - timedelta(days=1) if _evening(cut) else label
    start = datetime.combine(first, cut, tzinfo=zone)
    end = datetime.combine(first + timedelta(days=1), cut, tzinfo=zone)
    return Window(start.astimezone(UTC), end.astimezone(UTC), label.isoformat())


def business_date_of(instant: datetime, timezone: str, boundary: str = "22:01") -> date:
    """The label of the business day an instant falls in."""
    local = instant.astimezone(ZoneInfo(timezone))
    cut = parse_hhmm(boundary)
    shifted = (local.replace(tzinfo=None) - timedelta(hours=cut.hour, minutes=cut.minute)).date()
    return shifted + timedelta(days=1) if _evening(cut) else shifted


def last_closed_business_day(now: datetime, timezone: str, boundary: str = "22:01") -> Window:
    """The newest business day that has fully ended at `now`."""
    current = business_date_of(now, timezone, boundary)
    return business_day(current - timedelta(days=1), timezone, boundary)


def scheduled_run_at(
    label: date, timezone: str, run_time: str = "22:10", boundary: str = "22:01"
) -> datetime:
    """When the scheduled report for business day `label` is due (UTC): the first local `run_time`
    at or after that day's end."""
    window = business_day(label, timezone, boundary)
    zone = ZoneInfo(timezone)
    local_end = window.end.astimezone(zone)
    due = datetime.combine(local_end.date(), parse_hhmm(run_time), tzinfo=zone)
    if due < local_end:
        due += timedelta(days=1)
    return due.astimezone(UTC)


def parse_bound(value: str | None, field: str) -> datetime | None:
    """A window bound as typed (`2026-11-29T22:01`; naive means the tenant's zone), or None."""
    if value is None or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        option = BOUND_OPTIONS[field]
        raise WindowError(
            "not_a_time",
            f"{option} must be an ISO date-time such as 2026-11-29T22:01, not {value!r}",
            field,
        ) from None


def forced_window(
    start: datetime | None,
    end: datetime | None,
    *,
    now: datetime,
    timezone: str,
    boundary: str,
    lookback_days: int,
    max_hours: int,
) -> Window:
    """The window of a forced run: the last closed business day when none is given, else the given
    range checked against the tenant's limits (look-back and length)."""
    if start is None and end is None:
        return last_closed_business_day(now, timezone, boundary)
    if start is None or end is None:
        missing = "start" if start is None else "end"
        raise WindowError("incomplete", "give both --from and --to, or neither", missing)
    zone = ZoneInfo(timezone)
    start = start if start.tzinfo else start.replace(tzinfo=zone)
    end = end if end.tzinfo else end.replace(tzinfo=zone)
    if end <= start:
        raise WindowError("order", "--to must be after --from", "end")
    if end - start > timedelta(hours=max_hours):
        raise WindowError(
            "too_long", f"window is longer than the tenant's limit of {max_hours} h", "end", hours=max_hours
        )
    if start < now - timedelta(days=lookback_days):
        raise WindowError(
            "too_far_back",
            f"window starts more than {lookback_days} days back (the tenant's look-back limit)",
            "start",
            days=lookback_days,
        )
    if start > now:
        raise WindowError("future", "window starts in the future", "start")
    return Window(start.astimezone(UTC), end.astimezone(UTC), "forced")
