"""amoCRM and Radist loads as dlt assets partitioned by tenant.

Asset keys are `raw/<table>`, which is dbt's default key for source `raw`, so the dbt staging
models depend on them without extra metadata. The decorator's source and pipeline only supply
the asset specs; every run builds the tenant's own source (its credentials, region, mode) and its
own pipeline (`amocrm_<slug>` / `radist_<slug>`, dataset `<slug>_raw`), so cursors never mix.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from dlt_sources.amocrm import amocrm_source
from dlt_sources.radist import radist_source
from synkro.clients.amocrm import AmoCRMAccountError, AmoCRMAuthError, AmoCRMClient, StaticTokenProvider
from synkro.clients.radist import RadistClient
from synkro.clients.tenant_clients import amocrm_client_for, radist_client_for
from synkro.db import connect
from synkro.loading import make_pipeline
from synkro.orchestration import pools
from synkro.orchestration.tags import FULL_LOAD
from synkro.warehouse import known_phones
from synkro_dagster.mirror import RunMirror
from synkro_dagster.partitions import tenant_partitions
from synkro_dagster.resources import SynkroResource

# Only used to derive asset specs at import time; no request is ever made with these.
_SPEC_URL = "postgresql://spec:spec@127.0.0.1:1/spec"


class RawTableTranslator(DagsterDltTranslator):
    def __init__(self, upstream: list[dg.AssetKey] | None = None) -> None:
        self.upstream = upstream or []

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(
            key=dg.AssetKey(["raw", data.resource.name]), deps=self.upstream, group_name="ingestion"
        )


def _skip(context: dg.AssetExecutionContext, reason: str) -> Iterator[dg.MaterializeResult]:
    for key in context.selected_asset_keys:
        yield dg.MaterializeResult(asset_key=key, metadata={"skipped": reason})


def _load(
    context: dg.AssetExecutionContext,
    dlt: DagsterDltResource,
    mirror: RunMirror,
    step: str,
    source: Any,
    pipeline: Any,
) -> Iterator[Any]:
    rows = 0
    for result in dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline):
        count = (result.metadata or {}).get("rows_loaded")
        rows += int(getattr(count, "value", count) or 0)
        yield result
    mirror.done(step, f"{step} loaded {rows} rows", {"rows_loaded": rows})


def _spec_amocrm() -> Any:
    return amocrm_source(AmoCRMClient("http://spec.invalid", StaticTokenProvider("spec")))


def _spec_radist() -> Any:
    return radist_source(RadistClient("http://spec.invalid", "spec", 0), mode="radist_only")


@dlt_assets(
    dlt_source=_spec_amocrm(),
    dlt_pipeline=make_pipeline("spec", "amocrm", _SPEC_URL),
    name="amocrm_raw",
    partitions_def=tenant_partitions,
    dagster_dlt_translator=RawTableTranslator(),
    pool=pools.AMOCRM,
)
def amocrm_raw(context: dg.AssetExecutionContext, dlt: DagsterDltResource, synkro: SynkroResource):
    """Leads, contacts, phones, links, pipelines, statuses and users of the tenant's amoCRM."""
    tctx = synkro.tenant(context.partition_key)
    mirror = RunMirror.attach(context, tctx)
    mirror.start("amocrm")
    if tctx.settings.mode == "radist_only":
        mirror.done("amocrm", "amocrm skipped: tenant mode is radist_only")
        yield from _skip(context, "tenant mode is radist_only")
        return
    try:
        client = amocrm_client_for(tctx.cp, tctx.slug)
        source = amocrm_source(
            client, region=tctx.settings.phone_region, full=context.run.tags.get(FULL_LOAD) == "true"
        )
        pipeline = make_pipeline(tctx.slug, "amocrm", tctx.warehouse_url())
        yield from _load(context, dlt, mirror, "amocrm", source, pipeline)
    except (AmoCRMAuthError, AmoCRMAccountError) as exc:
        tctx.cp.configs.set_config_status(tctx.slug, "amocrm", "error", error=str(exc))
        mirror.fail("amocrm", exc)
    except Exception as exc:
        mirror.fail("amocrm", exc)


@dlt_assets(
    dlt_source=_spec_radist(),
    dlt_pipeline=make_pipeline("spec", "radist", _SPEC_URL),
    name="radist_raw",
    partitions_def=tenant_partitions,
    # In mode amocrm_radist only chats whose phone belongs to an amoCRM contact are loaded.
    dagster_dlt_translator=RawTableTranslator([dg.AssetKey(["raw", "amocrm_contact_phones"])]),
    pool=pools.RADIST,
)
def radist_raw(context: dg.AssetExecutionContext, dlt: DagsterDltResource, synkro: SynkroResource):
    """WhatsApp/Telegram chats and their messages from the tenant's Radist company."""
    tctx = synkro.tenant(context.partition_key)
    mirror = RunMirror.attach(context, tctx)
    mirror.start("radist")
    mode = tctx.settings.mode
    if mode == "amocrm_only":
        mirror.done("radist", "radist skipped: tenant mode is amocrm_only")
        yield from _skip(context, "tenant mode is amocrm_only")
        return
    try:
        warehouse = tctx.warehouse_url()
        phones = None
        if mode == "amocrm_radist":
            with connect(warehouse) as conn:
                phones = known_phones(conn, tctx.slug)
        source = radist_source(
            radist_client_for(tctx.cp, tctx.slug),
            region=tctx.settings.phone_region,
            mode=mode,
            known_phones=phones,
            full=context.run.tags.get(FULL_LOAD) == "true",
        )
        pipeline = make_pipeline(tctx.slug, "radist", warehouse)
        yield from _load(context, dlt, mirror, "radist", source, pipeline)
    except Exception as exc:
        mirror.fail("radist", exc)
