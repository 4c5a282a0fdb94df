"""Running the dbt project (`dbt_project/`) for one tenant, without Dagster.

The profile is generated at run time from a database URL: host, port, user and database go into
`profiles.yml`, the password only into the child process's environment (`SYNKRO_DBT_PASSWORD`,
read by `env_var()` in the profile), so no secret is ever written to disk. The tenant and its
calendar reach dbt as `--vars` (see `dbt_vars`), which is what `generate_schema_name` and the
sources read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

if TYPE_CHECKING:
    from synkro.controlplane.settings import TenantSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
PROFILE_NAME = "synkro"
PASSWORD_ENV = "SYNKRO_DBT_PASSWORD"


def dbt_executable() -> Path:
    """The dbt CLI of the running venv (the venv need not be activated, so PATH is not trusted)."""
    return Path(sys.executable).parent / "dbt"


def write_profile(target_dir: Path, database_url: str, threads: int = 4) -> Path:
    """Write `profiles.yml` for `database_url` into `target_dir` and return its path.

    The password is not written: the profile reads it from `SYNKRO_DBT_PASSWORD`, which
    `run_dbt` sets for the child process only. `sslmode` from the URL is kept (Supabase needs
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
    """What a dbt invocation did: exit code, captured output and per-node results."""

    args: list[str]
    target_path: Path
    returncode: int
    stdout: str
    stderr: str
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


def _password(database_url: str) -> str:
    return unquote(urlsplit(database_url).password or "")


def run_dbt(
    args: Sequence[str],
    database_url: str,
    vars: Mapping[str, str] | None = None,
    *,
    project_dir: Path = DBT_PROJECT_DIR,
    target_path: Path | None = None,
    timeout: float = 900,
) -> DbtRun:
    """Invoke the dbt CLI (`dbt <args>`) against `database_url` and collect its results.

    A private profiles dir is generated next to the target path; `target_path` lets parallel
    runs (tests, tenants) keep separate artifacts. Output is returned, not raised: callers decide
    what a failure means (the caller checks `.ok` / `.failed()`).
    """
    target = target_path or (project_dir / "target")
    profiles_dir = target / "profiles"
    write_profile(profiles_dir, database_url)
    cmd = [
        str(dbt_executable()),
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(profiles_dir),
    ]
    if vars:
        cmd += ["--vars", json.dumps(dict(vars))]
    env = {
        **os.environ,
        PASSWORD_ENV: _password(database_url),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    run_results = target / "run_results.json"
    run_results.unlink(missing_ok=True)
    proc = subprocess.run(cmd, cwd=project_dir, env=env, capture_output=True, text=True, timeout=timeout)
    results: list[DbtNodeResult] = []
    if run_results.exists():
        for r in json.loads(run_results.read_text()).get("results", []):
            results.append(
                DbtNodeResult(
                    unique_id=r["unique_id"],
                    status=r["status"],
                    message=r.get("message"),
                    failures=r.get("failures"),
                )
            )
    return DbtRun(
        args=list(args),
        target_path=target,
        returncode=proc.returncode,
        stdout=proc.stdout,
        stderr=proc.stderr,
        results=results,
    )
