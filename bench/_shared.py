"""What several benches need: a sandbox in its own process, a limiter that records its calls, a
throwaway installation (database + Dagster home) and the milestones of a Dagster run.

The sandbox runs in a separate process so its event loop does not compete with the bench's
threads for the GIL; the recording limiter is the product's RateLimiter plus timestamps, so a
bench measures the limiter that really paces requests. The benches that launch runs use the
product's own services (`synkro.orchestration.services.up`) on a database and DAGSTER_HOME of
their own, so they never see (or disturb) the installation's runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from synkro.clients.ratelimit import RateLimiter  # noqa: E402


class RecordingLimiter(RateLimiter):
    """Remembers when each request was let through, to measure the achieved rate."""

    def __init__(self, rate: float | None, period: float = 1.0, margin: float = 1.01) -> None:
        super().__init__(rate, period=period, margin=margin)
        self.stamps: list[float] = []
        self._stamp_lock = threading.Lock()

    def acquire(self) -> int:
        slot = super().acquire()
        with self._stamp_lock:
            self.stamps.append(time.monotonic())
        return slot


def start_sandbox(scenario: str, seed: int, timeout: float = 600) -> tuple[subprocess.Popen, dict]:
    """`synkro sandbox serve` in a child process; returns it and the info-file payload."""
    info_file = Path(tempfile.mkdtemp(prefix="synkro-bench-")) / "info.json"
    code = (
        "from sandbox.server import serve; "
        f"serve(port=0, seed={seed}, scenario={scenario!r}, info_file={str(info_file)!r})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    deadline = time.monotonic() + timeout
    while not info_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("sandbox did not start")
        time.sleep(0.2)
    info = json.loads(info_file.read_text())
    shutil.rmtree(info_file.parent, ignore_errors=True)
    return proc, info


@contextlib.contextmanager
def running_sandbox(scenario: str, seed: int = 42) -> Iterator[dict]:
    """`start_sandbox`, saying how long it took, and stopped at the end; yields its info payload."""
    started = time.monotonic()
    proc, info = start_sandbox(scenario, seed)
    print(f"sandbox ({scenario}) up in {time.monotonic() - started:.1f} s (its own process)")
    try:
        yield info
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def control_url(info: dict) -> str:
    """The sandbox's control API (`/_sandbox`) from its info-file payload."""
    return info["amocrm"]["base_url"].rsplit("/amocrm", 1)[0] + "/_sandbox"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def fresh_database() -> tuple[str, str]:
    """A new, empty database on the product's Postgres server (DATABASE_URL's or the embedded
    one); returns the server's admin URL and the database name."""
    import psycopg

    from synkro.db import database_url, with_database

    server = with_database(database_url(), "postgres")
    name = f"synkro_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    return server, name


