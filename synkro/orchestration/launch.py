"""Launching tenant runs through the Dagster instance's queue — the one run path.

The CLI, the portal and the Telegram bot call `launch_run` (through `start_tenant_run`, which
first does what every launcher outside Dagster needs): it opens the run's
ledger row and submits a Dagster run of the job (`instance.submit_run`) with the tenant partition
and Synkro's tags. From there everything is Dagster's: the QueuedRunCoordinator holds the run
while the tenant has another one active (tag concurrency on `dagster/partition`, whoever launched
that one), the daemon dequeues it, and the run launcher starts it (DefaultRunLauncher through the
local code server; K8sRunLauncher in the Helm values). `stop_runs` cancels through the instance,
so it ends runs the UI or the schedule started too.

Why `submit_run` and not the GraphQL API: it needs no webserver (locally the UI is optional) and
goes through exactly the coordinator the UI's launch mutation uses. The remote job is loaded from
the code server (`GrpcServerTarget`) — the same snapshot the daemon and the UI see. The calls
that build the run (`create_run`, the execution plan) are Dagster's own `dagster job launch`
path; they are internal API of the pinned dagster release, so tests launch real runs through it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from synkro.controlplane import ControlPlane
from synkro.controlplane.errors import BadInputError
from synkro.controlplane.jobs import JobRun
from synkro.orchestration import tags
from synkro.orchestration.ledger import RunLedger
from synkro.orchestration.services import LOCATION, Services
from synkro.windows import Window, forced_window, parse_bound

TENANT_PARTITIONS = "tenant"


def active_statuses() -> list[Any]:
    import dagster as dg

    return [
        dg.DagsterRunStatus.QUEUED,
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
        dg.DagsterRunStatus.CANCELING,
    ]


def active_runs(instance: Any, slug: str) -> list[Any]:
    """The tenant's Dagster runs that are queued or running, oldest first, whoever launched them."""
    import dagster as dg

    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=active_statuses(), tags={tags.PARTITION: slug})
    )
    return [r.dagster_run for r in sorted(records, key=lambda r: r.create_timestamp)]


def describe(run: Any) -> str:
    """`8c1f2e0a (forced_report, scheduled, STARTED)` — how a run is named to a user."""
    trigger = run.tags.get(tags.TRIGGER) or ("ui" if tags.JOB_RUN_ID not in run.tags else "manual")
    return f"{run.run_id[:8]} ({run.job_name}, {trigger}, {run.status.value})"


@contextlib.contextmanager
def workspace(instance: Any, services: Services) -> Iterator[Any]:
    """A request context on the code server (the workspace the daemon and UI load too)."""
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import GrpcServerTarget

    target = GrpcServerTarget(
        host="127.0.0.1", port=services.code_server_port, socket=None, location_name=LOCATION
    )
    with WorkspaceProcessContext(instance, target) as context:
        yield context.create_request_context()


def submit(
    instance: Any,
    services: Services,
    job_name: str,
    run_tags: dict[str, str],
    assets: list[Any] | None = None,
) -> Any:
    """Create the run from the code server's snapshot of the job (or of the `assets` subset of
    it) and hand it to the queue."""
    from dagster._core.definitions.selector import JobSubsetSelector

    with workspace(instance, services) as request:
        location = request.get_code_location(LOCATION)
        (repository,) = location.get_repositories().values()
        selector = JobSubsetSelector(
            location_name=LOCATION,
            repository_name=repository.name,
            job_name=job_name,
            op_selection=None,
            asset_selection=assets or None,
        )
        remote_job = location.get_job(selector)
        plan = location.get_execution_plan(
            remote_job, {}, step_keys_to_execute=None, known_state=None, instance=instance
        )
        run = instance.create_run(
            job_name=job_name,
            run_id=None,
            run_config={},
            resolved_op_selection=None,
            step_keys_to_execute=plan.execution_plan_snapshot.step_keys_to_execute,
            op_selection=None,
            status=None,
            root_run_id=None,
            parent_run_id=None,
            tags={**remote_job.tags, **run_tags},
            job_snapshot=remote_job.job_snapshot,
            execution_plan_snapshot=plan.execution_plan_snapshot,
            parent_job_snapshot=remote_job.parent_job_snapshot,
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
            asset_selection=frozenset(assets) if assets else None,
            asset_check_selection=None,
            asset_graph=repository.asset_graph,
        )
        try:
            return instance.submit_run(run.run_id, request)
        except Exception as exc:
            # A run that never reached the queue must not linger as NOT_STARTED.
            instance.report_run_failed(run, f"could not be queued: {type(exc).__name__}")
            raise


def ensure_partition(instance: Any, slug: str) -> None:
    """The tenant's partition exists before its first run (the partitions sensor adds it too)."""
    if not instance.has_dynamic_partition(TENANT_PARTITIONS, slug):
        instance.add_dynamic_partitions(TENANT_PARTITIONS, [slug])


@dataclass
class LaunchedRun:
    job_run: JobRun
    dagster_run_id: str
    ahead: list[Any] = field(default_factory=list)  # the tenant's runs it waits behind


