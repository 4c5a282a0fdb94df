"""Telegram delivery against the Telegram emulator with python-telegram-bot and the real control plane:
exactly once (also for two deliveries at once, under the tenant's advisory lock), --resend,
RetryAfter, a migrated group, a blocked bot, and check_telegram."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet

from sandbox.telegram import LEGACY_GROUP_ID, OWNER_CHAT_ID
from synkro.controlplane import ControlPlane
from synkro.controlplane.locks import TELEGRAM_DELIVERY, lock_key
from synkro.delivery.telegram import (
    ControlPlaneDeliveryStore,
    DeliveryBusy,
    DeliveryFailed,
    TelegramTarget,
    check_telegram,
    deliver_report,
)
from synkro.report.model import Headline, ManagerRow, Report, ReportWindow
from synkro.secrets import SecretBox
from tests.analysis_emulators import Emulators, running_emulators

TOKEN = "123456:sandbox-bot-token"
SUPERGROUP = -1001234567890
WINDOW = ReportWindow(
    start=datetime(2026, 11, 28, 19, 1, tzinfo=UTC),
    end=datetime(2026, 11, 29, 19, 1, tzinfo=UTC),
    label="2026-11-29",
)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulators]:
    with running_emulators("telegram") as e:
        yield e


@pytest.fixture(scope="module")
def cp(database_url: str) -> ControlPlane:
    return ControlPlane(database_url, SecretBox([Fernet.generate_key()]))


def _tenant(cp: ControlPlane, emu: Emulators, chat_id: int) -> tuple[str, int]:
    """A tenant with a checked Telegram config and a ready report, made through the control plane."""
    slug = "d" + uuid.uuid4().hex[:8]
    cp.tenants.create(slug, slug, "Europe/Moscow", actor="test")
    cp.configs.set_config(
        slug, "telegram", {"bot_token": TOKEN, "chat_id": chat_id, "base_url": emu.telegram}, actor="test"
    )
    cp.configs.set_config_status(slug, "telegram", "ok")
    report = cp.reports.create_draft(slug, "daily", WINDOW.start, WINDOW.end)
    return slug, cp.reports.set_status(report.id, "ready").id


def _report(slug: str) -> Report:
    return Report(
        tenant_slug=slug,
        window=WINDOW,
        generated_at=datetime.now(UTC),
        headline=Headline(dialogs=3, messages_in=5, messages_out=3, left_waiting=1),
        managers=[
            ManagerRow(
                manager_name="Анна <A&B>",
                dialogs=2,
                median_first_response_seconds=180,
                left_waiting=0,
                average_score=81,
            )
        ],
    )


def _target(emu: Emulators, chat_id: int) -> TelegramTarget:
    return TelegramTarget.from_config({"bot_token": TOKEN, "chat_id": chat_id, "base_url": emu.telegram})


def _messages(emu: Emulators, chat_id: int) -> list[dict]:
    return httpx.get(f"{emu.control}/telegram/messages", params={"chat_id": chat_id}).json()["messages"]


def _report_row(cp: ControlPlane, report_id: int) -> tuple:
    r = cp.reports.get_report(report_id)
    return r.status, r.error, r.delivery, r.sent_at


def _config_row(cp: ControlPlane, slug: str) -> tuple:
    record = cp.configs.get_record(slug, "telegram")
    return record.status, record.last_error, record.config.model_dump(mode="json"), record.version


def test_delivers_exactly_once_and_resend_sends_once_more(emu: Emulators, cp: ControlPlane) -> None:
    httpx.delete(f"{emu.control}/telegram/messages")
    slug, report_id = _tenant(cp, emu, SUPERGROUP)
    store = ControlPlaneDeliveryStore(cp, slug)
    first = deliver_report(_report(slug), _target(emu, SUPERGROUP), store, report_id)
    sent = _messages(emu, SUPERGROUP)
    assert first.status == "sent"
    assert [m["type"] for m in sent] == ["text", "photo", "document"]
    assert "Анна <A&B>" in sent[0]["text"]  # escaped HTML parsed back by the strict emulator
    assert sent[2]["file_name"] == f"report-{slug}-2026-11-29.html"  # the header's business day
    status, error, delivery, sent_at = _report_row(cp, report_id)
    assert status == "sent" and error is None and sent_at is not None
    assert delivery["message_ids"] == [m["message_id"] for m in sent] == first.message_ids

    again = deliver_report(_report(slug), _target(emu, SUPERGROUP), store, report_id)
    assert again.status == "already_sent"
    assert len(_messages(emu, SUPERGROUP)) == 3

    resent = deliver_report(_report(slug), _target(emu, SUPERGROUP), store, report_id, resend=True)
    assert resent.status == "sent" and len(_messages(emu, SUPERGROUP)) == 6
    delivery = _report_row(cp, report_id)[2]
    assert delivery["history"][0]["message_ids"] == first.message_ids
    assert delivery["message_ids"] == resent.message_ids and delivery["completed"]
    actions = [e for e in cp.audit.list(slug) if e.action == "report.sent"]
    assert len(actions) == 2 and all(e.details["report_id"] == report_id for e in actions)


def test_resend_interrupted_before_any_message_is_not_taken_as_done(emu: Emulators, cp: ControlPlane) -> None:
    """The store merges metadata: a resend must reset parts, or a crash would leave the old ones."""
    httpx.delete(f"{emu.control}/telegram/messages")
    slug, report_id = _tenant(cp, emu, SUPERGROUP)
    store = ControlPlaneDeliveryStore(cp, slug)
    deliver_report(_report(slug), _target(emu, SUPERGROUP), store, report_id)
    httpx.post(f"{emu.control}/telegram/chats", json={"chat_id": SUPERGROUP, "blocked": True})
    try:
        with pytest.raises(DeliveryFailed):
            deliver_report(_report(slug), _target(emu, SUPERGROUP), store, report_id, resend=True)
    finally:
        httpx.post(f"{emu.control}/telegram/chats", json={"chat_id": SUPERGROUP, "blocked": False})
    delivery = _report_row(cp, report_id)[2]
    assert delivery["completed"] is False and delivery["parts"] == {} and delivery["message_ids"] == []
    retried = deliver_report(_report(slug), _target(emu, SUPERGROUP), store, report_id)
    assert retried.status == "sent" and len(_messages(emu, SUPERGROUP)) == 6


def test_retry_after_is_waited_out(emu: Emulators, cp: ControlPlane) -> None:
    httpx.delete(f"{emu.control}/telegram/messages")
    httpx.post(f"{emu.control}/telegram/chats", json={"chat_id": SUPERGROUP, "retry_after": 1, "count": 1})
    slug, report_id = _tenant(cp, emu, SUPERGROUP)
    began = time.monotonic()
    result = deliver_report(
        _report(slug), _target(emu, SUPERGROUP), ControlPlaneDeliveryStore(cp, slug), report_id
    )
    assert time.monotonic() - began >= 1.0
    assert result.status == "sent" and len(_messages(emu, SUPERGROUP)) == 3


def test_migrated_group_saves_the_new_chat_id_and_delivers(emu: Emulators, cp: ControlPlane) -> None:
    httpx.delete(f"{emu.control}/telegram/messages")
    slug, report_id = _tenant(cp, emu, LEGACY_GROUP_ID)
    version_before = _config_row(cp, slug)[3]
    result = deliver_report(
        _report(slug), _target(emu, LEGACY_GROUP_ID), ControlPlaneDeliveryStore(cp, slug), report_id
    )
    assert result.status == "sent" and result.chat_id == SUPERGROUP
    assert len(_messages(emu, SUPERGROUP)) == 3 and _messages(emu, LEGACY_GROUP_ID) == []
    assert _config_row(cp, slug)[2]["chat_id"] == SUPERGROUP
    assert _config_row(cp, slug)[3] == version_before + 1  # one versioned, audited config change
    assert _report_row(cp, report_id)[2]["chat_id"] == SUPERGROUP
    change = next(e for e in cp.audit.list(slug) if e.action == "config.update_fields")
    assert change.actor == "delivery" and change.details["changed_fields"] == ["chat_id"]


def test_migrated_chat_id_respects_a_concurrent_config_change(
    emu: Emulators, cp: ControlPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Optimistic locking: an operator edit between our read and write is re-read, not overwritten."""
    slug, _ = _tenant(cp, emu, LEGACY_GROUP_ID)
    store = ControlPlaneDeliveryStore(cp, slug)
    real_update = cp.configs.update_config_fields
    calls: list[int] = []

    def racing_update(*args, **kwargs):
        if not calls:  # an operator changes the bot token right after the store read the version
            cp.configs.set_config(slug, "telegram", {"bot_token": "654321:rotated-token"}, actor="operator")
        calls.append(args[3])
        return real_update(*args, **kwargs)

    # The real repository method runs; only a real operator write is slipped in before the first call.
    monkeypatch.setattr(cp.configs, "update_config_fields", racing_update)
    store.save_chat_id(SUPERGROUP)
    monkeypatch.undo()
    record = cp.configs.get_record(slug, "telegram")
    assert record.config.chat_id == SUPERGROUP
    assert record.config.bot_token.get_secret_value() == "654321:rotated-token"  # not lost
    assert len(calls) == 2 and calls[1] == calls[0] + 1


