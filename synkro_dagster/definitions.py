"""The Synkro code location (loaded by workspace.yaml): assets, jobs, sensors and resources."""

import os

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

import dagster as dg
from dagster_dlt import DagsterDltResource

from synkro import logging_redaction
from synkro.secrets import check_deployment_key
from synkro_dagster.assets.analysis import dialog_analyses
from synkro_dagster.assets.ingestion import amocrm_raw, radist_raw
from synkro_dagster.assets.modeling import dbt_core, dbt_reporting
from synkro_dagster.assets.reporting import daily_report, telegram_delivery
from synkro_dagster.jobs import ALL_JOBS
from synkro_dagster.resources import SynkroResource
from synkro_dagster.sensors import ALL_SENSORS

logging_redaction.install()  # every step's log records (httpx, telegram, dlt...) lose their secrets
check_deployment_key()  # a deployment without SYNKRO_SECRET_KEY refuses to start

defs = dg.Definitions(
    assets=[
        amocrm_raw,
        radist_raw,
        dbt_core,
        dialog_analyses,
        dbt_reporting,
        daily_report,
        telegram_delivery,
    ],
    jobs=ALL_JOBS,
    sensors=ALL_SENSORS,
    resources={"dlt": DagsterDltResource(), "synkro": SynkroResource()},
    # One run worker executes the tenant's chain step after step: the steps depend on each other
    # anyway, and a process per step (the multiprocess default) re-imports the code location each
    # time — ~5 s a step on a 2-core machine. Retries (RetryPolicy) work the same in process.
    executor=dg.in_process_executor,
)