def run_tags(
    slug: str,
    job_run_id: int,
    *,
    trigger: str,
    launched_by: str,
    window: Any = None,
    resend: bool = False,
    full: bool = False,
) -> dict[str, str]:
    values = {
        tags.PARTITION: slug,
        tags.TENANT: slug,
        tags.TRIGGER: trigger,
        tags.JOB_RUN_ID: str(job_run_id),
        tags.LAUNCHED_BY: launched_by,
    }
    if window is not None:
        values[tags.WINDOW_START] = window.start.isoformat()
        values[tags.WINDOW_END] = window.end.isoformat()
        values[tags.WINDOW_LABEL] = window.label
    if resend:
        values[tags.RESEND] = "true"
    if full:
        values[tags.FULL_LOAD] = "true"
    return values


class ActiveRunError(RuntimeError):
    """The tenant already has a run and the caller asked not to wait behind it."""

    def __init__(self, slug: str, runs: list[Any]) -> None:
        self.runs = runs
        super().__init__(
            f"tenant {slug!r} already has run {describe(runs[0])} in progress; "
            f"wait for it, drop --no-wait to queue behind it, or `synkro stop {slug}`"
        )


def launch_run(
    cp: ControlPlane,
    instance: Any,
    services: Services,
    slug: str,
    job: str,
    *,
    trigger: str = "manual",
    launched_by: str = "cli",
    window: Any = None,
    resend: bool = False,
    full: bool = False,
    wait: bool = True,
    assets: list[Any] | None = None,
) -> LaunchedRun:
    """Open the ledger row and submit the run; with `wait=False`, refuse if one is active.

    `assets` runs part of the job (asset keys), e.g. only the report and its delivery.
    """
    ahead = active_runs(instance, slug)
    if ahead and not wait:
        raise ActiveRunError(slug, ahead)
    ensure_partition(instance, slug)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    key = f"{trigger}:{slug}:{job}:{stamp}:{uuid.uuid4().hex[:6]}"
    ledger = RunLedger(cp)
    row = ledger.open(slug, job, trigger, key, window=window, launched_by=launched_by)
    values = run_tags(
        slug, row.id, trigger=trigger, launched_by=launched_by, window=window, resend=resend, full=full
    )
    try:
        run = submit(instance, services, job, values, assets)
    except Exception as exc:
        ledger.failed_to_start(row.id, f"{type(exc).__name__}: {exc}")
        raise
    return LaunchedRun(ledger.bind(row.id, run.run_id), run.run_id, ahead)


class TenantDisabledError(BadInputError):
    """A disabled tenant gets no runs until it is resumed."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        super().__init__(f"tenant {slug!r} is disabled; `synkro tenant resume {slug}` first")


def forced_report_window(
    cp: ControlPlane, slug: str, start: str | None, end: str | None, *, now: datetime | None = None
) -> Window:
    """The window of a tenant's forced report from the bounds as typed (none: the last closed
    business day), checked against its limits; WindowError names the rule and the bound at fault.
    `synkro run --from/--to` and the portal's form both ask here."""
    tenant = cp.tenants.get(slug)
    settings = cp.settings.get_settings(slug)
    return forced_window(
        parse_bound(start, "start"),
        parse_bound(end, "end"),
        now=now or datetime.now(UTC),
        timezone=tenant.timezone,
        boundary=settings.day_boundary,
        lookback_days=settings.forced_lookback_days,
        max_hours=settings.forced_max_window_hours,
    )


def start_tenant_run(
    cp: ControlPlane,
    slug: str,
    job: str,
    *,
    trigger: str = "manual",
    launched_by: str = "cli",
    window: Any = None,
    resend: bool = False,
    full: bool = False,
    wait: bool = True,
    say: Callable[[str], None] | None = None,
) -> LaunchedRun:
    """What every launcher outside Dagster does before `launch_run`: refuse a disabled tenant,
    rebuild a stale dbt manifest, and bring the local services up (`synkro up`: started when not
    running, restarted when code or settings changed). ServiceError when they cannot start."""
    from synkro.modeling.manifest import ensure_manifest
    from synkro.orchestration import services
    from synkro.orchestration.instance import shared_instance

    say = say or (lambda _line: None)
    if cp.tenants.get(slug).status == "disabled":
        raise TenantDisabledError(slug)
    if ensure_manifest():
        say("dbt project changed: manifest rebuilt")
    running = services.up(say=say)
    return launch_run(
        cp,
        shared_instance(),
        running,
        slug,
        job,
        trigger=trigger,
        launched_by=launched_by,
        window=window,
        resend=resend,
        full=full,
        wait=wait,
    )


def stop_runs(instance: Any, slug: str) -> list[Any]:
    """Cancel the tenant's queued and running runs through the instance (any launcher's)."""
    stopped = []
    for run in active_runs(instance, slug):
        if instance.run_coordinator.cancel_run(run.run_id):
            stopped.append(run)
    return stopped
