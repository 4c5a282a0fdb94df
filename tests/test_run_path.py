"""Acceptance of the one run path: every run goes through the Dagster instance's queue.

A tenant on the sandbox, the test session's real services (code server, daemon; the webserver
for the UI test), and the product's own entry points: `synkro run|load|stop|runs` as processes,
the Dagster webserver's GraphQL API as the UI uses it, and the schedule sensor in the daemon.
The tests build on each other in file order (one tenant, one loaded warehouse).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from sandbox.server import SandboxServer
from synkro.controlplane import open_controlplane
from synkro.demo import configure_tenant
from synkro.orchestration import services, tags
from synkro.ports import free_port
from synkro.windows import Window, last_closed_business_day
from tests.e2e_helpers import SYNKRO, E2ETenant, new_private_chat, synkro_cli, telegram_messages
from tests.fixtures.services import DagsterServices

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def tenant(sandbox: SandboxServer, dagster_services: DagsterServices) -> Iterator[E2ETenant]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", dagster_services.database_url)
        mp.setenv("DAGSTER_HOME", str(dagster_services.home))
        cp = open_controlplane()
        slug = "rp" + uuid.uuid4().hex[:6]
        # An authorization code is spent once: this tenant connects amoCRM with a fresh one.
        info = sandbox.info()
        code = httpx.post(f"{sandbox.urls.control}/amocrm/auth_codes", timeout=10).json()["auth_code"]
        info["amocrm"] = {**info["amocrm"], "auth_code": code}
        configure_tenant(cp, info, slug)
        cp.settings.update_settings(slug, gemini_rpm=600)
        chat_id = new_private_chat(sandbox.urls.control)
        cp.configs.set_config(slug, "telegram", {"chat_id": chat_id}, actor="test")
        yield E2ETenant(slug, cp, sandbox, chat_id, dagster_services.env(), services=dagster_services)


@pytest.fixture
def instance(tenant: E2ETenant, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", tenant.env["DATABASE_URL"])
    monkeypatch.setenv("DAGSTER_HOME", tenant.env["DAGSTER_HOME"])
    from synkro.orchestration.instance import open_instance

    return open_instance()


def _cli(tenant: E2ETenant, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(SYNKRO), *args], env=tenant.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _event_time(instance, run_id: str, event_type) -> float:
    (record,) = instance.get_records_for_run(run_id, of_type=event_type).records
    return record.event_log_entry.timestamp


def _wait(predicate, timeout: float, what: str, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _window_args(window: Window) -> list[str]:
    """`--from … --to …` as a user types them: naive times in the tenant's zone."""
    zone = ZoneInfo("Europe/Moscow")
    start, end = (
        t.astimezone(zone).replace(tzinfo=None).isoformat(timespec="minutes")
        for t in (window.start, window.end)
    )
    return ["--from", start, "--to", end]


def _running_in(tenant: E2ETenant, step: str, timeout: float, every: float = 1.0):
    """The tenant's row once it runs `step`."""
    return _wait(
        lambda: next(
            (r for r in tenant.cp.jobs.list_runs(tenant.slug) if r.status == "running" and r.step == step),
            None,
        ),
        timeout,
        f"a run in its {step} step",
        every=every,
    )


def _backdate(tenant: E2ETenant, days: int) -> None:
    """The tenant existed `days` ago, so the schedule owes it the reports of those days."""
    with tenant.cp.engine.begin() as conn:
        conn.exec_driver_sql(
            "update synkro.tenants set created_at = least(created_at, %s) where slug = %s",
            (datetime.now(UTC) - timedelta(days=days), tenant.slug),
        )


def test_two_runs_of_one_tenant_queue_and_deliver_once(tenant: E2ETenant, instance) -> None:
    """Two `synkro run` together: the second waits in the queue behind the first, then finds
    the report sent; the owner gets it once."""
    import dagster as dg

    first = _cli(tenant, "run", tenant.slug)
    time.sleep(1.5)
    second = _cli(tenant, "run", tenant.slug)
    out_first, out_second = first.communicate(timeout=840), second.communicate(timeout=840)
    assert first.returncode == 0, out_first[0]
    assert second.returncode == 0, out_second[0]
    assert "queued behind run" in out_second[0], out_second[0]
    assert "telegram: already_sent" in out_second[0], out_second[0]

    rows = [r for r in tenant.cp.jobs.list_runs(tenant.slug) if r.job == "forced_report"]
    assert len(rows) == 2 and {r.status for r in rows} == {"succeeded"}
    older, newer = sorted(rows, key=lambda r: r.id)
    # Dagster started the second run only after the first one had ended.
    finished = _event_time(instance, older.dagster_run_id, dg.DagsterEventType.RUN_SUCCESS)
    starting = _event_time(instance, newer.dagster_run_id, dg.DagsterEventType.RUN_STARTING)
    assert starting >= finished

    report = tenant.cp.reports.find_report(tenant.slug, "daily", older.window_start, older.window_end)
    assert report.status == "sent"
    delivered = telegram_messages(tenant)
    assert len(delivered) == len(report.delivery["message_ids"]) and not report.delivery.get("history")


