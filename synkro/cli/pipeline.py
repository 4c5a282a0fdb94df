"""`synkro load | transform | run | stop | runs`: tenant runs through Dagster, followed live.

Each command creates the job_runs row, starts the Dagster runner in its own process (see
synkro/orchestration.py) and shows the steps as the assets report them, with a progress bar.
The exit code is 0 when the run succeeded and 1 otherwise; bad input exits 2 before anything runs.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from synkro.cli.common import console, controlplane, err_console, print_json
from synkro.controlplane.errors import BadInputError
from synkro.orchestration import ACTIVE_STATUSES, RunnerArgs, launch, log_path, pid_alive, stop_process_group
from synkro.windows import WindowError, forced_window

LEVEL_STYLE = {"error": "red", "warning": "yellow", "info": "cyan", "debug": "dim"}
SOURCES = {"amocrm": "amocrm_ingestion", "radist": "radist_ingestion"}


def _guard_single_run(cp, slug: str) -> None:
    """One active run per tenant; a row whose runner died is closed instead of blocking forever."""
    for status in ACTIVE_STATUSES:
        for run in cp.jobs.list_runs(slug, status=status, limit=20):
            pid = run.details.get("pid")
            if pid_alive(pid):
                raise BadInputError(
                    f"tenant {slug!r} already has run {run.id} ({run.job}) in progress; "
                    f"wait for it or `synkro stop {slug}`"
                )
            if run.details.get("pid") is not None or status == "running":
                cp.jobs.finish_run(run.id, "failed", error="the runner process ended unexpectedly")


def start_run(
    slug: str,
    job: str,
    *,
    trigger: str = "manual",
    window=None,
    resend: bool = False,
    full: bool = False,
) -> int:
    """Create the job_runs row and start the runner; returns the job run id."""
    from synkro.modeling.manifest import ensure_manifest

    if ensure_manifest():
        console.print("dbt project changed: manifest rebuilt")
    cp = controlplane()
    tenant = cp.tenants.get(slug)
    if tenant.status == "disabled":
        raise BadInputError(f"tenant {slug!r} is disabled; `synkro tenant resume {slug}` first")
    _guard_single_run(cp, slug)
    key = f"{trigger}:{slug}:{job}:{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}:{uuid.uuid4().hex[:6]}"
    run = cp.jobs.create_run(
        slug,
        job,
        trigger,
        key,
        window_start=window.start if window else None,
        window_end=window.end if window else None,
    )
    args = RunnerArgs(
        tenant=slug,
        job=job,
        job_run_id=run.id,
        trigger=trigger,
        window_start=window.start.isoformat() if window else None,
        window_end=window.end.isoformat() if window else None,
        window_label=window.label if window else None,
        resend=resend,
        full=full,
    )
    process = launch(args)
    cp.jobs.update_run(run.id, details={"pid": process.pid})
    return run.id


def follow(job_run_id: int, quiet: bool = False) -> int:
    """Print the run's events as they arrive; return 0 when it succeeded."""
    cp = controlplane()
    seen = 0
    run = cp.jobs.get_run(job_run_id)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=quiet,
    ) as progress:
        task = progress.add_task(f"run {job_run_id} ({run.job})", total=1.0)
        while True:
            events = cp.jobs.list_events(job_run_id)
            for event in events[seen:]:
                style = LEVEL_STYLE.get(event.level, "white")
                step = f"{event.step:<13}" if event.step else " " * 13
                progress.console.print(
                    f"[dim]{event.at.astimezone():%H:%M:%S}[/] [{style}]{step}[/] {event.message}",
                    markup=True,
                    highlight=False,
                )
            seen = len(events)
            run = cp.jobs.get_run(job_run_id)
            progress.update(
                task, completed=run.progress or 0.0, description=f"run {run.id}: {run.step or '…'}"
            )
            if run.status not in ACTIVE_STATUSES:
                break
            if not pid_alive(run.details.get("pid")):
                time.sleep(0.5)
                run = cp.jobs.get_run(job_run_id)
                if run.status in ACTIVE_STATUSES:
                    cp.jobs.finish_run(job_run_id, "failed", error="the runner process ended unexpectedly")
                    run = cp.jobs.get_run(job_run_id)
                break
            time.sleep(0.3)
    if run.status == "succeeded":
        console.print(f"[green]run {run.id} succeeded[/] (Dagster run {run.dagster_run_id or '-'})")
        return 0
    err_console.print(f"run {run.id} {run.status}: {run.error or 'see the log'}", markup=False)
    err_console.print(f"log: {log_path(run.id)}", markup=False)
    return 1


def _raw_counts(slug: str) -> dict[str, int]:
    from psycopg import sql

    from synkro.db import connect
    from synkro.tenant_context import TenantContext

    tctx = TenantContext.load(slug)
    schema = f"{slug}_raw"
    counts: dict[str, int] = {}
    with connect(tctx.warehouse_url()) as conn:
        tables = conn.execute(
            "select table_name from information_schema.tables where table_schema = %s "
            "and table_name not like '\\_dlt%%' order by 1",
            (schema,),
        ).fetchall()
        for (table,) in tables:
            query = sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table))
            counts[table] = conn.execute(query).fetchone()[0]
    return counts


