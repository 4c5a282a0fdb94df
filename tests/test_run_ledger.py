"""The run ledger's rules on a real control plane: how a Dagster run's end closes its job_runs row.

Every launcher's runs are closed by these rules (the run-status sensors and the CLI watcher both
call them), so they are tested here directly, with the tags each launcher really sets.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from synkro.controlplane import ControlPlane, open_controlplane
from synkro.orchestration import tags
from synkro.orchestration.ledger import RunLedger, needs_fallback_report, step_progress
from synkro.windows import Window


@pytest.fixture
def cp(db_env: str) -> ControlPlane:
    return open_controlplane()


@pytest.fixture
def slug(cp: ControlPlane) -> str:
    name = "l" + uuid.uuid4().hex[:8]
    cp.tenants.create(name, "Ledger", timezone="Europe/Moscow", actor="test")
    return name


def _dagster_id() -> str:
    return str(uuid.uuid4())


def _opened(ledger: RunLedger, slug: str, job: str = "forced_report") -> tuple[int, dict[str, str]]:
    row = ledger.open(slug, job, "manual", f"test:{uuid.uuid4().hex}")
    return row.id, {tags.PARTITION: slug, tags.TENANT: slug, tags.JOB_RUN_ID: str(row.id)}


def test_a_launched_run_closes_once_whoever_reports_its_end_first(cp: ControlPlane, slug: str) -> None:
    ledger = RunLedger(cp)
    row_id, run_tags = _opened(ledger, slug)
    assert cp.jobs.get_run(row_id).status == "queued"
    run_id = _dagster_id()
    ledger.step_started(row_id, "amocrm", dagster_run_id=run_id)
    assert cp.jobs.get_run(row_id).status == "running"
    first = ledger.close_dagster_run(run_id, "forced_report", run_tags, "succeeded")
    again = ledger.close_dagster_run(run_id, "forced_report", run_tags, "failed", failure="late")
    assert first.status == again.status == "succeeded" and again.error is None
    assert first.finished_at == again.finished_at


def test_a_ui_run_gets_a_row_keyed_by_its_dagster_id(cp: ControlPlane, slug: str) -> None:
    ledger = RunLedger(cp)
    run_id = _dagster_id()
    start = datetime(2026, 11, 30, 19, 1, tzinfo=UTC)
    ui_tags = {tags.PARTITION: slug, tags.WINDOW_START: start.isoformat()}
    ui_tags[tags.WINDOW_END] = (start + timedelta(days=1)).isoformat()
    row = ledger.row_for(run_id, "transform", ui_tags)
    assert (row.tenant, row.job, row.trigger, row.dagster_run_id) == (slug, "transform", "manual", run_id)
    assert row.window_start == start
    assert ledger.row_for(run_id, "transform", ui_tags).id == row.id  # made once
    closed = ledger.close_dagster_run(run_id, "transform", ui_tags, "failed", failure="dbt build failed")
    assert closed.status == "failed" and closed.error == "dbt build failed"
    assert [e.message for e in cp.jobs.list_events(row.id)] == ["run failed: dbt build failed"]


def test_a_failed_load_keeps_the_row_open_for_the_report_only_run(cp: ControlPlane, slug: str) -> None:
    ledger = RunLedger(cp)
    row_id, run_tags = _opened(ledger, slug)
    run_id = _dagster_id()
    ledger.step_started(row_id, "amocrm", dagster_run_id=run_id)
    ledger.step_failed(row_id, "amocrm", "AmoCRMAccountError: 402 Payment Required")
    kept = ledger.close_dagster_run(
        run_id, "forced_report", run_tags, "failed", failed_steps={"amocrm_raw"}, failure="step failed"
    )
    assert kept.status == "running" and kept.step == "fallback"
    assert kept.details["fallback_for"] == run_id
    fallback_tags = {**run_tags, tags.FALLBACK: "true"}
    closed = ledger.close_dagster_run(_dagster_id(), "forced_report", fallback_tags, "succeeded")
    # The report went out, but a step of the run failed: the run as a whole failed, naming it.
    assert closed.status == "failed" and closed.error == "amocrm: AmoCRMAccountError: 402 Payment Required"
    messages = [e.message for e in cp.jobs.list_events(row_id)]
    assert messages.count("an upstream step failed: sending the report from the data there is") == 1


def test_a_failed_delivery_or_another_job_does_not_wait_for_a_fallback(cp: ControlPlane, slug: str) -> None:
    ledger = RunLedger(cp)
    _, run_tags = _opened(ledger, slug)
    closed = ledger.close_dagster_run(
        _dagster_id(), "forced_report", run_tags, "failed", failed_steps={"report__telegram_delivery"}
    )
    assert closed.status == "failed"
    _, run_tags = _opened(ledger, slug, job="ingestion")
    closed = ledger.close_dagster_run(
        _dagster_id(), "ingestion", run_tags, "failed", failed_steps={"amocrm_raw"}
    )
    assert closed.status == "failed"


def test_a_cancelled_run_is_recorded_as_stopped(cp: ControlPlane, slug: str) -> None:
    ledger = RunLedger(cp)
    _, run_tags = _opened(ledger, slug)
    closed = ledger.close_dagster_run(_dagster_id(), "forced_report", run_tags, "cancelled")
    assert closed.status == "cancelled" and closed.error == "stopped by operator"


def test_steps_set_progress_state_and_window(cp: ControlPlane, slug: str) -> None:
    ledger = RunLedger(cp)
    row_id, _ = _opened(ledger, slug)
    ledger.step_started(row_id, "analysis")
    ledger.step_done(row_id, "analysis", "analysis: 9 scored", {"analyzed": 9})
    ledger.step_note(row_id, "telegram", "telegram failed on attempt 1, retrying: TimedOut")
    start = datetime(2026, 11, 30, 19, 1, tzinfo=UTC)
    ledger.set_window(row_id, Window(start, start + timedelta(days=1), "2026-12-01"))
    row = cp.jobs.get_run(row_id)
    assert row.progress == round(3 / 7, 3) and row.step == "analysis"
    assert ledger.step_states(row_id) == {"analysis": "ok"}  # a retry note changes no state
    assert row.window_start == start
    events = cp.jobs.list_events(row_id)
    assert [(e.level, e.step) for e in events] == [
        ("info", "analysis"),
        ("info", "analysis"),
        ("warning", "telegram"),
    ]


def test_step_progress_follows_the_lines_and_the_end_of_the_run(cp: ControlPlane, slug: str) -> None:
    ledger = RunLedger(cp)
    row_id, run_tags = _opened(ledger, slug)

    def states() -> dict[str, str]:
        progress = step_progress(cp.jobs.get_run(row_id), cp.jobs.list_events(row_id))
        return {p.step: p.status for p in progress}

    assert set(states().values()) == {"waiting"}
    ledger.step_started(row_id, "amocrm")
    ledger.step_done(row_id, "amocrm", "amocrm loaded 12 rows")
    ledger.step_started(row_id, "radist")
    ledger.step_done(row_id, "radist", "radist skipped: tenant mode is amocrm_only")
    ledger.step_started(row_id, "dbt_core")
    ledger.step_note(row_id, "dbt_core", "dbt_core failed on attempt 1, retrying: OperationalError")
    assert states()["dbt_core"] == "running"  # a retry note changes nothing
    ledger.step_failed(row_id, "dbt_core", "DbtError: boom")
    ledger.step_started(row_id, "report")
    progress = step_progress(cp.jobs.get_run(row_id), cp.jobs.list_events(row_id))
    assert [p.step for p in progress] == [
        "amocrm",
        "radist",
        "dbt_core",
        "analysis",
        "dbt_reporting",
        "report",
        "telegram",
    ]
    assert [p.status for p in progress] == [
        "done",
        "skipped",
        "failed",
        "waiting",
        "waiting",
        "running",
        "waiting",
    ]
    assert progress[0].summary == "amocrm loaded 12 rows" and progress[3].summary is None
    ledger.close_dagster_run(_dagster_id(), "forced_report", {**run_tags, tags.FALLBACK: "true"}, "failed")
    assert list(states().values()) == ["done", "skipped", "failed", "skipped", "skipped", "failed", "skipped"]


def test_fallback_rule() -> None:
    assert needs_fallback_report({"amocrm_raw"})
    assert needs_fallback_report({"radist_raw", "dbt_core", None})
    assert not needs_fallback_report({"report__telegram_delivery"})
    assert not needs_fallback_report({"amocrm_raw", "report__daily_report"})
    assert not needs_fallback_report(set())


def test_a_step_that_stopped_short_ends_the_run_succeeded_with_warnings(cp: ControlPlane, slug: str) -> None:
    ledger = RunLedger(cp)
    row_id, run_tags = _opened(ledger, slug)
    ledger.step_started(row_id, "analysis")
    ledger.step_warning(row_id, "analysis", "Gemini rejected the API key (invalid_key)")
    ledger.step_started(row_id, "report")
    ledger.step_done(row_id, "report", "report built")
    assert ledger.step_states(row_id) == {
        "analysis": "Gemini rejected the API key (invalid_key)",
        "report": "ok",
    }
    closed = ledger.close_dagster_run(_dagster_id(), "forced_report", run_tags, "succeeded")
    assert closed.status == "succeeded_with_warnings" and closed.progress == 1.0
    assert closed.error == "analysis: Gemini rejected the API key (invalid_key)"
    assert closed.finished_at is not None
    events = [(e.level, e.message) for e in cp.jobs.list_events(row_id)]
    assert ("warning", "analysis stopped: Gemini rejected the API key (invalid_key)") in events
    assert events[-1] == ("warning", "run succeeded with warnings: " + closed.error)
    progress = {p.step: p.status for p in step_progress(closed, cp.jobs.list_events(row_id))}
    assert (progress["analysis"], progress["report"], progress["telegram"]) == ("done", "done", "skipped")


def test_a_warning_does_not_hide_a_failure(cp: ControlPlane, slug: str) -> None:
    ledger = RunLedger(cp)
    row_id, run_tags = _opened(ledger, slug)
    ledger.step_warning(row_id, "analysis", "quota exhausted")
    ledger.step_warning(row_id, "analysis", "quota still exhausted")  # a retry replaces the line
    assert ledger.warnings(row_id) == ["analysis: quota still exhausted"]
    ledger.step_failed(row_id, "telegram", "Forbidden: bot was blocked by the user")
    closed = ledger.close_dagster_run(_dagster_id(), "forced_report", run_tags, "failed")
    assert closed.status == "failed" and closed.error.startswith("telegram: ")
