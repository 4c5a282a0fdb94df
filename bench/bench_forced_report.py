"""End-to-end time of a forced report on the `medium` sandbox scenario, step by step.

    .venv/bin/python bench/bench_forced_report.py               # one forced report
    .venv/bin/python bench/bench_forced_report.py --runs 2      # again: the warm (partial-parse) figures
    .venv/bin/python bench/bench_forced_report.py --scenario small
    .venv/bin/python bench/bench_forced_report.py --gemini-rpm 0       # the tenant default (10 RPM)

Why: `synkro run SLUG` is what an operator waits for, and the time hides in places a unit test
never sees (runner start-up and code-location import, dbt start-up and parsing, Gemini calls).
The bench runs the real chain exactly as the CLI does (`start_run` launches the Dagster runner
in its own process; `follow` waits for it) against an in-process sandbox, and prints:

- the total wall time of each run and the time from launch to the first step (runner start-up);
- per step, from the control plane's job_run_events (step started → step's last event);
- per Dagster step, STEP_START → STEP_SUCCESS/FAILURE from the Dagster event log, which also
  counts what happens inside a step before it reports "started".

The tenant's Gemini limit is raised to `--gemini-rpm` (default 1000): at the default 10 RPM the
analysis step is budget / RPM by design (300 dialogs ≈ 30 min on `medium`), which would hide
every other figure.

Everything is throwaway: a new database on the same Postgres server (DATABASE_URL's or the
embedded one), a temporary DAGSTER_HOME and a bench tenant's dbt state dir; all are removed at
the end. Load on the machine skews the figures, so compare runs made under the same load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402

from synkro.db import embedded, normalize_url, with_database  # noqa: E402


def server_url() -> str:
    """The Postgres server the product uses, as an admin URL on its `postgres` database."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        return with_database(normalize_url(configured), "postgres")
    return embedded.server_url("postgres")


def step_spans(events) -> dict[str, float]:
    """Seconds per step: its first event to its last (the "started" and the "done"/"failed")."""
    first: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    for event in events:
        if not event.step:
            continue
        first.setdefault(event.step, event.at)
        last[event.step] = event.at
    return {step: (last[step] - first[step]).total_seconds() for step in first}


def dagster_step_spans(dagster_run_id: str) -> dict[str, float]:
    """Seconds per Dagster step, STEP_START to its end, from the run's event log."""
    import dagster as dg

    instance = dg.DagsterInstance.get()
    starts: dict[str, float] = {}
    spans: dict[str, float] = {}
    for record in instance.all_logs(dagster_run_id):
        kind = record.dagster_event.event_type_value if record.dagster_event else None
        if kind == "STEP_START":
            starts[record.step_key] = record.timestamp
        elif kind in {"STEP_SUCCESS", "STEP_FAILURE"} and record.step_key in starts:
            spans[record.step_key] = record.timestamp - starts[record.step_key]
    return spans


def one_run(slug: str, window) -> dict:
    from synkro.cli.pipeline import follow, start_run
    from synkro.controlplane import open_controlplane

    started = time.monotonic()
    job_run_id = start_run(slug, "forced_report", window=window)
    code = follow(job_run_id, quiet=True)
    total = time.monotonic() - started
    cp = open_controlplane()
    run = cp.jobs.get_run(job_run_id)
    events = cp.jobs.list_events(job_run_id)
    stepped = [e for e in events if e.step]
    return {
        "code": code,
        "status": run.status,
        "error": run.error,
        "total": total,
        "to_first_step": (stepped[0].at - run.created_at).total_seconds() if stepped else None,
        "steps": step_spans(events),
        "dagster_steps": dagster_step_spans(run.dagster_run_id) if run.dagster_run_id else {},
    }


def print_run(index: int, result: dict) -> None:
    print(f"\nrun {index}: {result['status']} in {result['total']:.1f} s (exit {result['code']})")
    if result["error"]:
        print(f"  error: {result['error']}")
    if result["to_first_step"] is not None:
        print(f"  {'launch → first step event':<33} {result['to_first_step']:7.1f} s")
    for step, seconds in result["steps"].items():
        print(f"  step {step:<28} {seconds:7.1f} s")
    for step, seconds in result["dagster_steps"].items():
        print(f"  dagster {step:<25} {seconds:7.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="medium", help="sandbox scenario: small, medium or large")
    parser.add_argument("--runs", type=int, default=1, help="forced reports in a row (2nd+ are warm)")
    parser.add_argument("--gemini-rpm", type=int, default=1000, help="tenant's Gemini RPM; 0 = default")
    options = parser.parse_args()

    server = server_url()
    name = f"synkro_bench_{uuid.uuid4().hex[:10]}"
    slug = f"bench{uuid.uuid4().hex[:6]}"
    dagster_home = Path(tempfile.mkdtemp(prefix="synkro-bench-dagster-"))
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    os.environ["DATABASE_URL"] = with_database(server, name)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    sandbox = None
    code = 1
    try:
        from sandbox.server import SandboxServer, free_port
        from synkro.controlplane import open_controlplane
        from synkro.demo import configure_tenant
        from synkro.orchestration import dagster_home as ensure_dagster_home
        from synkro.windows import last_closed_business_day

        ensure_dagster_home()
        t0 = time.monotonic()
        sandbox = SandboxServer(seed=42, scenario=options.scenario, port=free_port()).start()
        print(f"sandbox ({options.scenario}) up in {time.monotonic() - t0:.1f} s")
        cp = open_controlplane()
        configure_tenant(cp, sandbox.info(), slug)
        if options.gemini_rpm:
            cp.settings.update_settings(slug, gemini_rpm=options.gemini_rpm)
        tenant = cp.tenants.get(slug)
        window = last_closed_business_day(datetime.now(UTC), tenant.timezone, "22:01")
        rpm = cp.settings.get_settings(slug).gemini_rpm
        span = f"{window.start:%Y-%m-%d %H:%M} → {window.end:%Y-%m-%d %H:%M} UTC"
        print(f"tenant {slug}, Gemini {rpm} RPM, window {span}")
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        results = []
        for index in range(1, options.runs + 1):
            result = one_run(slug, window)
            results.append(result)
            print_run(index, result)
        print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        code = 0 if all(r["code"] == 0 for r in results) else 1
    finally:
        if sandbox is not None:
            sandbox.stop()
        from synkro.modeling.dbt_state import tenant_dbt_dir

        shutil.rmtree(tenant_dbt_dir(slug), ignore_errors=True)
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')
        shutil.rmtree(dagster_home, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
