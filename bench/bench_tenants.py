"""N tenants whose daily report is due in the same minute, run by the daemon: the schedule at scale.

    .venv/bin/python bench/bench_tenants.py                  # 20 tenants on the `small` scenario
    .venv/bin/python bench/bench_tenants.py --tenants 3      # a quick check

Why: at the evening run time every tenant's report falls due at once, and what an operator needs
to know is how the one installation copes: how long until the last tenant has its report, how
many runs the queue lets run together (`max_concurrent_runs` in dagster.yaml, one per tenant),
what one more tenant costs, how much memory the whole installation takes at its peak, and that
nobody gets the report twice.

The path is the product's, untouched: N tenants configured as `synkro demo` does (real sandbox
credentials, amoCRM connected by OAuth code), each with its own Telegram chat, created two days
ago and with `forced_lookback_days=1`, so yesterday's report is due for all of them; their
partitions exist, as they do for any tenant that has been around for a day. Then `services.up()`
starts the code server and the daemon, whose `daily_report_sensor` requests the N runs on its
first tick; the queue, the run launcher and the run workers do the rest. The bench only watches,
every `--poll` seconds: runs in flight (STARTING/STARTED), the job_runs rows, and the memory of
the installation's processes. It prints:

- wall time from `services.up()` until every tenant's scheduled row is final, and when the first
  row and the first queued run appeared (daemon start-up + the sensor's tick);
- runs in flight at most: polled, and exactly from the runs' RUN_STARTING → end event times;
- per tenant: wall / N (the marginal cost of a tenant at this scale) and the distribution of
  each run's own duration (RUN_STARTING → end), queue wait and launch → first step;
- peak memory: the sum over the code server (with its run workers and their dbt processes), the
  daemon and the embedded Postgres (postmaster and backends; left out when DATABASE_URL points at
  a server of its own), as RSS (shared pages counted in every process, as `ps` adds up) and as
  PSS (shared pages split between the processes sharing them: what the machine really spends);
  the sandbox and this bench process are not part of the installation;
- duplicated deliveries: for each tenant the sandbox's Telegram messages in its chat must be
  exactly the message ids of its one report (`reports.delivery`); the count of extra messages is
  printed and the bench exits 1 if there is any (also if a run failed or a report is missing).

Everything is throwaway (database, DAGSTER_HOME, services, the tenants' dbt and dlt state). The
Gemini limit of each tenant is raised to `--gemini-rpm` (default 1000), as in
bench_forced_report, so the analysis step does not wait on its budget. The machine's load skews
the figures; the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._shared import (  # noqa: E402
    RUN_ENDS,
    bench_tenant,
    control_url,
    load_average,
    run_events,
    running_sandbox,
    throwaway_installation,
)
from tests.e2e_helpers import new_private_chat  # noqa: E402

JOB = "forced_report"
FINAL = ("succeeded", "failed", "cancelled", "skipped")


@dataclass
class Memory:
    """Peak of the installation's memory, sampled: total and what each part had at that moment."""

    peak_rss: int = 0
    peak_pss: int = 0
    at_peak: dict[str, int] = field(default_factory=dict)  # part → RSS bytes at the RSS peak
    workers_at_peak: int = 0
    most_workers: int = 0
    samples: int = 0

    def sample(self, roots: dict[str, int]) -> None:
        import psutil

        by_part: dict[str, int] = {}
        pss = 0
        workers = 0
        for part, pid in roots.items():
            try:
                root = psutil.Process(pid)
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for proc in procs:
                try:
                    info = proc.memory_full_info()
                    # A run worker: the code server's multiprocessing child (not its resource tracker).
                    if part == "code server" and proc.ppid() == pid and "spawn_main" in str(proc.cmdline()):
                        workers += 1
                except psutil.Error:
                    continue
                by_part[part] = by_part.get(part, 0) + info.rss
                pss += getattr(info, "pss", 0)
        total = sum(by_part.values())
        self.samples += 1
        self.most_workers = max(self.most_workers, workers)
        self.peak_pss = max(self.peak_pss, pss)
        if total > self.peak_rss:
            self.peak_rss, self.at_peak, self.workers_at_peak = total, by_part, workers


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def installation_roots(running) -> dict[str, int]:
    """The processes whose trees make the installation: services, and our embedded Postgres."""
    import os
    from urllib.parse import urlsplit

    from synkro.db import embedded

    roots = {"code server": running.running["code_server"].pid, "daemon": running.running["daemon"].pid}
    status = embedded.status()
    if status.running and status.pid and urlsplit(os.environ["DATABASE_URL"]).port == status.port:
        roots["postgres"] = status.pid
    return roots


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (
        f"min {ordered[0]:.1f}  median {statistics.median(ordered):.1f}  p90 {p90:.1f}  "
        f"max {ordered[-1]:.1f} s"
    )


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals overlapping at one instant."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    now = best = 0
    for _, step in edges:
        now += step
        best = max(best, now)
    return best