def test_blocked_bot_marks_integration_error_and_report_failed(emu: Emulators, cp: ControlPlane) -> None:
    httpx.post(f"{emu.control}/telegram/chats", json={"chat_id": OWNER_CHAT_ID, "blocked": True})
    slug, report_id = _tenant(cp, emu, OWNER_CHAT_ID)
    try:
        with pytest.raises(DeliveryFailed, match="blocked"):
            deliver_report(
                _report(slug), _target(emu, OWNER_CHAT_ID), ControlPlaneDeliveryStore(cp, slug), report_id
            )
    finally:
        httpx.post(f"{emu.control}/telegram/chats", json={"chat_id": OWNER_CHAT_ID, "blocked": False})
    status, error, _, sent_at = _report_row(cp, report_id)
    assert status == "failed" and "blocked" in error and sent_at is None
    cfg_status, last_error, _, _ = _config_row(cp, slug)
    assert cfg_status == "error" and "unblock" in last_error
    failed = next(e for e in cp.audit.list(slug) if e.action == "report.failed")
    assert failed.details["report_id"] == report_id


def test_check_telegram_validates_without_posting(emu: Emulators) -> None:
    httpx.delete(f"{emu.control}/telegram/messages")
    ok, message = check_telegram({"bot_token": TOKEN, "chat_id": SUPERGROUP, "base_url": emu.telegram})
    assert ok, message
    assert _messages(emu, SUPERGROUP) == []
    ok, message = check_telegram(
        {"bot_token": TOKEN, "chat_id": SUPERGROUP, "base_url": emu.telegram}, send_test=True
    )
    assert ok and len(_messages(emu, SUPERGROUP)) == 1
    bad, message = check_telegram(
        {"bot_token": "999:wrong-token", "chat_id": SUPERGROUP, "base_url": emu.telegram}
    )
    assert not bad and "token is invalid" in message and "wrong-token" not in message
    target = _target(emu, SUPERGROUP)
    assert "sandbox-bot-token" not in repr(target)


