"""The schedule sensor's rule with a frozen clock: one run per tenant per business day, at the
tenant's local run time, across time zones and the 2026-11-01 DST change in New York; missed days
are caught up within the look-back; evaluating twice requests nothing twice.

Tenants live in a real control plane; `scheduled_run_requests` is the function the Dagster sensor
calls each minute with the wall clock, here called with the clock we choose.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from synkro.controlplane import ControlPlane, open_controlplane
from synkro.orchestration import tags
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
