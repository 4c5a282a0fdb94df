"""Sensors: the tenant partition set, the per-tenant report schedule, and run mirroring.

Tenants keep their own local run time and timezone, which a cron schedule cannot express, so one
sensor evaluates every tenant's due windows (synkro.schedule) each minute. Each request carries a
run key of tenant + business day and a job_runs row with the same idempotency key, so nothing runs
twice even if the daemon restarts mid-evaluation; missed days are caught up within the look-back.
"""

from datetime import UTC, datetime

import dagster as dg

from synkro.controlplane import DuplicateRunError, open_controlplane
from synkro.orchestration import tags
from synkro.orchestration.ledger import RunLedger, close_from_dagster
from synkro.schedule import due_windows, scheduled_key
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
    """Run requests for every due, not yet requested scheduled report (creates their job_runs rows)."""
    requests: list[dg.RunRequest] = []
    for tenant in cp.tenants.list(status="active"):
        if tenant.slug not in known_partitions:
            continue
        settings = cp.settings.get_settings(tenant.slug)
        if not settings.schedule_enabled:
            continue
        requested = {r.idempotency_key for r in cp.jobs.list_runs(tenant.slug, limit=200)}
        for window in due_windows(
            slug=tenant.slug,
            timezone=tenant.timezone,
            day_boundary=settings.day_boundary,
            run_time=settings.run_time,
            lookback_days=settings.forced_lookback_days,
            tenant_created_at=tenant.created_at,
            now=now,
            already_requested=requested,
        ):
            key = scheduled_key(tenant.slug, window)
            try:
                run = cp.jobs.create_run(
                    tenant.slug,
                    forced_report.name,
                    "scheduled",
                    key,
                    window_start=window.start,
                    window_end=window.end,
                )
            except DuplicateRunError:
                continue
            requests.append(
                dg.RunRequest(
                    run_key=key,
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