def drop_database(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')


@dataclass
class Installation:
    database_url: str
    dagster_home: Path
    slugs: list[str]  # tenants whose local state (dbt target, dlt pipelines) is removed at the end
    failed: bool = False  # set by the bench: keep the services' logs


@contextlib.contextmanager
def throwaway_installation() -> Iterator[Installation]:
    """This process pointed at a new database and a temporary DAGSTER_HOME; at the end the local
    services started on them are stopped (`services.down`), then both are removed, also on failure.
    After a failure the logs are copied to a directory that stays (see `keep_logs`).
    """
    from synkro.db import with_database

    server, name = fresh_database()
    home = Path(tempfile.mkdtemp(prefix="synkro-bench-dagster-"))
    saved = {key: os.environ.get(key) for key in ("DATABASE_URL", "DAGSTER_HOME")}
    os.environ["DATABASE_URL"] = with_database(server, name)
    os.environ["DAGSTER_HOME"] = str(home)
    installation = Installation(os.environ["DATABASE_URL"], home, [])
    try:
        yield installation
    except BaseException:
        installation.failed = True
        raise
    finally:
        try:
            from synkro.orchestration import services

            services.down()
            if installation.failed:
                keep_logs(home, installation.slugs)
        finally:
            remove_tenant_state(installation.slugs)
            drop_database(server, name)
            shutil.rmtree(home, ignore_errors=True)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def keep_logs(home: Path, slugs: Iterable[str]) -> None:
    """Copy what explains a failure before it is removed: the services' logs, Dagster's captured
    step logs (`storage/`) and the tenants' dbt logs and run results; prints where they are."""
    from synkro.modeling.dbt_state import tenant_dbt_dir

    kept = Path(tempfile.mkdtemp(prefix="synkro-bench-logs-"))
    for log in (home / "services").glob("*.log"):
        shutil.copy(log, kept)
    if (home / "storage").is_dir():
        shutil.copytree(home / "storage", kept / "storage")
    for slug in slugs:
        runs = tenant_dbt_dir(slug) / "runs"
        for log in [*runs.glob("*/*.log"), *runs.glob("*/run_results.json")]:
            target = kept / "dbt" / slug / log.relative_to(runs)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(log, target)
    print(f"logs kept in {kept}", file=sys.stderr)


def remove_tenant_state(slugs: Iterable[str]) -> None:
    """What runs leave on disk for a tenant outside the database: dbt state and dlt pipelines."""
    from synkro.modeling.dbt_state import tenant_dbt_dir
    from synkro.paths import synkro_home

    for slug in slugs:
        shutil.rmtree(tenant_dbt_dir(slug), ignore_errors=True)
        for pipeline in (synkro_home() / "dlt").glob(f"*_{slug}"):
            shutil.rmtree(pipeline, ignore_errors=True)


def bench_tenant(cp: Any, info: dict, slug: str, *, gemini_rpm: int = 0, chat_id: int | None = None) -> None:
    """A tenant configured as `synkro demo` does (real sandbox credentials, amoCRM connected by
    exchanging an authorization code: a fresh one per tenant, since a code is spent once),
    optionally with a higher Gemini limit and its own Telegram chat."""
    import httpx

    from synkro.demo import configure_tenant

    response = httpx.post(f"{control_url(info)}/amocrm/auth_codes", timeout=10)
    response.raise_for_status()
    fresh = {**info, "amocrm": {**info["amocrm"], "auth_code": response.json()["auth_code"]}}
    configure_tenant(cp, fresh, slug)
    if gemini_rpm:
        cp.settings.update_settings(slug, gemini_rpm=gemini_rpm)
    if chat_id is not None:
        cp.configs.set_config(slug, "telegram", {"chat_id": chat_id}, actor="bench")


# Where a run's time goes between launch and its first step, in the order Dagster records them.
# PLANNED: the first of the ASSET_*_PLANNED events create_run writes (one per asset and asset check)
# once it has the job snapshot and the execution plan from the code server; RUN_ENQUEUED follows the
# last of them. Dagster 1.13 writes no RUN_DEQUEUED: the daemon's dequeue is the RUN_STARTING it
# records just before calling the run launcher. WORKER_UP: the run worker's engine event "Started
# process for run" — the code server spawned a fresh interpreter, which imported dagster and opened
# the instance (the launcher's call returns then). RUN_START: the worker imported the code location.
MILESTONES = {
    "PLANNED": "create_run writes the planned-asset events",
    "RUN_ENQUEUED": "queued (submit_run)",
    "RUN_DEQUEUED": "dequeued by the daemon",
    "RUN_STARTING": "dequeued; the daemon calls the run launcher",
    "WORKER_UP": "run worker spawned, dagster imported, instance open",
    "RUN_START": "run worker imported the code location",
    "STEP_START": "first Dagster step started",
}
WORKER_UP_MESSAGE = "Started process for run"
RUN_ENDS = ("RUN_SUCCESS", "RUN_FAILURE", "RUN_CANCELED")


@dataclass
class RunEvents:
    """A Dagster run's event log, reduced to what the benches print (epoch seconds)."""

    first: dict[str, float]  # event type name (or milestone) → its first timestamp
    planned: int  # ASSET_*_PLANNED events
    steps: dict[str, float]  # step key → STEP_START to STEP_SUCCESS/STEP_FAILURE, seconds

    @property
    def started(self) -> float | None:
        return self.first.get("RUN_STARTING")

    @property
    def ended(self) -> float | None:
        return min((self.first[k] for k in RUN_ENDS if k in self.first), default=None)


def run_events(instance: Any, dagster_run_id: str) -> RunEvents:
    first: dict[str, float] = {}
    starts: dict[str, float] = {}
    steps: dict[str, float] = {}
    planned = 0
    for record in instance.all_logs(dagster_run_id):
        event = record.dagster_event
        if event is None:
            continue
        kind = event.event_type.name  # RUN_*: PIPELINE_* are the old aliases
        if kind == "ENGINE_EVENT" and (record.message or "").startswith(WORKER_UP_MESSAGE):
            kind = "WORKER_UP"
        if kind.endswith("_PLANNED"):
            planned += 1
            first.setdefault("PLANNED", record.timestamp)
        first.setdefault(kind, record.timestamp)
        if kind == "STEP_START":
            starts[record.step_key] = record.timestamp
        elif kind in {"STEP_SUCCESS", "STEP_FAILURE"} and record.step_key in starts:
            steps[record.step_key] = record.timestamp - starts[record.step_key]
    return RunEvents(first, planned, steps)