def test_runs_from_the_ui_the_schedule_and_the_cli_all_get_a_row_that_closes(
    tenant: E2ETenant, instance
) -> None:
    from dagster_graphql import DagsterGraphQLClient

    before = {r.id for r in tenant.cp.jobs.list_runs(tenant.slug)}
    # The UI: the webserver's GraphQL launch, with only the partition tag the UI sets.
    port = free_port()
    running = services.up(ui=True, ui_port=port)
    assert running.ui_url
    client = DagsterGraphQLClient("127.0.0.1", port_number=port)
    ui_run = client.submit_job_execution("transform", tags={tags.PARTITION: tenant.slug})

    # The schedule: the tenant existed yesterday, so yesterday's report is due now.
    _backdate(tenant, days=2)
    tenant.cp.settings.update_settings(tenant.slug, forced_lookback_days=1)
    tenant.services.set_sensor("daily_report_sensor", on=True)
    try:
        cli = synkro_cli(["load", tenant.slug, "--source", "amocrm"], tenant.env)
        assert cli.returncode == 0, cli.stdout + cli.stderr
        rows = _wait(
            lambda: (
                found
                if len(found := [r for r in tenant.cp.jobs.list_runs(tenant.slug) if r.id not in before]) >= 3
                and all(r.status in ("succeeded", "failed", "cancelled") for r in found)
                else None
            ),
            600,
            "the UI, scheduled and CLI runs to close",
            every=2,
        )
    finally:
        tenant.services.set_sensor("daily_report_sensor", on=False)
    by_kind = {
        "ui": [r for r in rows if r.idempotency_key == f"dagster:{ui_run}"],
        "scheduled": [r for r in rows if r.trigger == "scheduled"],
        "cli": [r for r in rows if r.job == "amocrm_ingestion"],
    }
    assert all(len(v) == 1 for v in by_kind.values()), rows
    assert {k: v[0].details.get("launched_by") for k, v in by_kind.items()} == {
        "ui": "ui",
        "scheduled": "schedule",
        "cli": "cli",
    }
    assert {r.status for v in by_kind.values() for r in v} == {"succeeded"}, rows
    listed = json.loads(synkro_cli(["runs", tenant.slug, "--json"], tenant.env).stdout)
    assert {r["id"] for r in listed} >= {v[0].id for v in by_kind.values()}
    yesterday = last_closed_business_day(datetime.now(UTC), "Europe/Moscow", "22:01")
    assert by_kind["scheduled"][0].window_start == yesterday.start


def test_stop_ends_a_run_the_schedule_started(tenant: E2ETenant, instance) -> None:
    """A scheduled run (no CLI anywhere) is stopped by `synkro stop`."""
    _backdate(tenant, days=3)
    tenant.cp.settings.update_settings(tenant.slug, forced_lookback_days=2)
    tenant.sandbox.state.set_faults("amocrm", latency_ms=1500)
    tenant.services.set_sensor("daily_report_sensor", on=True)
    try:
        row = _wait(
            lambda: next(
                (
                    r
                    for r in tenant.cp.jobs.list_runs(tenant.slug)
                    if r.trigger == "scheduled" and r.status == "running" and r.step == "amocrm"
                ),
                None,
            ),
            300,
            "a scheduled run in its amoCRM step",
        )
        stopped = synkro_cli(["stop", tenant.slug], tenant.env, timeout=180)
    finally:
        tenant.services.set_sensor("daily_report_sensor", on=False)
        tenant.sandbox.state.reset_faults()
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "stopping run" in stopped.stdout
    closed = tenant.cp.jobs.get_run(row.id)
    assert closed.status == "cancelled", closed
    assert instance.get_run_by_id(closed.dagster_run_id).status.value == "CANCELED"


