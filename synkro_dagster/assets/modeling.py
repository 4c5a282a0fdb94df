"""The dbt project as two partitioned multi-assets: the core models (staging → marts) and the
reporting models that read the analysis results, so Dagster runs analysis in between.

The manifest is prepared at build time (`synkro prepare` runs `dbt parse`), never at import. The
profile is written per run for the tenant's warehouse with the password passed by environment
only; the tenant and its calendar reach dbt as `--vars`. dbt tests surface as asset checks.
"""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from synkro.modeling.dbt import (
    DBT_PROJECT_DIR,
    PASSWORD_ENV,
    _password,
    dbt_executable,
    dbt_vars,
    write_profile,
)
from synkro.tenant_context import TenantContext
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


@contextmanager
def tenant_dbt(tctx: TenantContext) -> Iterator[DbtCliResource]:
    """A dbt CLI resource for the tenant's warehouse; the password lives only in the environment."""
    url = tctx.warehouse_url()
    with tempfile.TemporaryDirectory(prefix="synkro-dbt-") as tmp:
        write_profile(Path(tmp), url)
        previous = os.environ.get(PASSWORD_ENV)
        os.environ[PASSWORD_ENV] = _password(url)
        try:
            yield DbtCliResource(
                project_dir=str(DBT_PROJECT_DIR), profiles_dir=tmp, dbt_executable=str(dbt_executable())
            )
        finally:
            if previous is None:
                os.environ.pop(PASSWORD_ENV, None)
            else:
                os.environ[PASSWORD_ENV] = previous


def _build(context: dg.AssetExecutionContext, synkro: SynkroResource, step: str) -> Iterator[Any]:
    tctx = synkro.tenant(context.partition_key)
    mirror = RunMirror.attach(context, tctx)
    mirror.start(step)
    failures: list[str] = []
    passed = 0
    try:
        with tenant_dbt(tctx) as dbt:
            args = ["build", "--vars", _json(dbt_vars(tctx.slug, tctx.step_settings()))]
            invocation = dbt.cli(args, context=context, raise_on_error=False)
            for event in invocation.stream():
                if isinstance(event, dg.AssetCheckResult) and not event.passed:
                    failures.append(event.check_name)
                elif isinstance(event, dg.AssetCheckResult | dg.Output | dg.AssetMaterialization):
                    passed += 1
                yield event
            if not invocation.is_successful():
                raise RuntimeError(f"dbt build failed for tenant {tctx.slug!r}; see the step log")
    except Exception as exc:
        mirror.failed(step, exc)
        raise
    mirror.done(step, f"{step}: {passed} nodes ok, {len(failures)} tests failed", {"failed": failures})


def _json(value: dict[str, str]) -> str:
    import json

    return json.dumps(value)


@dbt_assets(
    manifest=MANIFEST,
    exclude=REPORTING,
    partitions_def=tenant_partitions,
    name="dbt_core",
    dagster_dbt_translator=TRANSLATOR,
    pool="warehouse",
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
    pool="warehouse",
)
def dbt_reporting(context: dg.AssetExecutionContext, synkro: SynkroResource):
    """Per-manager day marts that combine hard metrics with the analysis scores."""
    yield from _build(context, synkro, "dbt_reporting")
