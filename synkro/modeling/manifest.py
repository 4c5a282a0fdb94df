"""Keep the dbt manifest that the Dagster code location loads in step with the dbt project.

Dagster's `@dbt_assets` reads `dbt_project/target/manifest.json` at import, and node ids of tests
carry a hash of their arguments: a manifest older than the project makes dbt events unknown to
Dagster (KeyError on a test id). So every command that starts a run rebuilds the manifest first
when any project file is newer than it — at build time, never inside the code location.
"""

from __future__ import annotations

from pathlib import Path

from synkro.modeling.dbt import DBT_PROJECT_DIR

MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
# `dbt parse` never connects: the profile only has to be valid, and without a password nothing is handed over.
PARSE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SOURCE_DIRS = ("models", "macros", "tests", "seeds", "snapshots")


class ManifestError(RuntimeError):
    """`dbt parse` failed: the dbt project itself is broken."""


def newest_source_mtime(project_dir: Path = DBT_PROJECT_DIR) -> float:
    files = [project_dir / "dbt_project.yml"]
    for name in SOURCE_DIRS:
        folder = project_dir / name
        if folder.exists():
            files += [p for p in folder.rglob("*") if p.is_file()]
    return max(p.stat().st_mtime for p in files if p.exists())


def manifest_is_current(project_dir: Path = DBT_PROJECT_DIR) -> bool:
    manifest = project_dir / "target" / "manifest.json"
    return manifest.exists() and manifest.stat().st_mtime >= newest_source_mtime(project_dir)


def build_manifest(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """Run `dbt parse` (no database connection needed) and return the manifest path."""
    from synkro.modeling.runner import run_dbt  # imports dagster-dbt: only when a parse is due

    result = run_dbt(["parse"], PARSE_URL, project_dir=project_dir)
    if not result.ok:
        tail = "\n".join(result.log.strip().splitlines()[-15:])
        raise ManifestError(f"dbt parse failed:\n{tail}")
    return project_dir / "target" / "manifest.json"


def ensure_manifest(project_dir: Path = DBT_PROJECT_DIR) -> bool:
    """Rebuild the manifest when it is missing or stale; True when it was rebuilt."""
    if manifest_is_current(project_dir):
        return False
    build_manifest(project_dir)
    return True
