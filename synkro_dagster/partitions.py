"""The tenant partition set: one dynamic partition per active tenant (kept in sync by a sensor)."""

import dagster as dg

TENANT_PARTITIONS_NAME = "tenant"
tenant_partitions = dg.DynamicPartitionsDefinition(name=TENANT_PARTITIONS_NAME)
