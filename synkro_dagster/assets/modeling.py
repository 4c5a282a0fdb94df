"""The dbt project as two partitioned multi-assets: the core models (staging → marts) and the
reporting models that read the analysis results, so Dagster runs analysis in between.

The manifest is prepared at build time (`synkro prepare` runs `dbt parse`), never at import. The
profile is written for the tenant's warehouse with the password passed by environment only; the
tenant and its calendar reach dbt as `--vars`. dbt tests surface as asset checks.

Speed: the profile and dbt's parse state live in a stable per-tenant dir (`synkro.modeling.dbt_state`)
so unchanged vars partial-parse instead of re-parsing the project, and `SynkroDbtCli` skips two
things dagster-dbt does before starting dbt that this code never uses (`dbt --version`, which
also asks PyPI for the latest release, and an in-process dbt adapter for column metadata).
"""

import importlib.metadata
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from packaging import version

from synkro.modeling.dbt import (
    DBT_PROJECT_DIR,
    PASSWORD_ENV,
    _password,
    dbt_executable,
    dbt_vars,
)
from synkro.modeling.dbt_state import (
    keep_parse_state,
    new_target_dir,
    prune_legacy_targets,
    prune_target_dirs,
    tenant_profiles_dir,
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


class SynkroDbtCli(DbtCliResource):
    """dagster-dbt's CLI resource without the work it does before each dbt start that we never use.

    - `_cli_version` ran `dbt --version` in a subprocess on every new resource (one per step):
      a full dbt start-up plus PyPI look-ups for the latest dbt-core and adapter (1 s timeout
      each, or the real network), 15 s on a loaded 2-core machine. The dbt we run is the venv's
      own (`dbt_executable()`), so the installed dbt-core version is the CLI's version.
    - `_initialize_dbt_core_adapter` built an in-process dbt adapter (profile, project, every
      macro of dbt and dbt-postgres) only for `fetch_column_metadata` / `fetch_row_counts`,
      which these assets do not call: 9 s cold on the same machine.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Any) -> Any:
        return None


@contextmanager
def tenant_dbt(tctx: TenantContext) -> Iterator[DbtCliResource]:
    """A dbt CLI resource for the tenant's warehouse; the password lives only in the environment.

    The profiles dir is the tenant's stable one (`synkro.modeling.dbt_state`), so dbt's parse
    state stays valid between runs; it holds no password.
    """
    url = tctx.warehouse_url()
    profiles = tenant_profiles_dir(tctx.slug, url)
    previous = os.environ.get(PASSWORD_ENV)
    os.environ[PASSWORD_ENV] = _password(url)
    try:
        yield SynkroDbtCli(
            project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(profiles), dbt_executable=str(dbt_executable())
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
            args = ["build", "--vars", _json(dbt_vars(tctx.slug, tctx.settings, tctx.tenant.timezone))]
            target = new_target_dir(tctx.slug, f"{step}-{context.run.run_id[:8]}")
            invocation = dbt.cli(args, context=context, raise_on_error=False, target_path=target)
            for event in invocation.stream():
                if isinstance(event, dg.AssetCheckResult) and not event.passed:
                    failures.append(event.check_name)
                elif isinstance(event, dg.AssetCheckResult | dg.Output | dg.AssetMaterialization):
                    passed += 1
                yield event
            keep_parse_state(tctx.slug, target)
            _prune(tctx.slug)
            if not invocation.is_successful():
                raise RuntimeError(f"dbt build failed for tenant {tctx.slug!r}; see the step log")
    except Exception as exc:
        mirror.failed(step, exc)
        raise
    mirror.done(step, f"{step}: {passed} nodes ok, {len(failures)} tests failed", {"failed": failures})


def _prune(slug: str) -> None:
    """Old run target dirs go after each step; a failure to delete must not fail the step."""
    try:
        prune_target_dirs(slug)
        prune_legacy_targets()
    except OSError:
        pass


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