class _NoStore:
    def save_chat_id(self, chat_id: int | str) -> None:
        raise AssertionError("no migration expected")


def test_html_the_server_cannot_parse_is_resent_as_plain_text(emu: Emulators) -> None:
    import asyncio

    from synkro.delivery.telegram import Sender, send_html_or_plain

    async def go() -> tuple[object, bool]:
        target = _target(emu, SUPERGROUP)
        async with target.bot() as bot:
            return await send_html_or_plain(
                bot, Sender(target, _NoStore(), asyncio.sleep), "<b>итого: 5 < 7</b>"
            )

    httpx.delete(f"{emu.control}/telegram/messages")
    _, fell_back = asyncio.run(go())
    sent = _messages(emu, SUPERGROUP)
    assert fell_back and len(sent) == 1
    assert sent[0]["parse_mode"] is None and sent[0]["text"] == "итого: 5 < 7"


def _deliver_in_thread(
    emu: Emulators,
    cp: ControlPlane,
    slug: str,
    report_id: int,
    out: list,
    start: threading.Barrier | None = None,
) -> threading.Thread:
    """deliver_report in its own thread with its own store, as a second Dagster run would call it."""

    def run() -> None:
        if start is not None:
            start.wait()
        try:
            store = ControlPlaneDeliveryStore(cp, slug)
            out.append(deliver_report(_report(slug), _target(emu, SUPERGROUP), store, report_id))
        except BaseException as exc:  # asserted by the test
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _delivery_lock_waiters(cp: ControlPlane, slug: str) -> int:
    """Sessions waiting for this tenant's delivery lock, as Postgres sees them."""
    with psycopg.connect(cp.url) as conn:
        return conn.execute(
            "select count(*) from pg_locks where locktype = 'advisory' and not granted"
            " and classid = %s::bigint::oid and objid = %s::bigint::oid and objsubid = 2",
            (TELEGRAM_DELIVERY, lock_key(cp.tenants.get(slug).id)),
        ).fetchone()[0]


