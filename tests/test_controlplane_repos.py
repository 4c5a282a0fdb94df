"""The control plane's Python API: optimistic locking, runs, reports, settings, users, audit scrub."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from synkro.controlplane import (
    BadInputError,
    ConcurrentUpdateError,
    ControlPlane,
    DuplicateRunError,
    NotFoundError,
)
from synkro.integrations.schemas import ConfigValidationError
from synkro.secrets import SecretBox


def _slug() -> str:
    return f"r{uuid.uuid4().hex[:10]}"


@pytest.fixture
def cp(database_url: str) -> ControlPlane:
    return ControlPlane(database_url, SecretBox([Fernet.generate_key()]))


@pytest.fixture
def slug(cp: ControlPlane) -> str:
    slug = _slug()
    cp.tenants.create(slug, "Repo Test", "Europe/Moscow", actor="test")
    return slug


AMO = {
    "subdomain": "acme",
    "client_id": "cid",
    "redirect_uri": "https://example.com/cb",
    "client_secret": "client-secret-value-1",
    "access_token": "access-token-value-1",
    "refresh_token": "refresh-token-value-1",
    "expires_at": 1_800_000_000,
}


def test_concurrent_token_rotation_is_detected_not_lost(cp: ControlPlane, slug: str):
    """Two writers read version N and both write: exactly one wins, the other is told."""
    base = cp.configs.set_config(slug, "amocrm", AMO, actor="test")
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def writer(name: str) -> None:
        barrier.wait()
        try:
            outcomes[name] = cp.configs.update_config_fields(
                slug,
                "amocrm",
                {"access_token": f"access-{name}-0000", "refresh_token": f"refresh-{name}-0000"},
                expected_version=base.version,
            )
        except ConcurrentUpdateError as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    errors = [v for v in outcomes.values() if isinstance(v, ConcurrentUpdateError)]
    winners = [name for name, v in outcomes.items() if not isinstance(v, ConcurrentUpdateError)]
    assert len(errors) == 1 and len(winners) == 1
    assert errors[0].expected_version == base.version and errors[0].actual_version == base.version + 1
    stored = cp.configs.get_record(slug, "amocrm")
    assert stored.version == base.version + 1
    assert stored.config.refresh_token.get_secret_value() == f"refresh-{winners[0]}-0000"
    # The untouched fields survived the machine write.
    assert stored.config.client_secret.get_secret_value() == AMO["client_secret"]


def test_update_with_stale_version_after_operator_change(cp: ControlPlane, slug: str):
    read = cp.configs.set_config(slug, "amocrm", AMO)
    cp.configs.set_config(slug, "amocrm", {"client_secret": "operator-new-secret"})
    with pytest.raises(ConcurrentUpdateError):
        cp.configs.update_config_fields(
            slug, "amocrm", {"access_token": "x" * 12}, expected_version=read.version
        )
    assert cp.configs.get_config(slug, "amocrm").client_secret.get_secret_value() == "operator-new-secret"


def test_status_and_version_bookkeeping(cp: ControlPlane, slug: str):
    record = cp.configs.set_config(slug, "gemini", {"api_key": "gemini-key-value-1"})
    assert record.config.model == "gemini-3.5-flash-lite" and record.config.api_version == "v1beta"
    assert record.config.effective_base_url == "https://generativelanguage.googleapis.com"
    cp.configs.set_config_status(slug, "gemini", "error", "400 API_KEY_INVALID")
    checked = cp.configs.get_record(slug, "gemini")
    assert (checked.status, checked.last_error, checked.version) == ("error", "400 API_KEY_INVALID", 1)
    assert checked.last_checked_at is not None
    rotated = cp.configs.update_config_fields(
        slug, "gemini", {"model": "gemini-3.8-flash"}, expected_version=1
    )
    assert rotated.status == "error" and rotated.version == 2  # machine writes keep the check result
    reset = cp.configs.set_config(slug, "gemini", {"api_key": "gemini-key-value-2"})
    assert (reset.status, reset.last_error, reset.version) == ("unknown", None, 3)
    with pytest.raises(BadInputError):
        cp.configs.set_config_status(slug, "gemini", "great")


def test_invalid_merged_config_is_refused(cp: ControlPlane, slug: str):
    cp.configs.set_config(slug, "telegram", {"bot_token": "123:abcdefghijkl", "chat_id": "@reports_channel"})
    with pytest.raises(ConfigValidationError) as info:
        cp.configs.set_config(slug, "telegram", {"bot_token": None})
    assert "bot_token" in str(info.value)
    assert cp.configs.get_config(slug, "telegram").chat_id == "@reports_channel"


def test_wrong_master_key_is_a_clear_error(cp: ControlPlane, slug: str, database_url: str, monkeypatch):
    from synkro.secrets import SecretKeyError

    cp.configs.set_config(slug, "radist", {"api_key": "radist-key-value"})
    monkeypatch.setenv("SYNKRO_SECRET_KEY", Fernet.generate_key().decode())
    other = ControlPlane(database_url, SecretBox([Fernet.generate_key()]))
    with pytest.raises(SecretKeyError, match="rotate"):
        other.configs.get_config(slug, "radist")


def test_job_runs_and_events(cp: ControlPlane, slug: str):
    start = datetime(2026, 3, 1, 19, 1, tzinfo=UTC)
    key = f"{slug}:daily:{start.isoformat()}"
    run = cp.jobs.create_run(
        slug, "daily_report", "scheduled", key, window_start=start, window_end=start + timedelta(days=1)
    )
    assert (run.status, run.progress, run.attempt, run.tenant) == ("queued", 0.0, 1, slug)
    with pytest.raises(DuplicateRunError) as dup:
        cp.jobs.create_run(slug, "daily_report", "scheduled", key)
    assert dup.value.existing.id == run.id

    running = cp.jobs.update_run(
        run.id, status="running", step="extract", progress=0.25, dagster_run_id="d-1"
    )
    assert running.started_at is not None and running.finished_at is None
    cp.jobs.add_event(
        run.id, "loaded 10 leads", step="extract", data={"rows": 10, "api_key": "leaky-key-1234"}
    )
    cp.jobs.add_event(run.id, "429 from Radist", level="warning", step="extract")
    done = cp.jobs.finish_run(run.id)
    assert (done.status, done.progress) == ("succeeded", 1.0) and done.finished_at is not None

    events = cp.jobs.list_events(run.id)
    assert [e.message for e in events] == ["loaded 10 leads", "429 from Radist"]
    assert events[0].data == {"rows": 10, "api_key": "••••1234"}
    assert [r.id for r in cp.jobs.list_runs(slug)] == [run.id]
    with pytest.raises(BadInputError):
        cp.jobs.update_run(run.id, progress=1.5)
    with pytest.raises(BadInputError):
        cp.jobs.create_run(slug, "daily_report", "cron", f"{key}-x")


def test_reports_lifecycle(cp: ControlPlane, slug: str):
    start = datetime(2026, 3, 1, 19, 1, tzinfo=UTC)
    end = start + timedelta(days=1)
    draft = cp.reports.create_draft(slug, "daily", start, end, summary="3 dialogs")
    assert draft.status == "draft"
    assert cp.reports.find_report(slug, "daily", start, end).id == draft.id
    assert cp.reports.find_report(slug, "weekly", start, end) is None
    cp.reports.update_report(draft.id, status="ready", body="<b>report</b>", data={"dialogs": 3})
    sent = cp.reports.set_status(draft.id, "sent", delivery={"chat_id": -100, "message_ids": [5, 6]})
    assert sent.status == "sent" and sent.sent_at is not None
    assert sent.delivery == {"chat_id": -100, "message_ids": [5, 6]} and sent.body == "<b>report</b>"
    with pytest.raises(BadInputError):
        cp.reports.create_draft(slug, "daily", end, start)
    with pytest.raises(BadInputError):
        cp.reports.create_draft(slug, "daily", start.replace(tzinfo=None), end)
    with pytest.raises(BadInputError):
        cp.reports.set_status(draft.id, "delivered")


def test_create_draft_of_a_window_that_has_a_report_returns_that_report(cp: ControlPlane, slug: str):
    start = datetime(2026, 3, 2, 19, 1, tzinfo=UTC)
    end = start + timedelta(days=1)
    first = cp.reports.create_draft(slug, "daily", start, end, summary="first")
    cp.reports.set_status(first.id, "sent", delivery={"message_ids": [7]})
    again = cp.reports.create_draft(slug, "daily", start, end, summary="second")
    assert (again.id, again.status, again.summary, again.delivery) == (
        first.id,
        "sent",
        "first",
        {"message_ids": [7]},
    )
    assert cp.reports.create_draft(slug, "weekly", start, end).id != first.id
    assert len(cp.reports.list_reports(slug)) == 2


def test_concurrent_create_draft_of_one_window_ends_with_one_report(cp: ControlPlane, slug: str):
    """Eight runs of one window create their drafts at once: one row, every caller gets it."""
    start = datetime(2026, 3, 3, 19, 1, tzinfo=UTC)
    end = start + timedelta(days=1)
    barrier = threading.Barrier(8)
    got: list[int] = []
    errors: list[BaseException] = []

    def create(i: int) -> None:
        barrier.wait()
        try:
            got.append(cp.reports.create_draft(slug, "daily", start, end, summary=f"run {i}").id)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(got) == 8 and len(set(got)) == 1
    assert [r.id for r in cp.reports.list_reports(slug)] == got[:1]


def test_create_draft_racing_an_uncommitted_insert_waits_and_returns_the_winner(cp: ControlPlane, slug: str):
    """The loser blocks on the winner's uncommitted row, then gets the winner's report, no error."""
    import psycopg

    start = datetime(2026, 3, 4, 19, 1, tzinfo=UTC)
    end = start + timedelta(days=1)
    result: list[object] = []
    with psycopg.connect(cp.url) as winner:
        winner_id = winner.execute(
            "insert into synkro.reports (tenant_id, report_type, window_start, window_end, summary)"
            " select id, 'daily', %s, %s, 'winner' from synkro.tenants where slug = %s returning id",
            (start, end, slug),
        ).fetchone()[0]
        loser = threading.Thread(
            target=lambda: result.append(cp.reports.create_draft(slug, "daily", start, end, summary="loser"))
        )
        loser.start()
        loser.join(timeout=1.0)
        assert loser.is_alive() and result == []  # waiting on the winner's row
        winner.commit()
    loser.join(timeout=10)
    assert [(r.id, r.summary) for r in result] == [(winner_id, "winner")]
    assert [r.id for r in cp.reports.list_reports(slug)] == [winner_id]


def test_tenant_lock_is_exclusive_per_tenant_and_purpose(cp: ControlPlane, slug: str):
    from synkro.controlplane.locks import TELEGRAM_DELIVERY, LockTimeout, tenant_lock

    other = _slug()
    cp.tenants.create(other, "Other", "Europe/Moscow", actor="test")
    with tenant_lock(cp, slug, TELEGRAM_DELIVERY):
        for wait in (0, 0.2):  # try once / wait a little
            with pytest.raises(LockTimeout), tenant_lock(cp, slug, TELEGRAM_DELIVERY, timeout_seconds=wait):
                pass
        with tenant_lock(cp, other, TELEGRAM_DELIVERY, timeout_seconds=0):  # another tenant
            pass
        with tenant_lock(cp, slug, TELEGRAM_DELIVERY + 1, timeout_seconds=0):  # another purpose
            pass
    with tenant_lock(cp, slug, TELEGRAM_DELIVERY, timeout_seconds=0):  # released on exit
        pass


def test_settings_defaults_and_rubric_versioning(cp: ControlPlane, slug: str):
    settings = cp.settings.get_settings(slug)
    assert (settings.mode, settings.day_boundary, settings.run_time) == ("amocrm_radist", "22:01", "22:10")
    assert (settings.min_dialogs, settings.forced_lookback_days, settings.forced_max_window_hours) == (
        1,
        3,
        24,
    )
    assert (settings.followup_window_minutes, settings.phone_region, settings.mask_pii) == (60, "RU", True)
    one = {"criteria": [{"key": "greeting", "title": "Hi", "weight": 100, "description": "Greets"}]}
    updated = cp.settings.update_settings(slug, rubric=one, ai_max_dialogs=50, actor="alice")
    assert updated.rubric_version == 1
    again = cp.settings.update_settings(slug, rubric=one)
    assert again.rubric_version == 1  # same rubric: no new version
    two = {"criteria": [{**one["criteria"][0], "type": "fatal"}], "business_context": "Мебель на заказ"}
    assert cp.settings.update_settings(slug, rubric=two).rubric_version == 2
    with pytest.raises(BadInputError, match="sum to 100, got 99"):
        cp.settings.update_settings(slug, rubric={"criteria": [{**one["criteria"][0], "weight": 99}]})
    versions = cp.rubrics.versions(slug)
    assert [v.number for v in versions] == [2, 1] and versions[1].created_by == "alice"
    assert (
        versions[0].rubric.criteria[0].type == "fatal"
        and versions[0].content_hash == versions[0].rubric.version
    )
    assert cp.rubrics.save(slug, versions[1].rubric, actor="bob").number == 3
    assert cp.rubrics.current(slug)[0] == 3 and cp.settings.get_settings(slug).rubric_version == 3
    with pytest.raises(BadInputError, match="run_time"):
        cp.settings.update_settings(slug, run_time="7pm")


def test_tenant_errors_and_delete(cp: ControlPlane, slug: str):
    with pytest.raises(NotFoundError):
        cp.tenants.get("nosuchtenant")
    with pytest.raises(BadInputError):
        cp.tenants.set_status(slug, "archived")
    with pytest.raises(BadInputError):
        cp.tenants.update(slug, timezone="Moscow")
    run = cp.jobs.create_run(slug, "daily_report", "manual", f"{slug}-manual")
    assert cp.tenants.delete(slug) == []
    with pytest.raises(NotFoundError):
        cp.jobs.get_run(run.id)
    assert cp.audit.list(tenant=slug)[0].action == "tenant.delete"


def test_audit_record_scrubs_secret_looking_keys(cp: ControlPlane):
    tag = uuid.uuid4().hex
    cp.audit.record(
        "ops",
        f"test.{tag}",
        details={
            "token": "tok-secret-9999",
            "nested": {"client_secret": "cs-secret-8888"},
            "rows": 3,
            "items": [{"password": "pw-secret-7777"}],
        },
    )
    entry = cp.audit.list(action=f"test.{tag}")[0]
    assert entry.details == {
        "token": "••••9999",
        "nested": {"client_secret": "••••8888"},
        "rows": 3,
        "items": [{"password": "••••7777"}],
    }


def test_key_file_secret_box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SYNKRO_HOME", str(tmp_path))
    monkeypatch.delenv("SYNKRO_SECRET_KEY", raising=False)
    box = SecretBox.from_env()
    token = box.encrypt("hello-secret")
    assert "hello-secret" not in token and "hello" not in repr(box)
    assert SecretBox.from_env().decrypt(token) == "hello-secret"
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
