"""Mirror each Dagster run of a tenant into `synkro.job_runs` / `job_run_events`.

Why: `synkro runs SLUG` must show the history and the failing step without the Dagster UI, and
the report must say plainly which step failed. The launcher (CLI or schedule sensor) creates the
job_runs row and passes its id as a run tag; a run launched from the Dagster UI gets its row here,
keyed by the Dagster run id.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from synkro.controlplane import DuplicateRunError
from synkro.tenant_context import TenantContext
from synkro_dagster import tags

# Step order of the full chain; progress is the share of steps started.
STEPS = ["amocrm", "radist", "dbt_core", "analysis", "dbt_reporting", "report", "telegram"]


class RunMirror:
    def __init__(self, tctx: TenantContext, job_run_id: int) -> None:
        self.tctx = tctx
        self.job_run_id = job_run_id

    @classmethod
    def attach(cls, context: dg.AssetExecutionContext, tctx: TenantContext) -> RunMirror:
        run = context.run
        jobs = tctx.cp.jobs
        explicit = run.tags.get(tags.JOB_RUN_ID)
        if explicit:
            job_run_id = int(explicit)
        else:
            key = f"dagster:{run.run_id}"
            existing = jobs.find_run(key)
            if existing is None:
                try:
                    existing = jobs.create_run(
                        tctx.slug,
                        run.job_name,
                        run.tags.get(tags.TRIGGER, "manual"),
                        key,
                        window_start=tags.parse_time(run.tags.get(tags.WINDOW_START)),
                        window_end=tags.parse_time(run.tags.get(tags.WINDOW_END)),
                        dagster_run_id=run.run_id,
                    )
                except DuplicateRunError as exc:
                    existing = exc.existing
            job_run_id = existing.id
        jobs.update_run(job_run_id, dagster_run_id=run.run_id)
        return cls(tctx, job_run_id)

    def set_window(self, window) -> None:
        """Record the report window on the row (runs launched from the UI carry none in their tags)."""
        run = self.tctx.cp.jobs.get_run(self.job_run_id)
        if run.window_start is None:
            self.tctx.cp.jobs.update_run(self.job_run_id, window_start=window.start, window_end=window.end)

    def start(self, step: str) -> None:
        index = STEPS.index(step) if step in STEPS else 0
        self.tctx.cp.jobs.update_run(
            self.job_run_id, status="running", step=step, progress=round(index / len(STEPS), 3)
        )
        self.tctx.cp.jobs.add_event(self.job_run_id, f"{step} started", step=step)

    def done(self, step: str, message: str, data: dict[str, Any] | None = None, level: str = "info") -> None:
        self.record_step(step, "ok" if level != "error" else message)
        self.tctx.cp.jobs.add_event(self.job_run_id, message, step=step, level=level, data=data or {})

    def failed(self, step: str, error: BaseException | str) -> None:
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        self.record_step(step, text)
        self.tctx.cp.jobs.add_event(self.job_run_id, f"{step} failed: {text}", step=step, level="error")
        # The step leads the error so `synkro runs` shows which step failed, even after later steps ran.
        self.tctx.cp.jobs.update_run(self.job_run_id, step=step, error=f"{step}: {text}")

    def record_step(self, step: str, state: str) -> None:
        run = self.tctx.cp.jobs.get_run(self.job_run_id)
        steps = dict(run.details.get("steps", {}))
        steps[step] = state
        self.tctx.cp.jobs.update_run(self.job_run_id, details={"steps": steps})

    def step_states(self) -> dict[str, str]:
        return dict(self.tctx.cp.jobs.get_run(self.job_run_id).details.get("steps", {}))