def test_two_concurrent_deliveries_of_one_report_send_it_once(emu: Emulators, cp: ControlPlane) -> None:
    """Two runs of one window deliver at the same moment; slow answers make them overlap."""
    httpx.delete(f"{emu.control}/telegram/messages")
    slug, report_id = _tenant(cp, emu, SUPERGROUP)
    emu.state.set_faults("telegram", latency_ms=200)
    results: list = []
    try:
        start = threading.Barrier(2)
        threads = [_deliver_in_thread(emu, cp, slug, report_id, results, start) for _ in range(2)]
        for thread in threads:
            thread.join(timeout=60)
    finally:
        emu.state.reset_faults()
    sent = _messages(emu, SUPERGROUP)
    assert [m["type"] for m in sent] == ["text", "photo", "document"]
    assert sorted(r.status for r in results) == ["already_sent", "sent"]
    assert all(r.message_ids == [m["message_id"] for m in sent] for r in results)
    status, _, delivery, _ = _report_row(cp, report_id)
    assert status == "sent" and delivery["message_ids"] == [m["message_id"] for m in sent]
    assert len([e for e in cp.audit.list(slug) if e.action == "report.sent"]) == 1


def test_a_held_delivery_lock_makes_a_second_delivery_wait_then_skip(
    emu: Emulators, cp: ControlPlane
) -> None:
    """While one delivery holds the tenant's lock, another waits; once the first finished, it skips."""
    httpx.delete(f"{emu.control}/telegram/messages")
    slug, report_id = _tenant(cp, emu, SUPERGROUP)
    holder = ControlPlaneDeliveryStore(cp, slug)
    results: list = []
    with holder.delivery_lock():
        second = _deliver_in_thread(emu, cp, slug, report_id, results)
        deadline = time.monotonic() + 10
        while _delivery_lock_waiters(cp, slug) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _delivery_lock_waiters(cp, slug) == 1
        second.join(timeout=0.5)
        assert second.is_alive() and results == [] and _messages(emu, SUPERGROUP) == []
        # What the holder's delivery leaves behind when it finishes.
        holder.save_delivery(
            report_id, {"completed": True, "message_ids": [41, 42, 43], "chat_id": SUPERGROUP}
        )
        holder.mark_report(report_id, "sent")
    second.join(timeout=30)
    assert [(r.status, r.message_ids) for r in results] == [("already_sent", [41, 42, 43])]
    assert _messages(emu, SUPERGROUP) == []


def test_a_delivery_that_waits_too_long_for_the_lock_is_busy_and_sends_nothing(
    emu: Emulators, cp: ControlPlane
) -> None:
    httpx.delete(f"{emu.control}/telegram/messages")
    slug, report_id = _tenant(cp, emu, SUPERGROUP)
    impatient = ControlPlaneDeliveryStore(cp, slug, lock_timeout_seconds=0.3)
    with ControlPlaneDeliveryStore(cp, slug).delivery_lock():
        began = time.monotonic()
        with pytest.raises(DeliveryBusy, match="another Telegram delivery") as caught:
            deliver_report(_report(slug), _target(emu, SUPERGROUP), impatient, report_id)
        assert 0.3 <= time.monotonic() - began < 5
    assert isinstance(caught.value.__cause__.__cause__, psycopg.errors.LockNotAvailable)
    assert _messages(emu, SUPERGROUP) == [] and _report_row(cp, report_id)[0] == "ready"
    assert deliver_report(_report(slug), _target(emu, SUPERGROUP), impatient, report_id).status == "sent"
