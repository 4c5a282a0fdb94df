"""Run tags Synkro sets and reads. Tags carry the window and trigger — never a secret."""

from __future__ import annotations

from datetime import datetime

TENANT = "synkro/tenant"
TRIGGER = "synkro/trigger"
WINDOW_START = "synkro/window_start"
WINDOW_END = "synkro/window_end"
WINDOW_LABEL = "synkro/window_label"
RESEND = "synkro/resend"
FULL_LOAD = "synkro/full"
JOB_RUN_ID = "synkro/job_run_id"
# "cli" for runs executed by synkro_dagster.runner (it closes its own job_runs rows).
LAUNCHED_BY = "synkro/launched_by"
# One active run per tenant is a run-queue limit on `dagster/partition` (infra/dagster.yaml,
# .synkro/dagster): every Synkro job is partitioned by tenant, so UI-launched runs are covered too.


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