def load(
    slug: str = typer.Argument(..., help="Tenant slug."),
    source: str | None = typer.Option(None, "--source", help="Only this source: amocrm or radist."),
    full: bool = typer.Option(False, "--full", help="Full rescan instead of the incremental load."),
) -> None:
    """Load a tenant's amoCRM and Radist data through Dagster and print row counts."""
    if source is not None and source not in SOURCES:
        raise BadInputError(f"--source must be amocrm or radist, not {source!r}")
    job = SOURCES[source] if source else "ingestion"
    code = follow(start_run(slug, job, full=full))
    table = Table("table", "rows in warehouse", title=f"{slug}_raw")
    for name, count in _raw_counts(slug).items():
        table.add_row(name, str(count))
    console.print(table)
    raise typer.Exit(code)


def transform(slug: str = typer.Argument(..., help="Tenant slug.")) -> None:
    """Run the tenant's dbt models and tests through Dagster; print the test summary."""
    job_run_id = start_run(slug, "transform")
    code = follow(job_run_id)
    cp = controlplane()
    for event in cp.jobs.list_events(job_run_id):
        failed = event.data.get("failed") if event.data else None
        if failed:
            err_console.print(f"failed dbt tests in {event.step}: {', '.join(failed)}", markup=False)
            code = 1
    raise typer.Exit(code)


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise BadInputError(
            f"{option} must be an ISO date-time such as 2026-11-29T22:01, not {value!r}"
        ) from None


def run(
    slug: str = typer.Argument(..., help="Tenant slug."),
    start: str | None = typer.Option(None, "--from", help="Window start (ISO; tenant time zone if naive)."),
    end: str | None = typer.Option(None, "--to", help="Window end (ISO; tenant time zone if naive)."),
    resend: bool = typer.Option(False, "--resend", help="Send the report again even if it was delivered."),
) -> None:
    """Force the whole chain for a tenant: load → dbt → analysis → report → Telegram."""
    cp = controlplane()
    tenant = cp.tenants.get(slug)
    settings = cp.settings.get_settings(slug)
    try:
        window = forced_window(
            _parse_time(start, "--from"),
            _parse_time(end, "--to"),
            now=datetime.now(UTC),
            timezone=tenant.timezone,
            boundary=settings.day_boundary,
            lookback_days=settings.forced_lookback_days,
            max_hours=settings.forced_max_window_hours,
        )
    except WindowError as exc:
        raise BadInputError(str(exc)) from None
    console.print(
        f"report window for [bold]{slug}[/]: {window.start.astimezone(tenant.zone):%d.%m %H:%M} → "
        f"{window.end.astimezone(tenant.zone):%d.%m %H:%M} ({tenant.timezone})"
    )
    raise typer.Exit(follow(start_run(slug, "forced_report", window=window, resend=resend)))


def stop(slug: str = typer.Argument(..., help="Tenant slug.")) -> None:
    """Stop the tenant's active run."""
    cp = controlplane()
    active = [r for s in ACTIVE_STATUSES for r in cp.jobs.list_runs(slug, status=s, limit=20)]
    if not active:
        console.print(f"no active run for {slug}")
        raise typer.Exit(1)
    for job_run in active:
        pid = job_run.details.get("pid")
        if pid and stop_process_group(pid):
            console.print(f"stopping run {job_run.id} (pid {pid})")
        else:
            cp.jobs.finish_run(job_run.id, "cancelled", error="stopped by operator")
            console.print(f"run {job_run.id} marked cancelled")


def runs(
    slug: str = typer.Argument(..., help="Tenant slug."),
    limit: int = typer.Option(20, help="How many runs to show."),
    events: int | None = typer.Option(None, "--events", help="Show the events of this run id."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Run history of a tenant, with the step that failed."""
    cp = controlplane()
    if events is not None:
        run_events = cp.jobs.list_events(events)
        if as_json:
            print_json([e.to_dict() for e in run_events])
            return
        for e in run_events:
            console.print(
                f"{e.at:%Y-%m-%d %H:%M:%S} {e.level:<7} {e.step or '':<13} {e.message}",
                markup=False,
                highlight=False,
            )
        return
    history = cp.jobs.list_runs(slug, limit=limit)
    if as_json:
        print_json([r.to_dict() for r in history])
        return
    table = Table("id", "job", "trigger", "status", "step", "window", "started", "error")
    for r in history:
        window = f"{r.window_start:%d.%m %H:%M}–{r.window_end:%d.%m %H:%M}" if r.window_start else ""
        started = f"{r.started_at:%Y-%m-%d %H:%M}" if r.started_at else ""
        table.add_row(
            str(r.id), r.job, r.trigger, r.status, r.step or "", window, started, (r.error or "")[:60]
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    for command in (load, transform, run, stop, runs):
        app.command()(command)