def make_tenants(cp, instance, info: dict, count: int, gemini_rpm: int) -> dict[str, dict]:
    """`count` tenants due for yesterday's report now; returns slug → its chat and expected keys."""
    from synkro.orchestration.launch import ensure_partition
    from synkro.schedule import due_windows, scheduled_key

    now = datetime.now(UTC)
    created = now - timedelta(days=2)
    tenants: dict[str, dict] = {}
    for index in range(count):
        slug = f"t{index:02d}{uuid.uuid4().hex[:5]}"
        chat_id = new_private_chat(control_url(info))
        bench_tenant(cp, info, slug, gemini_rpm=gemini_rpm, chat_id=chat_id)
        cp.settings.update_settings(slug, forced_lookback_days=1)
        with cp.engine.begin() as conn:  # the tenant has been around for two days
            conn.exec_driver_sql("update synkro.tenants set created_at = %s where slug = %s", (created, slug))
        ensure_partition(instance, slug)
        tenant = cp.tenants.get(slug)
        settings = cp.settings.get_settings(slug)
        windows = due_windows(
            timezone=tenant.timezone,
            day_boundary=settings.day_boundary,
            run_time=settings.run_time,
            lookback_days=settings.forced_lookback_days,
            tenant_created_at=tenant.created_at,
            now=now,
        )
        tenants[slug] = {"chat_id": chat_id, "keys": {scheduled_key(slug, w) for w in windows}}
    return tenants


def prepare_pools(instance) -> list[str]:
    """Create the job's pools' concurrency rows at their default limit, exactly as the first step
    that claims a pool does. An installation that has run once has them; on a fresh instance the
    first runs race to create them (see `--fresh-pools`)."""
    from synkro_dagster.definitions import defs

    job = defs.resolve_job_def(JOB)
    pools = sorted({n.definition.pool for n in job.graph.node_dict.values() if n.definition.pool})
    for pool in pools:
        instance.event_log_storage.initialize_concurrency_limit_to_default(pool)
    return pools


def sensor_stopped(instance, name: str) -> bool:
    """Whether the sensor's stored state says an operator stopped it (no state: its default, on)."""
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.scheduler.instigation import InstigatorStatus

    states = instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
    return any(s.name == name and s.status == InstigatorStatus.STOPPED for s in states)


@dataclass
class Seen:
    started: float  # epoch time of services.up()
    wall: float  # services up → every expected row final
    first_row: float  # services up → the first scheduled row
    most_polled: int  # runs STARTING/STARTED at once, at most, as polled
    memory: Memory
    rows: dict[str, Any]  # idempotency key → job_runs row


def watch_until_done(cp, instance, tenants: dict[str, dict], roots, options, t0: float) -> Seen:
    """Poll until every expected scheduled row is final (or the timeout); the polled figures.

    `t0` is the epoch time the services were started (Dagster's event times are epoch times)."""
    import dagster as dg

    in_flight = dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED])
    expected = {key for t in tenants.values() for key in t["keys"]}
    memory = Memory()
    most = 0
    first_row = None
    rows: dict[str, Any] = {}
    deadline = t0 + options.timeout
    last_said = 0.0
    while True:
        now = time.time()
        most = max(most, len(instance.get_runs(filters=in_flight)))
        memory.sample(roots)
        rows = {r.idempotency_key: r for r in cp.jobs.list_runs(job=JOB, limit=10 * len(expected) + 50)}
        if first_row is None and rows:
            first_row = now - t0
        done = [k for k in expected if k in rows and rows[k].status in FINAL]
        if len(done) == len(expected):
            return Seen(t0, now - t0, first_row or 0.0, most, memory, rows)
        if now - last_said >= 30:
            last_said = now
            print(
                f"  +{now - t0:5.0f} s: {len(done)}/{len(expected)} final, {len(rows)} rows, "
                f"in flight now {len(instance.get_runs(filters=in_flight))}, most {most}, "
                f"installation {mib(memory.peak_rss)} RSS at most",
                flush=True,
            )
        if now > deadline:
            raise TimeoutError(
                f"{len(done)}/{len(expected)} scheduled rows final after {options.timeout:.0f} s; "
                f"open: {sorted(k for k in expected if k not in done)[:5]}"
            )
        if first_row is None and now - t0 > options.sensor_wait:
            raise RuntimeError(
                f"no scheduled row {options.sensor_wait:.0f} s after the services started: is "
                "daily_report_sensor running? see $DAGSTER_HOME/services/daemon.log"
            )
        time.sleep(options.poll)


