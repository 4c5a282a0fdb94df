"""Jobs an operator launches per tenant partition (Dagster UI, `synkro load|transform|run`)."""

import dagster as dg

from synkro_dagster.partitions import tenant_partitions

RAW = dg.AssetSelection.groups("ingestion")
MODELING = dg.AssetSelection.groups("modeling")

forced_report = dg.define_asset_job(
    "forced_report",
    selection=dg.AssetSelection.all(),
    partitions_def=tenant_partitions,
    description="The whole chain for one tenant: amoCRM → Radist → dbt → analysis → report → Telegram.",
)
ingestion = dg.define_asset_job(
    "ingestion",
    selection=RAW,
    partitions_def=tenant_partitions,
    description="Load amoCRM and Radist.",
)
amocrm_ingestion = dg.define_asset_job(
    "amocrm_ingestion",
    selection=dg.AssetSelection.key_prefixes(["raw"])
    - dg.AssetSelection.keys(dg.AssetKey(["raw", "radist_chats"]), dg.AssetKey(["raw", "radist_messages"])),
    partitions_def=tenant_partitions,
    description="Load amoCRM only.",
)
radist_ingestion = dg.define_asset_job(
    "radist_ingestion",
    selection=dg.AssetSelection.keys(
        dg.AssetKey(["raw", "radist_chats"]), dg.AssetKey(["raw", "radist_messages"])
    ),
    partitions_def=tenant_partitions,
    description="Load Radist only.",
)
transform = dg.define_asset_job(
    "transform",
    selection=MODELING,
    partitions_def=tenant_partitions,
    description="Run the dbt project.",
)

ALL_JOBS = [forced_report, ingestion, amocrm_ingestion, radist_ingestion, transform]
