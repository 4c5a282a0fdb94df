"""Sensors: the tenant partition set, the per-tenant report schedule, and run mirroring.

Tenants keep their own local run time and timezone, which a cron schedule cannot express, so one
sensor evaluates every tenant's due windows (synkro.schedule) each minute. Each request carries a
run key of tenant + business day + attempt and a job_runs row with the same idempotency key, so
nothing runs twice even if the daemon restarts mid-evaluation; missed days are caught up within
the look-back, and a failed day is tried again later, a bounded number of times.
"""

from datetime import UTC, datetime

import dagster as dg

from synkro.controlplane import DuplicateRunError, open_controlplane
from synkro.orchestration import tags
from synkro.orchestration.ledger import RunLedger, close_from_dagster
from synkro.schedule import due_attempts, due_windows
from synkro_dagster.assets.reporting import REPORT_TYPE
from synkro_dagster.fallback import fallback_request
from synkro_dagster.jobs import forced_report
from synkro_dagster.partitions import TENANT_PARTITIONS_NAME, tenant_partitions


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def tenant_partitions_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Keep one `tenant` partition per active or paused tenant; drop disabled and deleted ones."""
    cp = open_controlplane()
    wanted = {t.slug for t in cp.tenants.list() if t.status in ("active", "paused")}
    existing = set(context.instance.get_dynamic_partitions(TENANT_PARTITIONS_NAME))
    requests = []
    if wanted - existing:
        requests.append(tenant_partitions.build_add_request(sorted(wanted - existing)))
    if existing - wanted:
        requests.append(tenant_partitions.build_delete_request(sorted(existing - wanted)))
    return dg.SensorResult(dynamic_partitions_requests=requests)


def scheduled_run_requests(cp, now: datetime, known_partitions: set[str]) -> list[dg.RunRequest]:
    """Run requests for every due scheduled attempt (creates their job_runs rows).

    First attempts of due days, and new attempts of days whose last attempt failed (see
    synkro.schedule), except a day whose report went out anyway (the fallback run delivered it
    after an upstream failure): delivery is exactly once, so another attempt could send nothing.
    """
    requests: list[dg.RunRequest] = []
    for tenant in cp.tenants.list(status="active"):
        if tenant.slug not in known_partitions:
            continue
        settings = cp.settings.get_settings(tenant.slug)
        if not settings.schedule_enabled:
            continue
        windows = due_windows(
            timezone=tenant.timezone,
            day_boundary=settings.day_boundary,
            run_time=settings.run_time,
            lookback_days=settings.forced_lookback_days,
            tenant_created_at=tenant.created_at,
            now=now,
        )
        runs = cp.jobs.list_runs(tenant.slug, job=forced_report.name, limit=200)
        for due in due_attempts(tenant.slug, windows, runs, now):
            window = due.window
            if due.attempt > 1 and _report_sent(cp, tenant.slug, window):
                continue
            try:
                run = cp.jobs.create_run(
                    tenant.slug,
                    forced_report.name,
                    "scheduled",
                    due.key,
                    window_start=window.start,
                    window_end=window.end,
                    attempt=due.attempt,
                    details={"launched_by": "schedule"},
                )
            except DuplicateRunError:
                continue
            requests.append(
                dg.RunRequest(
                    run_key=due.key,
                    partition_key=tenant.slug,
                    tags={
                        tags.PARTITION: tenant.slug,
                        tags.TENANT: tenant.slug,
                        tags.TRIGGER: "scheduled",
                        tags.WINDOW_START: window.start.isoformat(),
                        tags.WINDOW_END: window.end.isoformat(),
                        tags.WINDOW_LABEL: window.label,
                        tags.JOB_RUN_ID: str(run.id),
                        tags.LAUNCHED_BY: "schedule",
                    },
                )
            )
    return requests


def _report_sent(cp, slug: str, window) -> bool:
    report = cp.reports.find_report(slug, REPORT_TYPE, window.start, window.end)
    return report is not None and report.status == "sent"


@dg.sensor(job=forced_report, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def daily_report_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Request each tenant's report at its local run time for the last closed business day."""
    known = set(context.instance.get_dynamic_partitions(TENANT_PARTITIONS_NAME))
    requests = scheduled_run_requests(open_controlplane(), datetime.now(UTC), known)
    return dg.SensorResult(run_requests=requests)


def _close(context: dg.RunStatusSensorContext) -> None:
    """Close the job_runs row of a finished run, whoever launched it (one rule: the ledger's)."""
    run = context.dagster_run
    if not (run.tags.get(tags.TENANT) or run.tags.get(tags.PARTITION)):
        return
    close_from_dagster(RunLedger(open_controlplane()), context.instance, run)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    minimum_interval_seconds=5,
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def mirror_success(context: dg.RunStatusSensorContext) -> None:
    _close(context)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.CANCELED,
    minimum_interval_seconds=5,
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def mirror_canceled(context: dg.RunStatusSensorContext) -> None:
    _close(context)


@dg.run_failure_sensor(
    minimum_interval_seconds=5,
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,
    request_job=forced_report,
)
def mirror_failure(context: dg.RunFailureSensorContext):
    """Close the run's job_runs row; after a failed load or dbt step, request the report-only run."""
    run = context.dagster_run
    if not (run.tags.get(tags.TENANT) or run.tags.get(tags.PARTITION)):
        return None
    row = close_from_dagster(RunLedger(open_controlplane()), context.instance, run)
    return fallback_request(run, row)


ALL_SENSORS = [tenant_partitions_sensor, daily_report_sensor, mirror_success, mirror_failure, mirror_canceled]
