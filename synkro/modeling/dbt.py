"""The dbt project (`dbt_project/`) as Synkro runs it: where it is, the profile, the vars, results.

Running it is `synkro.modeling.runner`'s job (one runner for the CLI and Dagster). Here: the
profile is generated from a database URL with host, port, user and database only; the password
is read by `env_var('SYNKRO_DBT_PASSWORD')` in the profile and reaches the dbt process alone (see
`synkro.modeling.dbt_exec`), so no secret is written to disk. The tenant and its calendar reach
dbt as `--vars` (`dbt_vars`), which is what `generate_schema_name` and the sources read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from synkro.modeling.dbt_exec import PASSWORD_ENV

if TYPE_CHECKING:
    from synkro.controlplane.settings import TenantSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
PROFILE_NAME = "synkro"


def write_profile(target_dir: Path, database_url: str, threads: int = 4) -> Path:
    """Write `profiles.yml` for `database_url` into `target_dir` and return its path.

    The password is not written: the profile reads it from `SYNKRO_DBT_PASSWORD`, which only the
    dbt process has (`synkro.modeling.dbt_exec`). `sslmode` from the URL is kept (Supabase needs
    `require`). A unix-socket URL (`?host=/path`) works too.
    """
    parts = urlsplit(database_url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    host = query.get("host") or (unquote(parts.hostname) if parts.hostname else "127.0.0.1")
    output: dict[str, Any] = {
        "type": "postgres",
        "host": host,
        "port": int(query.get("port") or parts.port or 5432),
        "user": unquote(parts.username or "postgres"),
        "password": "{{ env_var('" + PASSWORD_ENV + "', '') }}",
        "dbname": unquote(parts.path.lstrip("/") or "postgres"),
        # Every model sets its own schema through generate_schema_name; this is only a fallback.
        "schema": "public",
        "threads": threads,
        "connect_timeout": 15,
    }
    if "sslmode" in query:
        output["sslmode"] = query["sslmode"]
    profile = {PROFILE_NAME: {"target": "synkro", "outputs": {"synkro": output}}}
    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / "profiles.yml"
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return path


def dbt_vars(slug: str, settings: TenantSettings, timezone: str) -> dict[str, str]:
    """The `--vars` for one tenant: its slug, its timezone (from the tenant row) and calendar settings."""
    return {
        "tenant": slug,
        "timezone": timezone,
        "day_boundary": settings.day_boundary,
        "phone_region": settings.phone_region,
        "working_hours": settings.working_hours,
        "working_days": settings.working_days,
        "holidays": settings.holidays,
    }


@dataclass
class DbtNodeResult:
    """One node's outcome from `target/run_results.json`."""

    unique_id: str
    status: str
    message: str | None = None
    failures: int | None = None


@dataclass
class DbtRun:
    """What a dbt invocation did: exit code, dbt's log messages and per-node results."""

    args: list[str]
    target_path: Path
    returncode: int
    log: str
    results: list[DbtNodeResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def failed(self) -> list[DbtNodeResult]:
        return [r for r in self.results if r.status in {"error", "fail", "runtime error"}]

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        return counts
