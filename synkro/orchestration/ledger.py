"""The run ledger: the one owner of `synkro.job_runs` / `job_run_events`.

Why a ledger of our own beside Dagster's run storage (and not a view over it): a *job run* is
what a tenant asked for — "the report of 1 December" — and one of them can take several Dagster
runs (the report-only fallback after a failed load shares the row; a retried scheduled day gets a
new row with the next attempt number). The portal and `synkro runs` read it per tenant, from the
control plane, without access to Dagster's storage; its events are the tenant-facing step lines
(`amocrm loaded 256 rows`), scrubbed of secrets, which the same call also logs into Dagster's event
log so the UI shows the very same lines.

Every writer goes through this module: the launcher opens a row (`open`), each asset step reports
through `step_*` (via the code location's thin adapter), and a Dagster run that ended is closed by
`close_dagster_run` — called by the run-status sensors for every launcher and, so a CLI user need
not wait for the daemon's next tick, by the CLI follower. Closing is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from synkro.controlplane import ControlPlane, DuplicateRunError
from synkro.controlplane.jobs import FINAL_STATUSES, SUCCEEDED_STATUSES, JobRun, JobRunEvent
from synkro.orchestration import tags

# Step order of the full chain; progress is the share of steps started.
STEPS = ["amocrm", "radist", "dbt_core", "analysis", "dbt_reporting", "report", "telegram"]
# Dagster step keys before the report chain: when only these failed, a report-only run still
# sends the owner the report built from the data there is, naming the failed step.
UPSTREAM_STEPS = {"amocrm_raw", "radist_raw", "dbt_core"}
FORCED_REPORT_JOB = "forced_report"
# What a step indicator shows (the portal's run page, and whoever else draws the chain).
STEP_STATUSES = ("waiting", "running", "done", "failed", "skipped")


def needs_fallback_report(failed_steps: Iterable[str | None]) -> bool:
    """Only failures before the report chain call for a fallback (a failed delivery does not)."""
    steps = {s for s in failed_steps if s}
    return bool(steps) and steps <= UPSTREAM_STEPS


class RunLedger:
    def __init__(self, cp: ControlPlane) -> None:
        self.cp = cp
        self.jobs = cp.jobs

    # -- opening -------------------------------------------------------------------------------

    def open(
        self,
        slug: str,
        job: str,
        trigger: str,
        key: str,
        *,
        window: Any = None,
        attempt: int = 1,
        launched_by: str = "cli",
    ) -> JobRun:
        """A queued row for a run about to be submitted (DuplicateRunError when the key exists)."""
        return self.jobs.create_run(
            slug,
            job,
            trigger,
            key,
            window_start=window.start if window else None,
            window_end=window.end if window else None,
            attempt=attempt,
            details={"launched_by": launched_by},
        )

    def bind(self, job_run_id: int, dagster_run_id: str) -> JobRun:
        return self.jobs.update_run(job_run_id, dagster_run_id=dagster_run_id)

    def row_for(self, run_id: str, job_name: str, run_tags: dict[str, str]) -> JobRun:
        """The row of a Dagster run: the one its launcher opened, else one made for it now.

        A run launched from the Dagster UI carries no row id, so its row is keyed by the Dagster
        run id; it is made the first time any step (or the closing sensor) sees the run.
        """
        explicit = run_tags.get(tags.JOB_RUN_ID)
        if explicit:
            return self.jobs.get_run(int(explicit))
        key = f"dagster:{run_id}"
        existing = self.jobs.find_run(key)
        if existing is not None:
            return existing
        slug = run_tags.get(tags.TENANT) or run_tags.get(tags.PARTITION)
        if not slug:
            raise ValueError(f"Dagster run {run_id} has no tenant partition")
        try:
            return self.jobs.create_run(
                slug,
                job_name,
                run_tags.get(tags.TRIGGER, "manual"),
                key,
                window_start=tags.parse_time(run_tags.get(tags.WINDOW_START)),
                window_end=tags.parse_time(run_tags.get(tags.WINDOW_END)),
                dagster_run_id=run_id,
                details={"launched_by": run_tags.get(tags.LAUNCHED_BY, "ui")},
            )
        except DuplicateRunError as exc:
            return exc.existing

    # -- steps ---------------------------------------------------------------------------------

    def step_started(
        self, job_run_id: int, step: str, dagster_run_id: str | None = None, attempt: int = 1
    ) -> str:
        """Mark the step running; returns the line recorded (`analysis started (attempt 2)`)."""
        index = STEPS.index(step) if step in STEPS else 0
        self.jobs.update_run(
            job_run_id,
            status="running",
            step=step,
            progress=round(index / len(STEPS), 3),
            dagster_run_id=dagster_run_id,
        )
        line = f"{step} started" + (f" (attempt {attempt})" if attempt > 1 else "")
        self.jobs.add_event(job_run_id, line, step=step)
        return line

    def step_done(
        self,
        job_run_id: int,
        step: str,
        message: str,
        data: dict[str, Any] | None = None,
        level: str = "info",
    ) -> None:
        self.record_step(job_run_id, step, "ok" if level != "error" else message)
        self.jobs.add_event(job_run_id, message, step=step, level=level, data=data or {})

    def step_note(self, job_run_id: int, step: str, message: str, level: str = "warning") -> None:
        """A line about the step that changes no state (a transient failure about to be retried)."""
        self.jobs.add_event(job_run_id, message, step=step, level=level, data={"note": True})

    def step_failed(self, job_run_id: int, step: str, text: str) -> None:
        self.record_step(job_run_id, step, text)
        self.jobs.add_event(job_run_id, f"{step} failed: {text}", step=step, level="error")
        # The step leads the error so `synkro runs` shows which step failed, even after later steps ran.
        self.jobs.update_run(job_run_id, step=step, error=f"{step}: {text}")

    def step_warning(self, job_run_id: int, step: str, text: str) -> None:
        """The step stopped short without failing the chain (the analysis on an invalid key, a
        quota or the budget: the report still goes out, without scores). The run then ends
        `succeeded_with_warnings` naming the step, not a plain success."""
        self.record_step(job_run_id, step, text)
        self.jobs.add_event(job_run_id, f"{step} stopped: {text}", step=step, level="warning")
        warnings = [w for w in self.warnings(job_run_id) if not w.startswith(f"{step}: ")]
        self.jobs.update_run(job_run_id, details={"warnings": [*warnings, f"{step}: {text}"]})

    def warnings(self, job_run_id: int) -> list[str]:
        """The `step: reason` lines of the steps that stopped short in this run (latest per step)."""
        return list(self.jobs.get_run(job_run_id).details.get("warnings", []))

    def record_step(self, job_run_id: int, step: str, state: str) -> None:
        steps = self.step_states(job_run_id)
        steps[step] = state
        self.jobs.update_run(job_run_id, details={"steps": steps})

    def step_states(self, job_run_id: int) -> dict[str, str]:
        return dict(self.jobs.get_run(job_run_id).details.get("steps", {}))

    def set_window(self, job_run_id: int, window: Any) -> None:
        """Record the report window (runs launched from the UI carry none in their tags)."""
        if self.jobs.get_run(job_run_id).window_start is None:
            self.jobs.update_run(job_run_id, window_start=window.start, window_end=window.end)

    # -- closing -------------------------------------------------------------------------------

    def failed_to_start(self, job_run_id: int, error: str) -> JobRun:
        self.jobs.add_event(job_run_id, f"run could not start: {error}", level="error")
        return self.jobs.finish_run(job_run_id, "failed", error=error)

    def close_dagster_run(
        self,
        run_id: str,
        job_name: str,
        run_tags: dict[str, str],
        outcome: str,
        *,
        failed_steps: Iterable[str | None] = (),
        failure: str | None = None,
    ) -> JobRun:
        """Record how a Dagster run ended: `outcome` is succeeded, failed or cancelled.

        A succeeded run in which a step stopped short (`step_warning`) ends
        `succeeded_with_warnings`, its error naming the step and the reason.

        A forced report whose only failures were loads or dbt stays open: the report-only run
        (requested by the failure sensor under the same rule) is still to come, and the row closes
        when that one ends — failed, because a step of the run did fail.
        """
        row = self.row_for(run_id, job_name, run_tags)
        if row.status in FINAL_STATUSES:
            return row
        is_fallback = run_tags.get(tags.FALLBACK) == "true"
        fallback_due = outcome == "failed" and not is_fallback and job_name == FORCED_REPORT_JOB
        if fallback_due and needs_fallback_report(failed_steps):
            if row.details.get("fallback_for") != run_id:
                self.jobs.update_run(row.id, step="fallback", details={"fallback_for": run_id})
                note = "an upstream step failed: sending the report from the data there is"
                self.jobs.add_event(row.id, note)
            return self.jobs.get_run(row.id)
        if outcome == "succeeded" and is_fallback:
            # The report went out after an upstream failure: the run as a whole still failed.
            outcome, failure = "failed", row.error or "an upstream step failed"
        if outcome == "cancelled":
            self.jobs.add_event(row.id, "run stopped", level="warning")
            return self.jobs.finish_run(row.id, "cancelled", error="stopped by operator")
        if outcome == "failed":
            error = row.error or failure or "run failed"
            if not row.error:
                self.jobs.add_event(row.id, f"run failed: {error}", level="error")
            return self.jobs.finish_run(row.id, "failed", error=error)
        warnings = row.details.get("warnings") or []
        if warnings:
            note = "run succeeded with warnings: " + "; ".join(warnings)
            self.jobs.add_event(row.id, note, level="warning")
            return self.jobs.finish_run(row.id, "succeeded_with_warnings", error="; ".join(warnings))
        return self.jobs.finish_run(row.id, "succeeded")


@dataclass(frozen=True)
class StepProgress:
    step: str
    status: str  # one of STEP_STATUSES
    summary: str | None  # the step's latest line (`amocrm loaded 256 rows`), None before it starts


def step_progress(row: JobRun, events: Iterable[JobRunEvent]) -> list[StepProgress]:
    """Each step of the chain, in order, as the row's events tell it.

    A step runs from its `started` line; its done line ends it (`done`, or `skipped` when it says
    so), an error line fails it, a note changes nothing. Once the row is final, a step that never
    started was skipped (not part of the run, or downstream of a failure) and one left running
    ended with the run.
    """
    status = dict.fromkeys(STEPS, "waiting")
    summary: dict[str, str | None] = dict.fromkeys(STEPS)
    for event in events:
        step = event.step
        if step not in status:
            continue
        summary[step] = event.message
        if event.data.get("note"):
            continue
        if event.message == f"{step} started" or event.message.startswith(f"{step} started ("):
            status[step] = "running"
        elif event.level == "error":
            status[step] = "failed"
        elif event.message.startswith(f"{step} skipped"):
            status[step] = "skipped"
        else:
            status[step] = "done"
    if row.status in FINAL_STATUSES:
        for step, state in status.items():
            if state == "waiting":
                status[step] = "skipped"
            elif state == "running":
                status[step] = "done" if row.status in SUCCEEDED_STATUSES else "failed"
    return [StepProgress(step, status[step], summary[step]) for step in STEPS]


def close_from_dagster(ledger: RunLedger, instance: Any, run: Any) -> JobRun | None:
    """Close the row of a finished Dagster run from what Dagster recorded (steps that failed,
    the failure message); None while the run has not finished or belongs to no tenant."""
    import dagster as dg

    outcomes = {
        dg.DagsterRunStatus.SUCCESS: "succeeded",
        dg.DagsterRunStatus.FAILURE: "failed",
        dg.DagsterRunStatus.CANCELED: "cancelled",
    }
    if run.status not in outcomes:
        return None
    if not (run.tags.get(tags.TENANT) or run.tags.get(tags.PARTITION)):
        return None
    failed_steps: set[str | None] = set()
    failure = None
    if run.status == dg.DagsterRunStatus.FAILURE:
        for record in instance.get_records_for_run(
            run.run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
        ).records:
            entry = record.event_log_entry
            if entry.dagster_event and entry.dagster_event.event_type == dg.DagsterEventType.STEP_FAILURE:
                failed_steps.add(entry.step_key)
                failure = failure or entry.dagster_event.message or entry.user_message
            else:
                failure = failure or entry.user_message
    return ledger.close_dagster_run(
        run.run_id,
        run.job_name,
        dict(run.tags),
        outcomes[run.status],
        failed_steps=failed_steps,
        failure=failure,
    )
