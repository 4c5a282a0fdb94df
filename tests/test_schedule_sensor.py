"""The schedule sensor's rule with a frozen clock: one run per tenant per business day, at the
tenant's local run time, across time zones and the 2026-11-01 DST change in New York; missed days
are caught up within the look-back; evaluating twice requests nothing twice; a failed day is
requested again (new key per attempt) after the retry delay, at most three attempts, and a day in
flight, done, cancelled or already delivered is not.

Tenants live in a real control plane; `scheduled_run_requests` is the function the Dagster sensor
calls each minute with the wall clock, here called with the clock we choose.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from synkro.controlplane import ControlPlane, open_controlplane
from synkro.orchestration import tags
from synkro.schedule import DueAttempt, due_attempts, due_windows, next_attempt, scheduled_key
from synkro.windows import business_day
from synkro_dagster.sensors import scheduled_run_requests

ZONES = ("Europe/Moscow", "Asia/Almaty", "America/New_York")
CREATED = datetime(2026, 10, 28, 12, 0, tzinfo=UTC)
TICK = timedelta(minutes=20)


@pytest.fixture
def cp(db_env: str) -> ControlPlane:
    return open_controlplane()


def _tenant(cp: ControlPlane, timezone: str, created: datetime = CREATED, **settings) -> str:
    slug = "s" + uuid.uuid4().hex[:8]
    cp.tenants.create(slug, f"Schedule {timezone}", timezone=timezone, actor="test")
    if settings:
        cp.settings.update_settings(slug, **settings)
    with cp.engine.begin() as conn:  # the tenant existed before the clock we replay
        conn.exec_driver_sql("update synkro.tenants set created_at = %s where slug = %s", (created, slug))
    return slug


def test_one_run_per_tenant_per_business_day_at_local_run_time_across_dst(cp: ControlPlane) -> None:
    slugs = {zone: _tenant(cp, zone) for zone in ZONES}
    off = _tenant(cp, "Europe/Moscow", schedule_enabled=False)
    paused = _tenant(cp, "Europe/Moscow")
    cp.tenants.set_status(paused, "paused", actor="test")
    not_a_partition = _tenant(cp, "Europe/Moscow")
    known = {*slugs.values(), off, paused}

    start, end = datetime(2026, 10, 29, 0, 0, tzinfo=UTC), datetime(2026, 11, 3, 6, 0, tzinfo=UTC)
    requested: dict[str, list[tuple[datetime, dict[str, str], str]]] = defaultdict(list)
    now = start
    while now <= end:
        for request in scheduled_run_requests(cp, now, known):
            requested[request.partition_key].append((now, request.tags, request.run_key))
        now += TICK

    assert set(requested) == set(slugs.values())  # schedule off, paused, unknown partition: nothing
    assert not_a_partition not in requested
    for zone, slug in slugs.items():
        local = ZoneInfo(zone)
        runs = requested[slug]
        labels = [t[tags.WINDOW_LABEL] for _, t, _ in runs]
        assert len(labels) == len(set(labels)), f"{zone}: a business day was requested twice"
        # Every business day that ended after the tenant was created and before the clock stopped.
        assert labels == ["2026-10-28", "2026-10-29", "2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02"]
        for at, run_tags, run_key in runs:
            window = business_day(datetime.fromisoformat(run_tags[tags.WINDOW_LABEL]).date(), zone, "22:01")
            assert run_tags[tags.WINDOW_START] == window.start.isoformat()
            assert run_tags[tags.WINDOW_END] == window.end.isoformat()
            assert run_key == f"scheduled:{slug}:{window.label}" and run_tags[tags.TRIGGER] == "scheduled"
            job_run = cp.jobs.get_run(int(run_tags[tags.JOB_RUN_ID]))
            assert (job_run.trigger, job_run.idempotency_key) == ("scheduled", run_key)
            if at == start:
                continue  # the first evaluation catches up the day that closed before the clock started
            due = datetime.combine(window.end.astimezone(local).date(), datetime.min.time(), local)
            due = due.replace(hour=22, minute=10)
            assert due <= at.astimezone(local) < due + TICK, (zone, window.label, at)
    ny = {t[tags.WINDOW_LABEL]: t for _, t, _ in requested[slugs["America/New_York"]]}
    fall_back = ny["2026-11-01"]
    length = datetime.fromisoformat(fall_back[tags.WINDOW_END]) - datetime.fromisoformat(
        fall_back[tags.WINDOW_START]
    )
    assert length == timedelta(hours=25)  # 22:01 EDT → 22:01 EST
    assert fall_back[tags.WINDOW_END] == "2026-11-02T03:01:00+00:00"


def test_missed_days_are_caught_up_once_within_the_look_back(cp: ControlPlane) -> None:
    slug = _tenant(cp, "Asia/Almaty")
    known = {slug}
    first = datetime(2026, 11, 10, 17, 30, tzinfo=UTC)  # 22:30 in Almaty: day 10.11 is due
    assert [r.tags[tags.WINDOW_LABEL] for r in scheduled_run_requests(cp, first, known)][-1] == "2026-11-10"
    assert scheduled_run_requests(cp, first, known) == []

    back = first + timedelta(days=2, hours=1)  # the daemon was down for two evenings
    caught_up = scheduled_run_requests(cp, back, known)
    assert [r.tags[tags.WINDOW_LABEL] for r in caught_up] == ["2026-11-11", "2026-11-12"]
    assert scheduled_run_requests(cp, back, known) == []  # evaluated again: idempotent

    later = back + timedelta(days=6)  # down longer than the 3-day look-back
    labels = [r.tags[tags.WINDOW_LABEL] for r in scheduled_run_requests(cp, later, known)]
    assert labels == ["2026-11-16", "2026-11-17", "2026-11-18"]  # 13.–15.11 are past it
    assert scheduled_run_requests(cp, later, known) == []


def test_days_before_the_tenant_existed_are_not_requested(cp: ControlPlane) -> None:
    created = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # 15:00 in Moscow
    slug = _tenant(cp, "Europe/Moscow", created=created)
    before_run_time = datetime(2026, 11, 20, 19, 0, tzinfo=UTC)  # 22:00 MSK: day 20.11 not closed
    assert scheduled_run_requests(cp, before_run_time, {slug}) == []
    after = datetime(2026, 11, 20, 19, 15, tzinfo=UTC)  # 22:15 MSK
    assert [r.tags[tags.WINDOW_LABEL] for r in scheduled_run_requests(cp, after, {slug})] == ["2026-11-20"]


# --- failed days: the pure rule -------------------------------------------------------------------

NOW = datetime(2026, 11, 12, 18, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Run:
    status: str
    attempt: int = 1
    finished_at: datetime | None = None
    updated_at: datetime = NOW
    idempotency_key: str = ""


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("runs", "expected"),
    [
        ([], 1),
        ([Run("failed", finished_at=ago(31))], 2),
        ([Run("failed", finished_at=ago(30))], 2),  # exactly the delay
        ([Run("failed", finished_at=ago(29))], None),  # too soon after the failure
        ([Run("failed", finished_at=None, updated_at=ago(45))], 2),
        ([Run("failed", finished_at=ago(120)), Run("failed", 2, ago(31))], 3),
        ([Run("failed", 2, ago(31)), Run("failed", finished_at=ago(120))], 3),  # any order
        ([Run("failed", finished_at=ago(300)), Run("failed", 2, ago(200)), Run("failed", 3, ago(100))], None),
        ([Run("failed", finished_at=ago(120)), Run("running", 2)], None),
        ([Run("failed", finished_at=ago(120)), Run("queued", 2)], None),
        ([Run("failed", finished_at=ago(120)), Run("succeeded", 2, ago(60))], None),
        ([Run("queued")], None),
        ([Run("running")], None),
        ([Run("succeeded", finished_at=ago(600))], None),
        ([Run("skipped", finished_at=ago(600))], None),
        ([Run("cancelled", finished_at=ago(600))], None),  # an operator stopped it
    ],
)
def test_next_attempt_of_a_day(runs: list[Run], expected: int | None) -> None:
    assert next_attempt(runs, NOW) == expected


def test_next_attempt_bound_and_delay_are_parameters() -> None:
    failed_twice = [Run("failed", finished_at=ago(20)), Run("failed", 2, ago(5))]
    assert next_attempt(failed_twice, NOW, max_attempts=2) is None
    assert next_attempt(failed_twice, NOW, max_attempts=5, retry_delay=timedelta(minutes=5)) == 3


def test_due_attempts_keys_per_day_and_attempt() -> None:
    zone = "Asia/Almaty"
    days = {
        label: business_day(date.fromisoformat(label), zone, "22:01")
        for label in ("2026-11-10", "2026-11-11", "2026-11-12")
    }
    key = {label: scheduled_key("acme", window) for label, window in days.items()}
    assert key["2026-11-10"] == "scheduled:acme:2026-11-10"
    assert scheduled_key("acme", days["2026-11-10"], 2) == "scheduled:acme:2026-11-10:attempt-2"
    runs = [
        Run("succeeded", finished_at=ago(60 * 40), idempotency_key=key["2026-11-10"]),
        Run("failed", finished_at=ago(60 * 20), idempotency_key=key["2026-11-11"]),
        Run("failed", 2, ago(45), idempotency_key=f"{key['2026-11-11']}:attempt-2"),
        Run("failed", finished_at=ago(10), idempotency_key="scheduled:other:2026-11-12"),  # another tenant
    ]
    windows = due_windows(
        timezone=zone,
        day_boundary="22:01",
        run_time="22:10",
        lookback_days=3,
        tenant_created_at=CREATED,
        now=NOW,  # 23:00 in Almaty: 12.11 is due, 13.11 has not ended
    )
    assert windows == list(days.values())
    due = due_attempts("acme", windows, runs, NOW)
    assert due == [
        DueAttempt(days["2026-11-11"], 3, "scheduled:acme:2026-11-11:attempt-3"),
        DueAttempt(days["2026-11-12"], 1, "scheduled:acme:2026-11-12"),
    ]


# --- failed days: the sensor on a real control plane --------------------------------------------


def _end(cp: ControlPlane, request: dg.RunRequest, status: str, at: datetime | None = None) -> None:
    """Close the request's job_runs row the way the run-status sensors do, at clock time `at`."""
    run_id = int(request.tags[tags.JOB_RUN_ID])
    if status in ("queued", "running"):
        cp.jobs.update_run(run_id, status=status)
        return
    cp.jobs.finish_run(run_id, status)
    with cp.engine.begin() as conn:
        conn.exec_driver_sql("update synkro.job_runs set finished_at = %s where id = %s", (at, run_id))


