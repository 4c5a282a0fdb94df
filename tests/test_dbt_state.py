"""The one dbt runner and the per-tenant dbt state dir.

- dbt partial-parses a tenant's second run with the same vars, and run dirs are pruned;
- the runner uses dagster-dbt's own `DbtCliResource` (no subclass) with `synkro-dbt`, whose
  `--version` (what dagster-dbt asks every new resource) answers without starting dbt;
- the warehouse password reaches the dbt process and nowhere else: not the parent's
  `os.environ`, not a file in the target or profiles dir.

The parse tests run the real dbt CLI through the runner; `dbt parse` needs no database. The
hand-off test runs a macro in a tiny project of its own against the test database (trust auth on
loopback, so any password connects) and reads what dbt saw in its log.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from dagster_dbt import DbtCliResource

from synkro.controlplane.settings import TenantSettings
from synkro.controlplane.tenants import DEFAULT_TIMEZONE
from synkro.modeling.dbt import dbt_vars
from synkro.modeling.dbt_exec import HANDOFF_NAME, PASSWORD_ENV, password_handoff, receive_password
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
from synkro.modeling.runner import dbt_executable, dbt_resource, run_dbt

URL = "postgresql://loader:s3cret-pass@127.0.0.1:5432/warehouse"
SECRET = "s3cr@t pass/é"
PROBE_MACRO = """{% macro probe() %}
  {{ log("password=" ~ env_var("SYNKRO_DBT_PASSWORD", "<none>"), info=True) }}
{% endmacro %}
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SYNKRO_HOME", str(tmp_path))
    return tmp_path


def _parse(slug: str) -> str:
    """`dbt parse` through the runner into a fresh target dir of the tenant; returns dbt's log."""
    target = new_target_dir(slug, "parse")
    vars = dbt_vars(slug, TenantSettings(), DEFAULT_TIMEZONE)
    run = run_dbt(["parse"], URL, vars, target_path=target, profiles_dir=tenant_profiles_dir(slug, URL))
    assert run.ok, run.log[-3000:]
    keep_parse_state(slug, target)
    return (target / "dbt.log").read_text()


def test_second_run_with_same_vars_partial_parses(home: Path) -> None:
    first = _parse("acme")
    assert "Starting full parse" in first or "Unable to do partial parsing" in first
    assert (tenant_dbt_dir("acme") / PARTIAL_PARSE).exists()

    second = _parse("acme")
    assert "Unable to do partial parsing" not in second
    assert "Starting full parse" not in second


def test_runner_uses_dagster_dbts_resource_and_a_quick_version(home: Path) -> None:
    resource = dbt_resource(tenant_profiles_dir("acme", URL))
    assert type(resource) is DbtCliResource
    assert resource.dbt_executable == str(dbt_executable())
    started = time.monotonic()
    out = subprocess.run([resource.dbt_executable, "--version"], capture_output=True, text=True, check=True)
    assert time.monotonic() - started < 3  # dbt's own --version: seconds of imports plus PyPI
    # dagster-dbt takes the first x.y.z of the output as the dbt version
    assert re.search(r"(\d+\.\d+\.\d+)", out.stdout)[1] == importlib.metadata.version("dbt-core")


@pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="connects with a made-up password: needs the embedded server"
)
def test_password_reaches_dbt_and_nothing_else(database_url: str, tmp_path: Path) -> None:
    project = tmp_path / "probe"
    (project / "macros").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        'name: probe\nversion: "1.0.0"\nprofile: synkro\nconfig-version: 2\nmacro-paths: ["macros"]\n'
    )
    (project / "macros" / "probe.sql").write_text(PROBE_MACRO)
    parts = urlsplit(database_url)
    url = database_url.replace(
        f"{parts.netloc}", f"postgres:{quote(SECRET, safe='')}@{parts.hostname}:{parts.port}"
    )
    target = tmp_path / "target"
    run = run_dbt(["run-operation", "probe"], url, project_dir=project, target_path=target)
    assert run.ok, run.log[-3000:]
    assert f"password={SECRET}" in run.log
    assert PASSWORD_ENV not in os.environ
    assert not (target / HANDOFF_NAME).exists()
    # dbt.log holds the probe's own message; everything else dbt wrote must not hold the secret
    on_disk = [p for p in target.rglob("*") if p.is_file() and p.name != "dbt.log"]
    assert on_disk and not [p for p in on_disk if SECRET.encode() in p.read_bytes()]


def test_handoff_without_a_reader_ends_cleanly(tmp_path: Path) -> None:
    before = threading.active_count()
    started = time.monotonic()
    with password_handoff(tmp_path, "never-read"):
        assert (tmp_path / HANDOFF_NAME).exists()
    assert time.monotonic() - started < 2
    assert not (tmp_path / HANDOFF_NAME).exists()
    assert threading.active_count() == before
    with password_handoff(tmp_path, ""):  # no password: nothing offered
        assert not (tmp_path / HANDOFF_NAME).exists()
    assert receive_password(tmp_path) is None


def test_password_is_never_read_from_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / HANDOFF_NAME).write_text("planted")
    with pytest.raises(SystemExit, match="not a pipe"):
        receive_password(tmp_path)


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
