"""When loading or dbt fails, the owner still gets a report that says so.

The system Synkro replaces reported stale data silently when a source failed. Here a failed load
or dbt step fails the run visibly, and then a second, report-only run (analysis on the data that
is there, reporting models, report, Telegram) sends the report with the failed step named: the
step states live on the job_runs row both runs share.
"""

import dagster as dg

FALLBACK_TAG = "synkro/fallback"
UPSTREAM_STEPS = {"amocrm_raw", "radist_raw", "dbt_core"}
REPORT_CHAIN = [
    dg.AssetKey(["dialog_analyses"]),
    dg.AssetKey(["marts", "mart_manager_days"]),
    dg.AssetKey(["report", "daily_report"]),
    dg.AssetKey(["report", "telegram_delivery"]),
]


def needs_fallback_report(failed_steps: set[str | None]) -> bool:
    """Only failures before the report chain call for a fallback (a failed delivery does not)."""
    steps = {s for s in failed_steps if s}
    return bool(steps) and steps <= UPSTREAM_STEPS
