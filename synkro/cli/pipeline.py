"""`synkro load | transform | run | stop | runs`: tenant runs through the Dagster run queue.

Each command makes sure the local services are up (`synkro up`), submits the run through the
instance (synkro/orchestration/launch.py — the run path the portal, the bot and the schedule share),
and follows it: the step lines the assets record, a progress bar, and where the run waits in the
queue. The exit code is 0 when the run succeeded (also `succeeded_with_warnings`: the report went out
but a step stopped short, printed in yellow) and 1 otherwise; bad input exits 2 before
anything runs. Ctrl-C stops following, not the run (`synkro stop SLUG` stops it).
"""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from synkro import tenancy
from synkro.cli.common import console, controlplane, err_console, print_json, styled
from synkro.controlplane.errors import BadInputError
from synkro.windows import WindowError

LEVEL_STYLE = {"error": "red", "warning": "yellow", "info": "cyan", "debug": "dim"}
SOURCES = {"amocrm": "amocrm_ingestion", "radist": "radist_ingestion"}


def _instance() -> Any:
    """The shared Dagster instance (one per DAGSTER_HOME and database in this process)."""
    from synkro.orchestration.instance import shared_instance

    return shared_instance()


def start_run(
    slug: str,
    job: str,
    *,
    trigger: str = "manual",
    window=None,
    resend: bool = False,
    full: bool = False,
    wait: bool = True,
) -> int:
    """Submit the run through the instance's queue (the run path every launcher shares);
    returns the job run id."""
    from synkro.orchestration.launch import ActiveRunError, describe, start_tenant_run

    try:
        launched = start_tenant_run(
            controlplane(),
            slug,
            job,
            trigger=trigger,
            launched_by="cli",
            window=window,
            resend=resend,
            full=full,
            wait=wait,
            say=lambda line: console.print(styled((line, "dim")), highlight=False),
        )
    except ActiveRunError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    console.print(f"run {launched.job_run.id} submitted (Dagster run {launched.dagster_run_id[:8]})")
    if launched.ahead:
        console.print(
            f"queued behind run {describe(launched.ahead[0])}: one run per tenant at a time",
            highlight=False,
        )
    return launched.job_run.id


def _print_event(progress: Progress, event) -> None:
    style = LEVEL_STYLE.get(event.level, "white")
    step = f"{event.step:<13}" if event.step else " " * 13
    progress.console.print(  # the message may quote an API: never markup
        styled((f"{event.at.astimezone():%H:%M:%S}", "dim"), " ", (step, style), f" {event.message}"),
        highlight=False,
    )


def follow(job_run_id: int, quiet: bool = False) -> int:
    """Print the run's step lines as they arrive; return 0 when it succeeded."""
    from synkro.orchestration.watch import FALLBACK_WAIT_S, watch

    cp = controlplane()
    run = cp.jobs.get_run(job_run_id)
    queued_said = False
    try:
        with Progress(
            TextColumn("{task.description}", style="bold", markup=False),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=quiet,
        ) as progress:
            task = progress.add_task(f"run {job_run_id} ({run.job})", total=1.0)
            for update in watch(cp, _instance(), job_run_id):
                if update.queued and not queued_said:
                    queued_said = True
                    progress.console.print(styled(("waiting in the run queue", "dim")), highlight=False)
                for event in update.events:
                    _print_event(progress, event)
                run = update.row
                status = "queued" if run.status == "queued" else (run.step or "…")
                progress.update(task, completed=run.progress or 0.0, description=f"run {run.id}: {status}")
                if update.stalled:
                    err_console.print(
                        f"run {run.id}: the report-only run has not started after "
                        f"{FALLBACK_WAIT_S:.0f} s; is the Dagster daemon up? (`synkro up`)",
                        markup=False,
                    )
                    return 1
    except KeyboardInterrupt:
        err_console.print(
            f"stopped following; run {job_run_id} goes on (`synkro runs {run.tenant}`, "
            f"`synkro stop {run.tenant}`)",
            markup=False,
        )
        raise typer.Exit(130) from None
    if run.status == "succeeded":
        console.print(
            styled((f"run {run.id} succeeded", "green"), f" (Dagster run {run.dagster_run_id or '-'})")
        )
        return 0
    if run.status == "succeeded_with_warnings":
        # the report went out, but a step stopped short (e.g. no scores: the Gemini key is invalid)
        console.print(
            f"[yellow]run {run.id} succeeded with warnings[/] (Dagster run {run.dagster_run_id or '-'}): "
            f"{escape(run.error or '')}"
        )
        return 0
    err_console.print(f"run {run.id} {run.status}: {run.error or 'see the events'}", markup=False)
    err_console.print(
        f"details: synkro runs {run.tenant} --events {run.id}"
        + (f"; Dagster run {run.dagster_run_id}" if run.dagster_run_id else ""),
        markup=False,
    )
    return 1


def _raw_counts(slug: str) -> dict[str, int]:
    from psycopg import sql

    from synkro.db import connect
    from synkro.tenant_context import TenantContext

    tctx = TenantContext.load(slug)
    schema = tenancy.raw_schema(slug)
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


NO_WAIT = typer.Option(
    False, "--no-wait", help="Refuse (exit 1) instead of queueing when the tenant has a run in progress."
)