def _by_label(requests: list[dg.RunRequest]) -> dict[str, dg.RunRequest]:
    return {r.tags[tags.WINDOW_LABEL]: r for r in requests}


def test_a_failed_day_is_requested_again_with_a_new_key_at_most_three_times(cp: ControlPlane) -> None:
    slug = _tenant(cp, "Asia/Almaty")
    known = {slug}
    first = datetime(2026, 11, 10, 17, 30, tzinfo=UTC)  # 22:30 in Almaty
    initial = _by_label(scheduled_run_requests(cp, first, known))
    day = initial.pop("2026-11-10")
    for other in initial.values():
        _end(cp, other, "succeeded", first + timedelta(minutes=20))
    _end(cp, day, "failed", first + timedelta(minutes=10))

    assert scheduled_run_requests(cp, first + timedelta(minutes=39), known) == []  # 29 min after
    retry_at = first + timedelta(minutes=40)
    (second,) = scheduled_run_requests(cp, retry_at, known)
    assert second.run_key == f"scheduled:{slug}:2026-11-10:attempt-2"
    assert {k: v for k, v in second.tags.items() if k != tags.JOB_RUN_ID} == {
        k: v for k, v in day.tags.items() if k != tags.JOB_RUN_ID
    }
    job_run = cp.jobs.get_run(int(second.tags[tags.JOB_RUN_ID]))
    assert (job_run.idempotency_key, job_run.attempt, job_run.status) == (second.run_key, 2, "queued")
    assert job_run.window_start.isoformat() == day.tags[tags.WINDOW_START]
    assert scheduled_run_requests(cp, retry_at, known) == []  # evaluated again: idempotent

    _end(cp, second, "running")
    assert scheduled_run_requests(cp, retry_at + timedelta(hours=2), known) == []  # in flight
    _end(cp, second, "failed", retry_at + timedelta(minutes=15))
    (third,) = scheduled_run_requests(cp, retry_at + timedelta(minutes=45), known)
    assert third.run_key == f"scheduled:{slug}:2026-11-10:attempt-3"
    assert cp.jobs.get_run(int(third.tags[tags.JOB_RUN_ID])).attempt == 3
    _end(cp, third, "failed", retry_at + timedelta(minutes=60))
    assert scheduled_run_requests(cp, retry_at + timedelta(hours=5), known) == []  # three attempts
    keys = sorted(r.idempotency_key for r in cp.jobs.list_runs(slug) if "2026-11-10" in r.idempotency_key)
    assert keys == [day.run_key, second.run_key, third.run_key]


