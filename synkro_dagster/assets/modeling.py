"""The dbt project as two partitioned multi-assets: the core models (staging → marts) and the
reporting models that read the analysis results, so Dagster runs analysis in between.

The manifest is prepared at build time (`synkro prepare` runs `dbt parse`), never at import. dbt
runs through `synkro.modeling.runner` (dagster-dbt's `DbtCliResource`, the tenant's stable dbt
dir so unchanged vars partial-parse, the warehouse password handed to the dbt process only); the
tenant and its calendar reach dbt as `--vars`. dbt tests surface as asset checks.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets

from synkro.modeling.dbt import DBT_PROJECT_DIR
from synkro.modeling.runner import tenant_dbt
from synkro.orchestration import pools
from synkro_dagster.mirror import RunMirror
from synkro_dagster.partitions import tenant_partitions
from synkro_dagster.resources import SynkroResource

MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
REPORTING = "fqn:synkro.reporting"

if not MANIFEST.exists():
    raise FileNotFoundError(
        f"dbt manifest not found at {MANIFEST}: run `synkro prepare` (or `make install`) to build it"
    )


class SynkroDbtTranslator(DagsterDbtTranslator):
    def get_asset_spec(self, manifest: Any, unique_id: str, project: Any) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if unique_id.startswith("source."):
            return spec
        return spec.replace_attributes(group_name="modeling")


TRANSLATOR = SynkroDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_duplicate_source_asset_keys=True, enable_asset_checks=True)
)


def _build(context: dg.AssetExecutionContext, synkro: SynkroResource, step: str) -> Iterator[Any]:
    tctx = synkro.tenant(context.partition_key)
    mirror = RunMirror.attach(context, tctx)
    mirror.start(step)
    failures: list[str] = []
    warned: list[str] = []  # warn-severity tests with rows (matching quality): reported, not failed
    passed = 0
    try:
        with tenant_dbt(tctx, ["build"], f"{step}-{context.run.run_id[:8]}", context=context) as invocation:
            for event in invocation.stream():
                if isinstance(event, dg.AssetCheckResult) and not event.passed:
                    warn = event.severity == dg.AssetCheckSeverity.WARN
                    (warned if warn else failures).append(event.check_name)
                elif isinstance(event, dg.AssetCheckResult | dg.Output | dg.AssetMaterialization):
                    passed += 1
                yield event
        if not invocation.is_successful():
            raise RuntimeError(f"dbt build failed for tenant {tctx.slug!r}; see the step log")
    except Exception as exc:
        mirror.fail(step, exc)
    mirror.done(
        step,
        f"{step}: {passed} nodes ok, {len(failures)} tests failed, {len(warned)} warned",
        {"failed": failures, "warned": warned},
    )


@dbt_assets(
    manifest=MANIFEST,
    exclude=REPORTING,
    partitions_def=tenant_partitions,
    name="dbt_core",
    dagster_dbt_translator=TRANSLATOR,
    pool=pools.WAREHOUSE,
)
def dbt_core(context: dg.AssetExecutionContext, synkro: SynkroResource):
    """Staging, intermediate and mart models: dialogs matched to contacts and leads, response times."""
    yield from _build(context, synkro, "dbt_core")


@dbt_assets(
    manifest=MANIFEST,
    select=REPORTING,
    partitions_def=tenant_partitions,
    name="dbt_reporting",
    dagster_dbt_translator=TRANSLATOR,
    pool=pools.WAREHOUSE,
)
def dbt_reporting(context: dg.AssetExecutionContext, synkro: SynkroResource):
    """Per-manager day marts that combine hard metrics with the analysis scores."""
    yield from _build(context, synkro, "dbt_reporting")
