"""When loading or dbt fails, the owner still gets a report that says so.

The system Synkro replaces reported stale data silently when a source failed. Here a failed load
or dbt step fails the run visibly, and then a second, report-only run (analysis on the data that
is there, reporting models, report, Telegram) sends the report with the failed step named: the
step states live on the job_runs row both runs share. The rule for *when* is the ledger's
(`needs_fallback_report`, which also keeps the row open); this module requests the run, for runs
of every launcher, from the run-failure sensor.
"""

from __future__ import annotations

import dagster as dg

from synkro.controlplane.jobs import FINAL_STATUSES, JobRun
from synkro.orchestration import tags

REPORT_CHAIN = [
    dg.AssetKey(["dialog_analyses"]),
    dg.AssetKey(["marts", "mart_manager_days"]),
    dg.AssetKey(["marts", "mart_manager_dialog_days"]),
    dg.AssetKey(["report", "daily_report"]),
    dg.AssetKey(["report", "telegram_delivery"]),
]


def fallback_request(run: dg.DagsterRun, row: JobRun | None) -> dg.RunRequest | None:
    """The report-only run for a failed run whose row the ledger kept open for it, else None."""
    if row is None or row.details.get("fallback_for") != run.run_id or row.status in FINAL_STATUSES:
        return None
    run_tags = {k: v for k, v in run.tags.items() if k.startswith("synkro/")}
    run_tags[tags.JOB_RUN_ID] = str(row.id)
    run_tags[tags.FALLBACK] = "true"
    run_tags[tags.PARTITION] = run.tags.get(tags.PARTITION) or row.tenant
    return dg.RunRequest(
        run_key=f"fallback:{run.run_id}",
        partition_key=run_tags[tags.PARTITION],
        asset_selection=REPORT_CHAIN,
        tags=run_tags,
    )