def test_in_flight_done_cancelled_and_delivered_days_are_not_requested_again(cp: ControlPlane) -> None:
    slug = _tenant(cp, "Europe/Moscow", forced_lookback_days=6)
    known = {slug}
    first = datetime(2026, 11, 10, 19, 30, tzinfo=UTC)  # 22:30 in Moscow
    requests = _by_label(scheduled_run_requests(cp, first, known))
    assert list(requests) == [
        "2026-11-05",
        "2026-11-06",
        "2026-11-07",
        "2026-11-08",
        "2026-11-09",
        "2026-11-10",
    ]
    ended = first + timedelta(minutes=5)
    _end(cp, requests["2026-11-05"], "running")
    _end(cp, requests["2026-11-06"], "succeeded", ended)
    _end(cp, requests["2026-11-07"], "cancelled", ended)
    _end(cp, requests["2026-11-08"], "skipped", ended)
    # Failed, but the fallback run delivered the report: a new attempt could send nothing.
    _end(cp, requests["2026-11-09"], "failed", ended)
    sent_day = requests["2026-11-09"].tags
    report = cp.reports.create_draft(
        slug,
        "daily",
        datetime.fromisoformat(sent_day[tags.WINDOW_START]),
        datetime.fromisoformat(sent_day[tags.WINDOW_END]),
    )
    cp.reports.set_status(report.id, "sent")
    _end(cp, requests["2026-11-10"], "failed", ended)

    later = scheduled_run_requests(cp, first + timedelta(hours=1), known)
    assert [(r.tags[tags.WINDOW_LABEL], r.run_key) for r in later] == [
        ("2026-11-10", f"scheduled:{slug}:2026-11-10:attempt-2")
    ]
