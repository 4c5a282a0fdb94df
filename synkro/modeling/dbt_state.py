"""A stable dbt working directory per tenant, so repeated runs can partial-parse.

dbt only reuses `partial_parse.msgpack` when `--vars`, the profile's connection details and the
project files are unchanged since it was written (dbt-core's `ManifestStateCheck`). A fresh
temporary profiles dir and a fresh target dir per run (what dagster-dbt does by default) throw
that file away, so every dbt step re-parsed the whole project. Here each tenant keeps, under
`<synkro_home>/dbt/<slug>/`:

- `profiles/profiles.yml` — host, port, user and database only (`synkro.modeling.dbt.write_profile`);
  the password reaches the dbt process alone (`synkro.modeling.dbt_exec`);
- `partial_parse.msgpack` — the newest parse state of this tenant's vars and warehouse;
- `runs/<step>-<run>-<id>/` — one target dir per dbt invocation (run_results, logs), pruned to
  the newest few so the directory does not grow without bound.

A tenant whose vars change (new timezone, say) pays one full parse, then partial-parses again.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

from synkro import tenancy
from synkro.modeling.dbt import DBT_PROJECT_DIR, write_profile
from synkro.paths import synkro_home

PARTIAL_PARSE = "partial_parse.msgpack"
KEEP_TARGETS = 4
LEGACY_MAX_AGE_S = 3600.0


def tenant_dbt_dir(slug: str) -> Path:
    """`<synkro_home>/dbt/<slug>`: this tenant's profile, parse state and run targets."""
    return tenancy.names(slug).dbt_dir(synkro_home())


def tenant_profiles_dir(slug: str, database_url: str) -> Path:
    """Write the tenant's profile into its stable profiles dir (no password) and return the dir.

    The path must stay the same between runs: dbt's parse state is only valid for the profile
    it was built with, and a new temp dir each run made every parse a full one.
    """
    profiles = tenant_dbt_dir(slug) / "profiles"
    write_profile(profiles, database_url)
    return profiles


def new_target_dir(slug: str, name: str) -> Path:
    """A fresh target dir for one dbt invocation, seeded with the tenant's saved parse state."""
    runs = tenant_dbt_dir(slug) / "runs"
    target = runs / f"{name}-{uuid.uuid4().hex[:7]}"
    target.mkdir(parents=True)
    saved = tenant_dbt_dir(slug) / PARTIAL_PARSE
    if saved.exists():
        shutil.copy2(saved, target / PARTIAL_PARSE)
    return target


def keep_parse_state(slug: str, target: Path) -> bool:
    """Save the parse state dbt left in `target` for the tenant's next run; True when saved.

    Replaced atomically, so a reader never sees half a file; a state no newer than the saved one
    (dbt found nothing to re-parse and did not rewrite it) is left alone.
    """
    produced = target / PARTIAL_PARSE
    saved = tenant_dbt_dir(slug) / PARTIAL_PARSE
    if not produced.exists():
        return False
    if saved.exists() and produced.stat().st_mtime <= saved.stat().st_mtime:
        return False
    staging = saved.with_name(f".{PARTIAL_PARSE}.{uuid.uuid4().hex[:7]}")
    shutil.copy2(produced, staging)
    os.replace(staging, saved)
    return True


def prune_target_dirs(slug: str, keep: int = KEEP_TARGETS) -> list[Path]:
    """Delete all but the newest `keep` run target dirs of the tenant; returns what was removed."""
    runs = tenant_dbt_dir(slug) / "runs"
    if not runs.exists():
        return []
    dirs = sorted((p for p in runs.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    removed = dirs[keep:]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def prune_legacy_targets(project_dir: Path = DBT_PROJECT_DIR, max_age_s: float = LEGACY_MAX_AGE_S) -> int:
    """Remove the per-run target dirs dagster-dbt used to leave in `dbt_project/target/`.

    Before the per-tenant state dir every dbt step left `target/<op>-<run>-<id>/` (a full
    manifest each, megabytes) in the project. Only dirs older than `max_age_s` go, so a run
    still using one from an older checkout is not pulled from under it.
    """
    target = project_dir / "target"
    if not target.exists():
        return 0
    cutoff = time.time() - max_age_s
    count = 0
    for pattern in ("dbt_core-*", "dbt_reporting-*"):
        for path in target.glob(pattern):
            if path.is_dir() and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)
                count += 1
    return count


def remove_tenant_state(slug: str) -> None:
    """Forget a deleted tenant's dbt state (profile without password, parse state, run dirs)."""
    shutil.rmtree(tenant_dbt_dir(slug), ignore_errors=True)
