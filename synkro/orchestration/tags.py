"""Run tags Synkro sets and reads. Tags carry the tenant, trigger and window — never a secret.

Core owns them because every launcher (CLI, portal, bot, schedule sensor, Dagster UI) must agree
on them; the Dagster code location reads the same names.
"""

from __future__ import annotations

from datetime import datetime

# Dagster's own tag: every Synkro job is partitioned by tenant, so this is the tenant, set by the
# UI too. The run queue allows one active run per value (instance config, infra/dagster.yaml).
PARTITION = "dagster/partition"
TENANT = "synkro/tenant"
TRIGGER = "synkro/trigger"
WINDOW_START = "synkro/window_start"
WINDOW_END = "synkro/window_end"
WINDOW_LABEL = "synkro/window_label"
RESEND = "synkro/resend"
FULL_LOAD = "synkro/full"
JOB_RUN_ID = "synkro/job_run_id"
# A report-only run after a failed load or dbt step; it shares the job_runs row of the failed run.
FALLBACK = "synkro/fallback"
# Steps that stopped short without failing the run ("analysis"): the run ends succeeded_with_warnings.
WARNINGS = "synkro/warnings"
# Who submitted the run (cli, portal, bot, schedule); informational, shown in the Dagster UI.
LAUNCHED_BY = "synkro/launched_by"


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
