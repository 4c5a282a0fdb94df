"""The one way Synkro runs dbt: a dagster-dbt `DbtProject` + `DbtCliResource`, for Dagster and the CLI.

- Dagster's dbt assets stream `tenant_dbt(tctx, ["build"], name, context=context)`: the tenant's
  stable profiles dir and a fresh target dir seeded with its parse state (`dbt_state`), its vars
  (`dbt_vars`), its warehouse password handed to the dbt process only; the parse state is kept
  afterwards and old run dirs pruned.
- The CLI paths (`synkro prepare`'s `dbt parse`, `synkro docs`) and the tests call `run_dbt`,
  which waits for the same kind of invocation and returns a `DbtRun`.

The resource is dagster-dbt's own, unchanged: no subclass, no private method overridden. The
executable is `synkro-dbt` (`synkro.modeling.dbt_exec`): dbt itself, plus the two things
dagster-dbt offers no public switch for. The password: `cli()` copies the parent's `os.environ`
into the child and takes no `env`; putting the password there would leak it to every subprocess
of the step and, with two tenants in one process, to the wrong dbt, so it goes through a
per-invocation pipe instead (see `dbt_exec`). The version: dagster-dbt runs `<dbt> --version`
once per new resource, and dbt's answer imports all of dbt and asks PyPI; `synkro-dbt --version`
reads the installed package metadata. Resources are cached per profiles dir, so a long-lived
process (CLI, tests) asks once.

What stays: before each command `cli()` builds an in-process dbt adapter (profile, project,
dbt's and dbt-postgres's macros) for `fetch_column_metadata` / `fetch_row_counts`, which Synkro
does not call. dagster-dbt 0.29 has no setting to skip it and skipping it means overriding the
private `_initialize_dbt_core_adapter`, so we pay it: 1.3–3 s per dbt step on the shared 2-core
machine (figures in docs/architecture.md). The adapter renders the profile without a password
(the parent has none) and never connects.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject

from synkro.modeling.dbt import DBT_PROJECT_DIR, DbtNodeResult, DbtRun, dbt_vars, write_profile
from synkro.modeling.dbt_exec import password_handoff
from synkro.modeling.dbt_state import (
    keep_parse_state,
    new_target_dir,
    prune_legacy_targets,
    prune_target_dirs,
    tenant_profiles_dir,
)

if TYPE_CHECKING:
    import dagster as dg

    from synkro.tenant_context import TenantContext

EXECUTABLE = "synkro-dbt"


def dbt_executable() -> Path:
    """`synkro-dbt` of the running venv (the venv need not be activated, so PATH is not trusted)."""
    path = Path(sys.executable).parent / EXECUTABLE
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run `make install` to install the synkro-dbt entry point"
        )
    return path


@cache
def dbt_resource(profiles_dir: Path, project_dir: Path = DBT_PROJECT_DIR) -> DbtCliResource:
    """dagster-dbt's CLI resource for the project with the profile in `profiles_dir`."""
    project = DbtProject(project_dir=project_dir, profiles_dir=profiles_dir)
    return DbtCliResource(project_dir=project, dbt_executable=str(dbt_executable()))


@contextmanager
def dbt_invocation(
    command: Sequence[str],
    database_url: str,
    target_path: Path,
    *,
    profiles_dir: Path,
    vars: Mapping[str, str] | None = None,
    context: dg.AssetExecutionContext | None = None,
    project_dir: Path = DBT_PROJECT_DIR,
) -> Iterator[DbtCliInvocation]:
    """Start `dbt <command>` against `database_url`; the block consumes the invocation.

    The password is on offer to the dbt process while the block runs; the caller streams or
    waits inside it. Never raises for a failed dbt command (`is_successful()` tells).
    """
    args = [*command, *(["--vars", json.dumps(dict(vars))] if vars else [])]
    target_path.mkdir(parents=True, exist_ok=True)
    with password_handoff(target_path, _password(database_url)):
        resource = dbt_resource(profiles_dir, project_dir)
        yield resource.cli(args, context=context, raise_on_error=False, target_path=target_path)


@contextmanager
def tenant_dbt(
    tctx: TenantContext, command: Sequence[str], name: str, *, context: dg.AssetExecutionContext | None = None
) -> Iterator[DbtCliInvocation]:
    """`dbt <command>` for one tenant in its own dbt state dir (`synkro.modeling.dbt_state`).

    `name` starts the run's target dir name (e.g. `dbt_core-<run id>`). When the block ends
    normally the parse state dbt left is kept for the tenant's next run and old run dirs go.
    """
    url = tctx.warehouse_url()
    with dbt_invocation(
        command,
        url,
        new_target_dir(tctx.slug, name),
        profiles_dir=tenant_profiles_dir(tctx.slug, url),
        vars=dbt_vars(tctx.slug, tctx.settings, tctx.tenant.timezone),
        context=context,
    ) as invocation:
        yield invocation
    keep_parse_state(tctx.slug, invocation.target_path)
    _prune(tctx.slug)


def run_dbt(
    command: Sequence[str],
    database_url: str,
    vars: Mapping[str, str] | None = None,
    *,
    target_path: Path | None = None,
    profiles_dir: Path | None = None,
    project_dir: Path = DBT_PROJECT_DIR,
) -> DbtRun:
    """Run `dbt <command>` to the end and collect what it did; output is returned, not printed.

    `target_path` (default `<project>/target`) lets parallel runs keep separate artifacts; without
    `profiles_dir` the profile is written into `<target_path>/profiles`. A failed command is a
    `DbtRun` with `ok == False`: callers decide what a failure means.
    """
    target = target_path or (project_dir / "target")
    if profiles_dir is None:
        profiles_dir = write_profile(target / "profiles", database_url).parent
    run_results = target / "run_results.json"
    run_results.unlink(missing_ok=True)
    with dbt_invocation(
        command, database_url, target, profiles_dir=profiles_dir, vars=vars, project_dir=project_dir
    ) as invocation:
        invocation.is_successful()  # reads dbt's output to the end without echoing it
    results = []
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
        args=list(command),
        target_path=target,
        returncode=invocation.process.wait(),
        log=_log_text(target / "dbt.log"),
        results=results,
    )


def _password(database_url: str) -> str:
    return unquote(urlsplit(database_url).password or "")


def _log_text(path: Path) -> str:
    """dbt's messages from its log file (JSON lines or text), debug lines left out."""
    if not path.exists():
        return ""
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            event: Any = json.loads(line)
        except ValueError:
            lines.append(line)
            continue
        info = event.get("info", {}) if isinstance(event, dict) else {}
        if info.get("level") != "debug":
            lines.append(str(info.get("msg", line)))
    return "\n".join(lines)


def _prune(slug: str) -> None:
    """Old run target dirs go after each run; a failure to delete must not fail the run."""
    try:
        prune_target_dirs(slug)
        prune_legacy_targets()
    except OSError:
        pass
