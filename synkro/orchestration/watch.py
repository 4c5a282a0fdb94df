"""Watching a job run to its end: what `synkro run` prints and what the portal will stream.

Why one watcher: the CLI follower, tests, benches and (later) the portal's live page all need
the same loop — new step lines from the ledger, the Dagster runs behind the row (the run, then
perhaps its report-only fallback), closing the row as soon as a Dagster run is seen to end
(instead of waiting for the daemon's sensor tick), and noticing a row that nothing will close.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from synkro.controlplane import ControlPlane
from synkro.controlplane.jobs import FINAL_STATUSES, JobRun, JobRunEvent
from synkro.failures import is_transient
from synkro.orchestration import tags
from synkro.orchestration.ledger import RunLedger, close_from_dagster

# A row left open for the report-only run that no Dagster run has picked up for this long means
# the daemon is not running its sensors.
FALLBACK_WAIT_S = 120.0
# How long the watcher rides out a database it cannot reach (a Postgres restart) before giving up.
OUTAGE_S = 120.0


@dataclass
class RunUpdate:
    row: JobRun
    events: list[JobRunEvent] = field(default_factory=list)  # new since the last update
    queued: bool = False  # a Dagster run of the row waits in the queue
    stalled: bool = False  # the row is open but no Dagster run is left to close it

    @property
    def finished(self) -> bool:
        return self.row.status in FINAL_STATUSES


def watch(cp: ControlPlane, instance: Any, job_run_id: int, poll_s: float = 0.3) -> Iterator[RunUpdate]:
    """Yield an update per poll until the row is final (or stalled); the last one says which."""
    import dagster as dg

    ledger = RunLedger(cp)
    seen = 0
    idle_since: float | None = None
    outage_since: float | None = None
    closed: set[str] = set()  # Dagster runs whose end the ledger has recorded
    while True:
        try:
            runs = instance.get_runs(filters=dg.RunsFilter(tags={tags.JOB_RUN_ID: str(job_run_id)}))
            for run in runs:
                if run.is_finished and run.run_id not in closed:
                    close_from_dagster(ledger, instance, run)
                    closed.add(run.run_id)
            events = cp.jobs.list_events(job_run_id)
            row = cp.jobs.get_run(job_run_id)
        except Exception as exc:
            # The run itself rides out a lost database (its steps retry); so does its watcher.
            if not is_transient(exc):
                raise
            outage_since = outage_since or time.monotonic()
            if time.monotonic() - outage_since > OUTAGE_S:
                raise
            time.sleep(1.0)
            continue
        outage_since = None
        update = RunUpdate(
            row, events[seen:], queued=any(r.status == dg.DagsterRunStatus.QUEUED for r in runs)
        )
        seen = len(events)
        if not update.finished and runs and all(r.is_finished for r in runs):
            idle_since = idle_since or time.monotonic()
            update.stalled = time.monotonic() - idle_since > FALLBACK_WAIT_S
        else:
            idle_since = None
        yield update
        if update.finished or update.stalled:
            return
        time.sleep(poll_s)


def wait_for_run(cp: ControlPlane, instance: Any, job_run_id: int, timeout_s: float = 900) -> JobRun:
    """Block until the row is final; TimeoutError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    for update in watch(cp, instance, job_run_id):
        if update.finished or update.stalled:
            return update.row
        if time.monotonic() > deadline:
            break
    raise TimeoutError(f"job run {job_run_id} did not finish in {timeout_s:.0f} s")