def load(
    slug: str = typer.Argument(..., help="Tenant slug."),
    source: str | None = typer.Option(None, "--source", help="Only this source: amocrm or radist."),
    full: bool = typer.Option(False, "--full", help="Full rescan instead of the incremental load."),
    no_wait: bool = NO_WAIT,
) -> None:
    """Load a tenant's amoCRM and Radist data through Dagster and print row counts."""
    if source is not None and source not in SOURCES:
        raise BadInputError(f"--source must be amocrm or radist, not {source!r}")
    job = SOURCES[source] if source else "ingestion"
    code = follow(start_run(slug, job, full=full, wait=not no_wait))
    table = Table("table", "rows in warehouse", title=tenancy.raw_schema(slug))
    for name, count in _raw_counts(slug).items():
        table.add_row(name, str(count))
    console.print(table)
    raise typer.Exit(code)


def transform(slug: str = typer.Argument(..., help="Tenant slug."), no_wait: bool = NO_WAIT) -> None:
    """Run the tenant's dbt models and tests through Dagster; print the test summary."""
    job_run_id = start_run(slug, "transform", wait=not no_wait)
    code = follow(job_run_id)
    cp = controlplane()
    for event in cp.jobs.list_events(job_run_id):
        failed = event.data.get("failed") if event.data else None
        if failed:
            err_console.print(f"failed dbt tests in {event.step}: {', '.join(failed)}", markup=False)
            code = 1
        warned = event.data.get("warned") if event.data else None
        if warned:  # matching quality and the like: for the owner to fix in the CRM, not a failure
            err_console.print(f"dbt tests with warnings in {event.step}: {', '.join(warned)}", markup=False)
    raise typer.Exit(code)


def run(
    slug: str = typer.Argument(..., help="Tenant slug."),
    start: str | None = typer.Option(None, "--from", help="Window start (ISO; tenant time zone if naive)."),
    end: str | None = typer.Option(None, "--to", help="Window end (ISO; tenant time zone if naive)."),
    resend: bool = typer.Option(False, "--resend", help="Send the report again even if it was delivered."),
    no_wait: bool = NO_WAIT,
) -> None:
    """Force the whole chain for a tenant: load → dbt → analysis → report → Telegram."""
    from synkro.orchestration.launch import forced_report_window

    cp = controlplane()
    tenant = cp.tenants.get(slug)
    try:
        window = forced_report_window(cp, slug, start, end)
    except WindowError as exc:
        raise BadInputError(str(exc)) from None
    console.print(
        styled(
            "report window for ",
            (slug, "bold"),
            f": {window.start.astimezone(tenant.zone):%d.%m %H:%M} → "
            f"{window.end.astimezone(tenant.zone):%d.%m %H:%M} ({tenant.timezone})",
        )
    )
    raise typer.Exit(follow(start_run(slug, "forced_report", window=window, resend=resend, wait=not no_wait)))


def stop(
    slug: str = typer.Argument(..., help="Tenant slug."),
    timeout: float = typer.Option(120, help="Seconds to wait for the runs to end."),
) -> None:
    """Stop the tenant's queued and running runs, whoever started them (CLI, UI, schedule)."""
    from synkro.orchestration.launch import active_runs, describe, stop_runs
    from synkro.orchestration.ledger import RunLedger, close_from_dagster

    cp = controlplane()
    cp.tenants.get(slug)
    instance = _instance()
    stopped = stop_runs(instance, slug)
    if not stopped:
        console.print(f"no active run for {slug}")
        raise typer.Exit(1)
    for run in stopped:
        console.print(f"stopping run {describe(run)}", highlight=False)
    deadline = time.monotonic() + timeout
    while active_runs(instance, slug) and time.monotonic() < deadline:
        time.sleep(0.5)
    ledger = RunLedger(cp)
    for run in stopped:
        current = instance.get_run_by_id(run.run_id)
        row = close_from_dagster(ledger, instance, current)
        state = current.status.value.lower()
        console.print(
            f"run {run.run_id[:8]} {state}" + (f" (job run {row.id})" if row else ""), highlight=False
        )
    if active_runs(instance, slug):
        err_console.print(f"some runs of {slug} are still ending; see `synkro runs {slug}`", markup=False)
        raise typer.Exit(1)


def runs(
    slug: str = typer.Argument(..., help="Tenant slug."),
    limit: int = typer.Option(20, help="How many runs to show."),
    events: int | None = typer.Option(None, "--events", help="Show the events of this run id."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Run history of a tenant, with the step that failed."""
    cp = controlplane()
    if events is not None:
        run_events = cp.jobs.list_events(events, tenant=slug)
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
    table = Table("id", "job", "trigger", "via")
    table.add_column("status", no_wrap=True)  # succeeded_with_warnings must read as one word
    for name in ("step", "window", "started", "error"):
        table.add_column(name)
    for r in history:
        window = f"{r.window_start:%d.%m %H:%M}–{r.window_end:%d.%m %H:%M}" if r.window_start else ""
        started = f"{r.started_at:%Y-%m-%d %H:%M}" if r.started_at else ""
        via = r.details.get("launched_by", "")
        table.add_row(
            str(r.id), r.job, r.trigger, via, r.status, r.step or "", window, started, (r.error or "")[:60]
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    for command in (load, transform, run, stop, runs):
        app.command()(command)
