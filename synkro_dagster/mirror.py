"""Each asset step's adapter to the run ledger (`synkro.orchestration.ledger`).

Why an adapter and not the ledger directly: a step knows its Dagster context. Every line a step
records for the tenant (`amocrm loaded 256 rows`) goes to the ledger's job_run_events *and* into
Dagster's event log, so `synkro run`, the portal and the Dagster UI show the same lines; and a
failure that Dagster will retry is recorded as a retry note, not as the step's final state.
"""

from __future__ import annotations

from typing import Any, NoReturn

import dagster as dg

from synkro.failures import is_transient
from synkro.orchestration import tags
from synkro.orchestration.ledger import RunLedger
from synkro.tenant_context import TenantContext
from synkro_dagster.retries import MAX_RETRIES, retry_or_fail_fast

LOG_LEVELS = ("error", "warning", "info", "debug")


class RunMirror:
    def __init__(self, context: dg.AssetExecutionContext, tctx: TenantContext, job_run_id: int) -> None:
        self.context = context
        self.tctx = tctx
        self.job_run_id = job_run_id
        self.ledger = RunLedger(tctx.cp)

    @classmethod
    def attach(cls, context: dg.AssetExecutionContext, tctx: TenantContext) -> RunMirror:
        run = context.run
        row = RunLedger(tctx.cp).row_for(run.run_id, run.job_name, dict(run.tags))
        return cls(context, tctx, row.id)

    def _log(self, message: str, level: str = "info") -> None:
        getattr(self.context.log, level if level in LOG_LEVELS else "info")(message)

    def set_window(self, window) -> None:
        self.ledger.set_window(self.job_run_id, window)

    def start(self, step: str) -> None:
        line = self.ledger.step_started(
            self.job_run_id,
            step,
            dagster_run_id=self.context.run.run_id,
            attempt=self.context.retry_number + 1,
        )
        self._log(line)

    def done(self, step: str, message: str, data: dict[str, Any] | None = None, level: str = "info") -> None:
        self.ledger.step_done(self.job_run_id, step, message, data, level)
        self._log(message, level)

    def failed(self, step: str, error: BaseException | str, *, will_retry: bool = False) -> None:
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        if will_retry:
            note = f"{step} failed on attempt {self.context.retry_number + 1}, retrying: {text}"
            self.ledger.step_note(self.job_run_id, step, note)
            self._log(note, "warning")
            return
        self.ledger.step_failed(self.job_run_id, step, text)
        self._log(f"{step} failed: {text}", "error")

    def warned(self, step: str, text: str) -> None:
        """The step stopped short but the chain goes on: the run will end succeeded_with_warnings.
        Dagster shows it too: the run gets the `synkro/warnings` tag naming the step."""
        self.ledger.step_warning(self.job_run_id, step, text)
        self._log(f"{step} stopped: {text}", "warning")
        steps = sorted({w.split(":", 1)[0] for w in self.ledger.warnings(self.job_run_id)})
        self.context.instance.add_run_tags(self.context.run.run_id, {tags.WARNINGS: ",".join(steps)})

    def fail(self, step: str, error: BaseException, text: str | None = None) -> NoReturn:
        """Record a failed attempt and hand the error to Dagster: a transient one (network, 5xx,
        Postgres connection lost) is retried with the policy's backoff, any other fails the step
        at once (synkro_dagster/retries.py)."""
        will_retry = is_transient(error) and self.context.retry_number < MAX_RETRIES
        try:
            self.failed(step, text or error, will_retry=will_retry)
        except Exception as unrecorded:  # e.g. the control plane is down too: still decide the retry
            self.context.log.warning(
                f"{step}: the failure could not be recorded ({type(unrecorded).__name__})"
            )
        retry_or_fail_fast(error, self.context.retry_number)

    def record_step(self, step: str, state: str) -> None:
        self.ledger.record_step(self.job_run_id, step, state)

    def step_states(self) -> dict[str, str]:
        return self.ledger.step_states(self.job_run_id)
