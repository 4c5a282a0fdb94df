"""End-to-end time of a forced report through the run queue, on the `medium` sandbox scenario.

    .venv/bin/python bench/bench_forced_report.py               # services start + one forced report
    .venv/bin/python bench/bench_forced_report.py --runs 2      # and another: the warm figures
    .venv/bin/python bench/bench_forced_report.py --scenario small
    .venv/bin/python bench/bench_forced_report.py --gemini-rpm 0       # the tenant default (10 RPM)

Why: `synkro run SLUG` is what an operator waits for, and the time hides in places a unit test
never sees (services start-up, the queue and the daemon, the run worker's import of the code
location, dbt start-up and parsing, Gemini calls). The bench takes the product's one run path,
exactly as the CLI does: `services.up()` starts the code server (`dagster api grpc`) and the
daemon, `start_run` opens the job_runs row and submits the run to the instance's queue, the daemon
dequeues it, the run launcher has the code server spawn a run worker, and `follow` waits for the
row to be final. It prints:

- how long `services.up()` took: the cold part, mostly the code server importing the code
  location (the daemon starts in the background; the first run's dequeue waits for it);
- per run, each milestone relative to the launch (the job_runs row's creation) and to the one
  before: `start_run` returned, RUN_ENQUEUED, RUN_DEQUEUED, RUN_STARTING, RUN_START, the first
  STEP_START (Dagster's event log), the first step line in job_run_events, the run's end, the row
  final — so the queue, daemon, launcher and worker-import costs are visible one by one;
- per step, from the control plane's job_run_events (step started → step's last event), and per
  Dagster step, STEP_START → STEP_SUCCESS/FAILURE;
- cold total = services start + the first run; warm total = the last run (`--runs 2` or more).

The tenant's Gemini limit is raised to `--gemini-rpm` (default 1000): at the default 10 RPM the
analysis step is budget / RPM by design (300 dialogs ≈ 30 min on `medium`), which would hide
every other figure. Its schedule is off, so the daemon's report sensor never queues a run of its
own in between.

Everything is throwaway: a new database on the same Postgres server (DATABASE_URL's or the
embedded one), a temporary DAGSTER_HOME with its own services, the tenant's dbt and dlt state;
all are stopped and removed at the end, also on failure. Load on the machine skews the figures,
so compare runs made under the same load (the load average is printed before and after).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._shared import (  # noqa: E402
    MILESTONES,
    RUN_ENDS,
    bench_tenant,
    load_average,
    run_events,
    running_sandbox,
    throwaway_installation,
)

GOALS = {"launch → first step": 3.0, "warm total": 12.0, "cold total": 40.0}  # seconds, on `medium`


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


def dagster_runs(instance, job_run_id: int) -> list:
    """The row's Dagster runs, oldest first: the run, then a report-only fallback if one ran."""
    import dagster as dg

    from synkro.orchestration import tags

    runs = instance.get_runs(filters=dg.RunsFilter(tags={tags.JOB_RUN_ID: str(job_run_id)}))
    return list(reversed(runs))  # get_runs is newest first


def one_run(cp, instance, slug: str, window) -> dict:
    from synkro.cli.pipeline import follow, start_run

    called = time.time()
    job_run_id = start_run(slug, "forced_report", window=window)
    returned = time.time()
    code = follow(job_run_id, quiet=True)
    total = time.time() - called
    run = cp.jobs.get_run(job_run_id)
    events = cp.jobs.list_events(job_run_id)
    launch = run.created_at.timestamp()
    runs = dagster_runs(instance, job_run_id)
    dagster = run_events(instance, runs[0].run_id) if runs else None
    marks: list[tuple[str, str, float]] = [("start_run returned", "", returned)]
    if dagster:
        marks += [(k, what, dagster.first[k]) for k, what in MILESTONES.items() if k in dagster.first]
    stepped = [e for e in events if e.step]
    if stepped:
        marks.append(("first step event", "job_run_events: the first step's line", stepped[0].at.timestamp()))
    if dagster and dagster.ended:
        end = next(k for k in RUN_ENDS if k in dagster.first)
        marks.append((end, "the run worker finished", dagster.ended))
    dagster_steps = dict(dagster.steps) if dagster else {}
    for fallback in runs[1:]:  # the report-only run the failure sensor requested
        later = run_events(instance, fallback.run_id)
        what = f"report-only run {fallback.run_id[:8]}"
        for kind, name in (("RUN_ENQUEUED", "fallback queued"), ("RUN_START", "fallback RUN_START")):
            if kind in later.first:
                marks.append((name, what, later.first[kind]))
        if later.ended:
            marks.append(("fallback end", what, later.ended))
        dagster_steps.update({f"{step} (fallback)": spans for step, spans in later.steps.items()})
    if run.finished_at:
        marks.append(("row final", "job_runs finished_at", run.finished_at.timestamp()))
    return {
        "code": code,
        "status": run.status,
        "error": run.error,
        "dagster_run_id": runs[0].run_id if runs else None,
        "dagster_runs": len(runs),
        "total": total,
        "start_run": returned - called,
        "before_launch": launch - called,
        "launch": launch,
        "marks": sorted(((name, what, at - launch) for name, what, at in marks), key=lambda m: m[2]),
        "to_first_step": (stepped[0].at.timestamp() - launch) if stepped else None,
        "steps": step_spans(events),
        "dagster_steps": dagster_steps,
        "planned": dagster.planned if dagster else 0,
    }


