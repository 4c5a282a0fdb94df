"""The per-tenant dbt state dir: dbt partial-parses a tenant's second run, and run dirs are pruned.

The parse test runs the real dbt CLI through the resource the Dagster assets use (`SynkroDbtCli`),
so it also proves that resource starts dbt without `dbt --version` or an in-process adapter.
No database is needed: `dbt parse` does not connect.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import time
from pathlib import Path

import pytest

from synkro.controlplane.settings import TenantSettings
from synkro.controlplane.tenants import DEFAULT_TIMEZONE
from synkro.modeling.dbt import DBT_PROJECT_DIR, dbt_executable, dbt_vars
from synkro.modeling.dbt_state import (
    PARTIAL_PARSE,
    keep_parse_state,
    new_target_dir,
    prune_legacy_targets,
    prune_target_dirs,
    remove_tenant_state,
    tenant_dbt_dir,
    tenant_profiles_dir,
)

URL = "postgresql://loader:s3cret-pass@127.0.0.1:5432/warehouse"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SYNKRO_HOME", str(tmp_path))
    return tmp_path


def _parse(slug: str, vars: dict[str, str]) -> str:
    """`dbt parse` through the assets' resource into a fresh target dir; returns dbt's log text."""
    from synkro_dagster.assets.modeling import SynkroDbtCli

    dbt = SynkroDbtCli(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(tenant_profiles_dir(slug, URL)),
        dbt_executable=str(dbt_executable()),
    )
    target = new_target_dir(slug, "parse")
    invocation = dbt.cli(["parse", "--vars", json.dumps(vars)], target_path=target, raise_on_error=False)
    invocation.wait()
    assert invocation.is_successful()
    keep_parse_state(slug, target)
    return (target / "dbt.log").read_text()


def test_second_run_with_same_vars_partial_parses(home: Path) -> None:
    first = _parse("acme", dbt_vars("acme", TenantSettings(), DEFAULT_TIMEZONE))
    assert "Starting full parse" in first or "Unable to do partial parsing" in first
    assert (tenant_dbt_dir("acme") / PARTIAL_PARSE).exists()

    second = _parse("acme", dbt_vars("acme", TenantSettings(), DEFAULT_TIMEZONE))
    assert "Unable to do partial parsing" not in second
    assert "Starting full parse" not in second


def test_resource_skips_dbt_version_subprocess_and_adapter() -> None:
    from dagster_dbt import DbtCliResource

    from synkro_dagster.assets.modeling import SynkroDbtCli

    # The overrides only help while dagster-dbt still has these hooks under these names.
    assert hasattr(DbtCliResource, "_cli_version")
    assert hasattr(DbtCliResource, "_initialize_dbt_core_adapter")
    dbt = SynkroDbtCli(project_dir=str(DBT_PROJECT_DIR), dbt_executable=str(dbt_executable()))
    started = time.monotonic()
    assert str(dbt._cli_version) == importlib.metadata.version("dbt-core")
    assert dbt._initialize_dbt_core_adapter(["build"]) is None
    assert time.monotonic() - started < 0.5


def test_profile_is_stable_and_holds_no_password(home: Path) -> None:
    first = tenant_profiles_dir("acme", URL)
    second = tenant_profiles_dir("acme", URL)
    assert first == second == home / "dbt" / "acme" / "profiles"
    text = (first / "profiles.yml").read_text()
    assert "s3cret-pass" not in text
    assert "warehouse" in text


def test_parse_state_is_seeded_and_only_newer_state_is_kept(home: Path) -> None:
    saved = tenant_dbt_dir("acme") / PARTIAL_PARSE
    first = new_target_dir("acme", "dbt_core-run1")
    assert not (first / PARTIAL_PARSE).exists()
    (first / PARTIAL_PARSE).write_bytes(b"state-1")
    assert keep_parse_state("acme", first)
    assert saved.read_bytes() == b"state-1"

    second = new_target_dir("acme", "dbt_core-run2")
    assert (second / PARTIAL_PARSE).read_bytes() == b"state-1"
    assert not keep_parse_state("acme", second)  # untouched copy: nothing to save

    (second / PARTIAL_PARSE).write_bytes(b"state-2")
    later = saved.stat().st_mtime + 5
    os.utime(second / PARTIAL_PARSE, (later, later))
    assert keep_parse_state("acme", second)
    assert saved.read_bytes() == b"state-2"
    assert not keep_parse_state("acme", home / "missing")


def test_prune_keeps_newest_target_dirs(home: Path) -> None:
    made = []
    for i in range(6):
        target = new_target_dir("acme", f"dbt_core-{i}")
        os.utime(target, (1000 + i, 1000 + i))
        made.append(target)
    removed = prune_target_dirs("acme", keep=2)
    assert sorted(removed) == sorted(made[:4])
    assert [p for p in made if p.exists()] == made[4:]
    assert prune_target_dirs("other") == []
    remove_tenant_state("acme")
    assert not tenant_dbt_dir("acme").exists()


def test_prune_legacy_targets_only_old_dagster_dirs(tmp_path: Path) -> None:
    target = tmp_path / "target"
    old = target / "dbt_core-6e0c1a3-8ddf6cc"
    fresh = target / "dbt_reporting-a85550a-f094463"
    unrelated = target / "logs"
    for path in (old, fresh, unrelated):
        path.mkdir(parents=True)
    os.utime(old, (1000, 1000))
    os.utime(unrelated, (1000, 1000))
    assert prune_legacy_targets(tmp_path, max_age_s=3600) == 1
    assert not old.exists() and fresh.exists() and unrelated.exists()