def test_a_run_whose_code_server_died_is_failed_and_the_next_delivers_once(
    tenant: E2ETenant, instance
) -> None:
    """Kill the code server (and with it the run worker) mid-run: after `synkro up` Dagster's run
    monitoring fails the run, the tenant's queue is free, and the next run delivers once."""
    base = last_closed_business_day(datetime.now(UTC), "Europe/Moscow", "22:01")
    window = Window(base.start + timedelta(hours=3), base.end, "forced")  # a window of its own
    args = ["run", tenant.slug, *_window_args(window)]
    tenant.sandbox.state.set_faults("amocrm", latency_ms=1500)
    follower = _cli(tenant, *args)
    try:
        row = _running_in(tenant, "amocrm", 300)
        code_server = services.status().running["code_server"]
        os.killpg(code_server.pid, signal.SIGKILL)
        services.up()
        output = follower.communicate(timeout=300)[0]
    finally:
        tenant.sandbox.state.reset_faults()
    assert follower.returncode == 1, output
    failed = tenant.cp.jobs.get_run(row.id)
    assert failed.status == "failed", failed
    assert instance.get_run_by_id(failed.dagster_run_id).status.value == "FAILURE"
    messages_before = telegram_messages(tenant)

    again = synkro_cli(args, tenant.env, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    report = tenant.cp.reports.find_report(tenant.slug, "daily", window.start, window.end)
    assert report.status == "sent"
    new = telegram_messages(tenant)[len(messages_before) :]
    assert len(new) == len(report.delivery["message_ids"]) and not report.delivery.get("history")


def test_no_wait_refuses_while_a_run_is_active(tenant: E2ETenant) -> None:
    # Slow enough that the load is still running when a second CLI process has started (seconds
    # on a loaded machine); the fault is reset as soon as the refusal is seen.
    tenant.sandbox.state.set_faults("amocrm", latency_ms=5000)
    running = _cli(tenant, "load", tenant.slug, "--source", "amocrm")
    try:
        _wait(
            lambda: any(r.status == "running" for r in tenant.cp.jobs.list_runs(tenant.slug)),
            300,
            "the load to start",
        )
        refused = synkro_cli(["run", tenant.slug, "--no-wait"], tenant.env, timeout=120)
    finally:
        tenant.sandbox.state.reset_faults()
        running.communicate(timeout=600)
    assert refused.returncode == 1
    assert "already has run" in refused.stderr and "amocrm_ingestion" in refused.stderr, refused.stderr


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="restarts the embedded Postgres")
def test_a_postgres_restart_during_analysis_ends_with_the_report_delivered_once(
    tenant: E2ETenant, instance
) -> None:
    """Stop and start the embedded server while the analysis step runs: the step's transient
    failure is retried by Dagster, and the report goes out once."""
    from synkro.analysis.rubric import DEFAULT_RUBRIC
    from synkro.db import embedded

    base = last_closed_business_day(datetime.now(UTC), "Europe/Moscow", "22:01")
    window = Window(base.start + timedelta(hours=6), base.end, "forced")  # a report of its own
    # A new rubric version: every dialog of the window is scored again, so analysis takes a while.
    rubric = DEFAULT_RUBRIC.model_dump(mode="json") | {"name": "Restart test rubric"}
    tenant.cp.settings.update_settings(tenant.slug, rubric=rubric)
    messages_before = telegram_messages(tenant)
    # Each Gemini answer takes 4 s: the step's warehouse connection dies while it waits for the
    # first one, and the server is back before the answer is to be written.
    tenant.sandbox.state.set_faults("gemini", latency_ms=4000)
    follower = _cli(tenant, "run", tenant.slug, *_window_args(window))
    try:
        row = _running_in(tenant, "analysis", 420, every=0.2)
        assert embedded.stop()
        time.sleep(1)
        embedded.start()
        output = follower.communicate(timeout=600)[0]
    finally:
        tenant.sandbox.state.reset_faults()
    assert follower.returncode == 0, output
    events = [e.message for e in tenant.cp.jobs.list_events(row.id)]
    # The failed attempt is in Dagster's log (the control plane was down to record it); the
    # retry Dagster made is on the row.
    assert "analysis started (attempt 2)" in events, events
    report = tenant.cp.reports.find_report(tenant.slug, "daily", window.start, window.end)
    assert report.status == "sent"
    new = telegram_messages(tenant)[len(messages_before) :]
    assert len(new) == len(report.delivery["message_ids"]) and not report.delivery.get("history")