def deliveries(cp, info: dict, tenants: dict[str, dict]) -> tuple[int, list[str]]:
    """Extra Telegram messages beyond one report per tenant, and what is wrong per tenant."""
    duplicates = 0
    problems: list[str] = []
    for slug, tenant in tenants.items():
        response = httpx.get(
            f"{control_url(info)}/telegram/messages", params={"chat_id": str(tenant["chat_id"])}, timeout=10
        )
        response.raise_for_status()
        got = [m["message_id"] for m in response.json()["messages"]]
        reports = [r for r in cp.reports.list_reports(slug) if r.status == "sent"]
        if len(reports) != len(tenant["keys"]):
            problems.append(f"{slug}: {len(reports)} sent reports for {len(tenant['keys'])} due days")
        want = [mid for r in reports for mid in r.delivery.get("message_ids", [])]
        if sorted(got) != sorted(want):
            extra = max(0, len(got) - len(want))
            duplicates += extra
            problems.append(f"{slug}: chat has {len(got)} messages, its report {len(want)} ({extra} extra)")
    return duplicates, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=20, help="tenants due in the same minute")
    parser.add_argument("--scenario", default="small", help="sandbox scenario: small, medium or large")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds until all rows must be final")
    parser.add_argument("--gemini-rpm", type=int, default=1000, help="each tenant's Gemini RPM; 0 = default")
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between samples")
    parser.add_argument(
        "--fresh-pools",
        action="store_true",
        help="leave the Dagster pools uncreated, as on a fresh instance (the runs race to create them)",
    )
    parser.add_argument("--sensor-wait", type=float, default=240, help=argparse.SUPPRESS)
    options = parser.parse_args()

    with running_sandbox(options.scenario) as info, throwaway_installation() as installation:
        return bench(options, info, installation)


def bench(options, info: dict, installation) -> int:
    from synkro.controlplane import open_controlplane
    from synkro.orchestration import services
    from synkro.orchestration.instance import open_instance

    cp = open_controlplane()
    instance = open_instance()
    t0 = time.monotonic()
    tenants = make_tenants(cp, instance, info, options.tenants, options.gemini_rpm)
    installation.slugs.extend(tenants)
    due = sum(len(t["keys"]) for t in tenants.values())
    print(f"{len(tenants)} tenants configured in {time.monotonic() - t0:.1f} s; {due} scheduled reports due")
    queue = instance.get_concurrency_config().run_queue_config
    print(f"run queue: {queue.max_concurrent_runs} runs at once, one per tenant")
    if options.fresh_pools:
        print("pools: none yet (a fresh instance: the runs create them as they first claim them)")
    else:
        print(f"pools: {', '.join(prepare_pools(instance))} (as after the installation's first run)")
    print(f"load average before: {load_average()}")
    t0 = time.time()
    running = services.up()
    print(f"services up in {time.time() - t0:.1f} s (code server ready; the daemon starts its sensors)")
    if sensor_stopped(instance, "daily_report_sensor"):
        print("daily_report_sensor is stopped in this instance: nothing would be scheduled")
        return 1
    roots = installation_roots(running)
    try:
        seen = watch_until_done(cp, instance, tenants, roots, options, t0)
    except (TimeoutError, RuntimeError) as exc:
        installation.failed = True
        print(f"error: {exc}")
        print_state(cp, instance)
        print(f"load average after: {load_average()}")
        return 1
    print(f"load average after: {load_average()}")
    code = report(cp, instance, info, tenants, seen, options)
    installation.failed = code != 0
    return code


def print_state(cp, instance) -> None:
    """Where every scheduled row and Dagster run is, for a bench that did not finish."""
    import dagster as dg

    rows = cp.jobs.list_runs(job=JOB, limit=1000)
    print(f"  job_runs: {sorted((r.status, r.tenant, r.dagster_run_id) for r in rows)}")
    runs = instance.get_runs(filters=dg.RunsFilter())
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.status.value] = counts.get(run.status.value, 0) + 1
    print(f"  Dagster runs: {counts}")