def print_run(index: int, result: dict) -> None:
    print(f"\nrun {index}: {result['status']} in {result['total']:.1f} s (exit {result['code']}), ", end="")
    fallback = " and a report-only fallback run" if result["dagster_runs"] > 1 else ""
    print(f"Dagster run {result['dagster_run_id']}{fallback}")
    if result["error"]:
        print(f"  error: {result['error']}")
    print(
        f"  start_run took {result['start_run']:.1f} s (services check {result['before_launch']:.1f} s, "
        "then the row, the code server's job snapshot and submit_run)"
    )
    print(f"  {'milestone':<20} {'after launch':>12} {'+ since last':>12}")
    previous = 0.0
    for name, what, offset in result["marks"]:
        if name == "PLANNED":
            what = f"{what} ({result['planned']} of them)"
        print(f"  {name:<20} {offset:10.1f} s {offset - previous:10.1f} s  {what}")
        previous = max(previous, offset)
    if not any(name == "RUN_DEQUEUED" for name, _, _ in result["marks"]):
        print("  (no RUN_DEQUEUED: Dagster 1.13 writes none; the daemon's dequeue is RUN_STARTING)")
    for step, seconds in result["steps"].items():
        print(f"  step {step:<28} {seconds:7.1f} s")
    for step, seconds in result["dagster_steps"].items():
        print(f"  dagster {step:<25} {seconds:7.1f} s")


def print_event_log(instance, dagster_run_id: str, launch: float) -> None:
    """The run's event log up to its first step (where launch → first step goes), from the launch;
    a run of events of one kind (the planned materializations create_run writes) is one line."""
    print("  event log to the first step:")
    rows: list[list] = []  # kind, first offset, last offset, count, message
    for record in instance.all_logs(dagster_run_id):
        kind = record.dagster_event.event_type.name if record.dagster_event else "LOG"
        if kind == "STEP_START":
            break
        offset = record.timestamp - launch
        if rows and rows[-1][0] == kind and kind.endswith("_PLANNED"):
            rows[-1][2:4] = [offset, rows[-1][3] + 1]
            continue
        rows.append([kind, offset, offset, 1, " ".join((record.message or "").split())[:70]])
    for kind, first, last, count, message in rows:
        span = f"{first:6.2f} s" if count == 1 else f"{first:6.2f} s to {last:.2f} s, {count} events"
        print(f"    {span:<28} {kind:<32} {message}")


def verdict(name: str, seconds: float | None, what: str) -> str:
    goal = GOALS[name]
    if seconds is None:
        return f"  {name:<22}       -     (goal ≤ {goal:.0f} s, {what}: needs --runs 2)"
    met = "met" if seconds <= goal else "not met"
    return f"  {name:<22} {seconds:7.1f} s   (goal ≤ {goal:.0f} s, {what}: {met})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="medium", help="sandbox scenario: small, medium or large")
    parser.add_argument("--runs", type=int, default=1, help="forced reports in a row (2nd+ are warm)")
    parser.add_argument("--gemini-rpm", type=int, default=1000, help="tenant's Gemini RPM; 0 = default")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds each run may take")
    parser.add_argument("--events", action="store_true", help="print each run's events to its first step")
    options = parser.parse_args()

    def timed_out(_signum, _frame):
        raise TimeoutError(f"a run took longer than --timeout {options.timeout:.0f} s")

    signal.signal(signal.SIGALRM, timed_out)
    slug = f"bench{uuid.uuid4().hex[:6]}"
    with running_sandbox(options.scenario) as info, throwaway_installation() as installation:
        installation.slugs.append(slug)
        return bench(options, info, installation)


def bench(options, info: dict, installation) -> int:
    from synkro.controlplane import open_controlplane
    from synkro.orchestration import services
    from synkro.orchestration.instance import open_instance
    from synkro.windows import last_closed_business_day

    (slug,) = installation.slugs
    cp = open_controlplane()
    bench_tenant(cp, info, slug, gemini_rpm=options.gemini_rpm)
    cp.settings.update_settings(slug, schedule_enabled=False)
    tenant = cp.tenants.get(slug)
    window = last_closed_business_day(datetime.now(UTC), tenant.timezone, "22:01")
    rpm = cp.settings.get_settings(slug).gemini_rpm
    span = f"{window.start:%Y-%m-%d %H:%M} → {window.end:%Y-%m-%d %H:%M} UTC"
    print(f"tenant {slug}, Gemini {rpm} RPM, window {span}")
    print(f"load average before: {load_average()}")
    t0 = time.monotonic()
    running = services.up()
    services_s = time.monotonic() - t0
    pids = ", ".join(f"{name} {s.pid}" for name, s in running.running.items())
    print(f"services up in {services_s:.1f} s (code server ready; daemon starting): {pids}")
    instance = open_instance()
    results = []
    for index in range(1, options.runs + 1):
        signal.alarm(int(options.timeout))
        try:
            result = one_run(cp, instance, slug, window)
        finally:
            signal.alarm(0)
        results.append(result)
        print_run(index, result)
        if options.events and result["dagster_run_id"]:
            print_event_log(instance, result["dagster_run_id"], result["launch"])
    print(f"\nload average after: {load_average()}")
    print(f"\n{options.scenario}, {len(results)} run(s):")
    print(f"  {'services start':<22} {services_s:7.1f} s   (code server ready)")
    firsts = [r["to_first_step"] for r in results]
    each = ", ".join(f"run {i} {'-' if s is None else f'{s:.1f} s'}" for i, s in enumerate(firsts, 1))
    print(f"  {'launch → first step':<22} {each}   (run 1 also waits for the daemon to start)")
    print(verdict("launch → first step", firsts[-1] if len(results) > 1 else None, "services up: run 2+"))
    print(verdict("cold total", services_s + results[0]["total"], "services start + run 1"))
    print(verdict("warm total", results[-1]["total"] if len(results) > 1 else None, "the last run"))
    installation.failed = any(r["code"] != 0 for r in results)
    return 1 if installation.failed else 0


if __name__ == "__main__":
    sys.exit(main())
