"""Per-tenant dlt pipelines: one pipeline per tenant and source, dataset `<slug>_raw`.

Plain Python on purpose: the Dagster assets, the `synkro load` command and the tests all call
`make_pipeline` + `run_load`, so a load behaves the same whoever starts it. The pipeline name
carries the tenant (`amocrm_<slug>`, `radist_<slug>`) because dlt keeps incremental cursors in the
pipeline state: a shared name would mix tenants' cursors (stack.md §3). State is restored from the
destination, so a wiped local working dir (new container, dagster-dlt temp dirs) loses nothing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

# dlt reads its runtime config lazily; turning telemetry off before any pipeline exists is enough.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt
from dlt.common.pipeline import LoadInfo

from synkro import tenancy
from synkro.paths import synkro_home

SourceName = Literal["amocrm", "radist"]

# dlt loads Postgres with INSERT VALUES statements of up to `max_query_length` bytes; it reads half
# that much of a load file per statement and copies it several times (str, joined SQL, encoded
# bytes), in up to 20 parallel load jobs. At dlt's 32 MB that was ~200 MB at the peak of a `large`
# load, growing with the account until files reach 16 MB. 1 MB statements cost a few more round
# trips and keep a load job's memory small whatever the file size. (CSV + COPY would stream too,
# but dlt 1.31's CSV writer counts columns as rows, which breaks the rows-loaded figures.)
MAX_QUERY_BYTES = 1024 * 1024


def check_slug(slug: str) -> str:
    """Slugs become schema and pipeline names: the rule is synkro.tenancy's."""
    return tenancy.validate_slug(slug)


def dataset_name(slug: str) -> str:
    return tenancy.raw_schema(slug)


def pipeline_name(slug: str, source_name: str) -> str:
    return tenancy.names(slug).pipeline(source_name)


def dlt_credentials(destination_url: str) -> str:
    """The DSN with a password: dlt's postgres config refuses a DSN without one, even for trust auth."""
    parts = urlsplit(destination_url)
    if parts.password or not parts.username:
        return destination_url
    host = parts.hostname or ""
    netloc = f"{quote(parts.username, safe='')}:trust@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def make_pipeline(slug: str, source_name: SourceName | str, destination_url: str) -> dlt.Pipeline:
    """The tenant's pipeline for one source, writing to `<slug>_raw` at `destination_url`."""
    return dlt.pipeline(
        pipeline_name=pipeline_name(slug, source_name),
        dataset_name=dataset_name(slug),
        destination=dlt.destinations.postgres(
            credentials=dlt_credentials(destination_url), max_query_length=MAX_QUERY_BYTES
        ),
        pipelines_dir=str(synkro_home() / "dlt"),
        progress="log" if os.environ.get("SYNKRO_DLT_PROGRESS") else None,
    )


def row_counts(pipeline: dlt.Pipeline) -> dict[str, int]:
    """Rows written per contract table by the pipeline's last run (dlt's own tables left out)."""
    trace = pipeline.last_trace
    info = trace.last_normalize_info if trace is not None else None
    counts = dict(info.row_counts) if info is not None else {}
    return {table: n for table, n in sorted(counts.items()) if not table.startswith("_dlt")}


def run_load(
    slug: str,
    source: Any,
    *,
    destination_url: str,
    source_name: SourceName | str | None = None,
    pipeline: dlt.Pipeline | None = None,
) -> dict[str, int]:
    """Run one load for a tenant and return row counts per table; raises on any failed job.

    `source_name` defaults to the dlt source's name (`amocrm` / `radist`).
    """
    name = source_name or getattr(source, "name", None)
    if not name:
        raise ValueError("source_name is required for a source without a name")
    pipe = pipeline or make_pipeline(slug, name, destination_url)
    info: LoadInfo = pipe.run(source)
    info.raise_on_failed_jobs()
    delete_loaded_packages(pipe, info.loads_ids)
    return row_counts(pipe)


def delete_loaded_packages(pipe: dlt.Pipeline, load_ids: list[str]) -> None:
    """Remove the completed load packages of a successful run (issue 13 item 5).

    Why: dlt keeps every loaded row in them (`*.insert_values.gz`) on local disk; once the rows are
    in the warehouse the copy is only a leak. Schema and state live outside `load/loaded`.
    """
    loaded = Path(pipe.working_dir) / "load" / "loaded"
    for load_id in load_ids:
        package = loaded / load_id
        if package.is_dir() and package.resolve().is_relative_to(loaded.resolve()):
            shutil.rmtree(package)