TIMELINE = ("RUN_ENQUEUED", "RUN_STARTING", "WORKER_UP", "RUN_START", "STEP_START")


def print_timeline(timeline: list[tuple[str, str, dict[str, float]]], started: float) -> None:
    """Per Dagster run, each milestone and its end in seconds after services up, by launch order."""
    names = ("queued", "starting", "worker up", "run start", "1st step", "end", "status")
    print("\n  " + f"{'tenant':<10} {'run':<9}" + "".join(f"{name:>10}" for name in names))
    for tenant, run_id, first in sorted(timeline, key=lambda t: t[2].get("RUN_STARTING", float("inf"))):
        ended = min(((first[k], k) for k in RUN_ENDS if k in first), default=None)
        cells = [f"{first[k] - started:10.1f}" if k in first else f"{'-':>10}" for k in TIMELINE]
        cells.append(f"{ended[0] - started:10.1f}" if ended else f"{'-':>10}")
        cells.append(f"{ended[1].removeprefix('RUN_').lower() if ended else 'open':>10}")
        print(f"  {tenant:<10} {run_id:<9}" + "".join(cells))


def line(label: str, value: str, note: str = "") -> None:
    print(f"  {label:<24} {value:>10}   {note}".rstrip())


def report(cp, instance, info: dict, tenants: dict[str, dict], seen: Seen, options) -> int:
    import dagster as dg

    from synkro.orchestration import tags

    rows = [seen.rows[key] for t in tenants.values() for key in t["keys"]]
    timeline: list[tuple[str, str, dict[str, float]]] = []
    intervals: list[tuple[float, float]] = []
    own: list[float] = []
    waits: list[float] = []
    to_step: list[float] = []
    dagster_runs = 0
    for row in rows:
        for run in instance.get_runs(filters=dg.RunsFilter(tags={tags.JOB_RUN_ID: str(row.id)})):
            dagster_runs += 1
            events = run_events(instance, run.run_id)
            timeline.append((row.tenant, run.run_id[:8], events.first))
            queued = events.first.get("RUN_ENQUEUED")
            if events.started and events.ended:
                intervals.append((events.started, events.ended))
                own.append(events.ended - events.started)
            if queued and events.started:
                waits.append(events.started - queued)
            if queued and "STEP_START" in events.first:
                to_step.append(events.first["STEP_START"] - queued)
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row.status] = statuses.get(row.status, 0) + 1
    n = len(tenants)
    memory = seen.memory
    print_timeline(timeline, seen.started)
    print(f"\n{n} tenants on `{options.scenario}`, {len(rows)} scheduled runs ({dagster_runs} Dagster runs)")
    line("rows", ", ".join(f"{count} {status}" for status, count in sorted(statuses.items())))
    line("wall time", f"{seen.wall:.1f} s", "services up → every scheduled row final")
    line("first scheduled row", f"{seen.first_row:.1f} s", "after services up: daemon start + sensor tick")
    if intervals:
        line("first start → last end", f"{max(e for _, e in intervals) - min(s for s, _ in intervals):.1f} s")
    line("runs in flight at most", str(seen.most_polled), f"polled every {options.poll} s")
    line("", str(most_at_once(intervals)), "from the runs' RUN_STARTING → end event times")
    line("per tenant (wall / N)", f"{seen.wall / n:.1f} s")
    line("run's own duration", "", f"{spread(own)}  (RUN_STARTING → end)")
    line("queue wait", "", f"{spread(waits)}  (RUN_ENQUEUED → RUN_STARTING)")
    line("queued → first step", "", spread(to_step))
    parts = ", ".join(f"{part} {mib(size)}" for part, size in memory.at_peak.items())
    line("peak memory, RSS sum", mib(memory.peak_rss), f"{parts}; {memory.workers_at_peak} run workers")
    line("peak memory, PSS sum", mib(memory.peak_pss), f"{memory.most_workers} run worker processes at most")
    print("    (a worker whose run has ended may still be exiting while the next one starts)")
    duplicates, problems = deliveries(cp, info, tenants)
    line("duplicated deliveries", str(duplicates), "Telegram messages beyond one report per tenant")
    for problem in problems:
        print(f"    {problem}")
    failed = [r for r in rows if r.status != "succeeded"]
    for row in failed:
        print(f"    row {row.id} {row.tenant} {row.status}: {row.error}")
    return 1 if duplicates or problems or failed else 0


if __name__ == "__main__":
    sys.exit(main())
