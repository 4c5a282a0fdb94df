"""Telegram delivery against the Telegram emulator with python-telegram-bot and the real control plane:
exactly once, --resend, RetryAfter, a migrated group, a blocked bot, and check_telegram."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import psycopg
import pytest

from synkro.controlplane.migrate import migrate
from synkro.delivery.telegram import (
    ControlPlaneDeliveryStore,
    DeliveryFailed,
    TelegramTarget,
    check_telegram,
    deliver_report,
)
from synkro.report.model import Headline, ManagerRow, Report, ReportWindow
from synkro.sandbox.telegram import LEGACY_GROUP_ID, OWNER_CHAT_ID
from tests.analysis_emulators import Emulators, running_emulators

TOKEN = "123456:sandbox-bot-token"
SUPERGROUP = -1001234567890
WINDOW = ReportWindow(
    start=datetime(2026, 11, 28, 19, 1, tzinfo=UTC),
    end=datetime(2026, 11, 29, 19, 1, tzinfo=UTC),
    label="29.11",
)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulators]:
    with running_emulators("telegram") as e:
        yield e


@pytest.fixture(scope="module")
def controlplane(database_url: str) -> str:
    migrate(database_url)
    return database_url


@pytest.fixture
def conn(controlplane: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(controlplane) as c:
        yield c


def _tenant(conn: psycopg.Connection, chat_id: int) -> tuple[str, int]:
    """A tenant with a Telegram config and a ready report; returns (slug, report id)."""
    slug = "d" + uuid.uuid4().hex[:8]
    tenant_id = conn.execute(
        "insert into synkro.tenants (slug, name, timezone) values (%s, %s, 'Europe/Moscow') returning id",
        (slug, slug),
    ).fetchone()[0]
    conn.execute(
        "insert into synkro.integration_configs (tenant_id, kind, public, status) "
        "values (%s, 'telegram', %s, 'ok')",
        (tenant_id, json.dumps({"chat_id": chat_id})),
    )
    report_id = conn.execute(
        "insert into synkro.reports (tenant_id, report_type, window_start, window_end, status) "
        "values (%s, 'daily', %s, %s, 'ready') returning id",
        (tenant_id, WINDOW.start, WINDOW.end),
    ).fetchone()[0]
    conn.commit()
    return slug, report_id


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


def _report_row(conn: psycopg.Connection, report_id: int) -> tuple:
    return conn.execute(
        "select status, error, delivery, sent_at from synkro.reports where id = %s", (report_id,)
    ).fetchone()


def _config_row(conn: psycopg.Connection, slug: str) -> tuple:
    return conn.execute(
        "select c.status, c.last_error, c.public from synkro.integration_configs c join synkro.tenants t "
        "on t.id = c.tenant_id where t.slug = %s and c.kind = 'telegram'",
        (slug,),
    ).fetchone()


def test_delivers_exactly_once_and_resend_sends_once_more(emu: Emulators, conn: psycopg.Connection) -> None:
    httpx.delete(f"{emu.control}/telegram/messages")
    slug, report_id = _tenant(conn, SUPERGROUP)
    store = ControlPlaneDeliveryStore(conn, slug)
    first = deliver_report(_report(slug), _target(emu, SUPERGROUP), store, report_id)
    sent = _messages(emu, SUPERGROUP)
    assert first.status == "sent"
    assert [m["type"] for m in sent] == ["text", "photo", "document"]
    assert "Анна <A&B>" in sent[0]["text"]  # escaped HTML parsed back by the strict emulator
    status, error, delivery, sent_at = _report_row(conn, report_id)
    assert status == "sent" and error is None and sent_at is not None
    assert delivery["message_ids"] == [m["message_id"] for m in sent] == first.message_ids

    again = deliver_report(_report(slug), _target(emu, SUPERGROUP), store, report_id)
    assert again.status == "already_sent"
    assert len(_messages(emu, SUPERGROUP)) == 3

    resent = deliver_report(_report(slug), _target(emu, SUPERGROUP), store, report_id, resend=True)
    assert resent.status == "sent" and len(_messages(emu, SUPERGROUP)) == 6
    assert _report_row(conn, report_id)[2]["history"][0]["message_ids"] == first.message_ids


def test_retry_after_is_waited_out(emu: Emulators, conn: psycopg.Connection) -> None:
    httpx.delete(f"{emu.control}/telegram/messages")
    httpx.post(f"{emu.control}/telegram/chats", json={"chat_id": SUPERGROUP, "retry_after": 1, "count": 1})
    slug, report_id = _tenant(conn, SUPERGROUP)
    began = time.monotonic()
    result = deliver_report(
        _report(slug), _target(emu, SUPERGROUP), ControlPlaneDeliveryStore(conn, slug), report_id
    )
    assert time.monotonic() - began >= 1.0
    assert result.status == "sent" and len(_messages(emu, SUPERGROUP)) == 3


def test_migrated_group_saves_the_new_chat_id_and_delivers(emu: Emulators, conn: psycopg.Connection) -> None:
    httpx.delete(f"{emu.control}/telegram/messages")
    slug, report_id = _tenant(conn, LEGACY_GROUP_ID)
    result = deliver_report(
        _report(slug), _target(emu, LEGACY_GROUP_ID), ControlPlaneDeliveryStore(conn, slug), report_id
    )
    assert result.status == "sent" and result.chat_id == SUPERGROUP
    assert len(_messages(emu, SUPERGROUP)) == 3 and _messages(emu, LEGACY_GROUP_ID) == []
    assert _config_row(conn, slug)[2]["chat_id"] == SUPERGROUP
    assert _report_row(conn, report_id)[2]["chat_id"] == SUPERGROUP


def test_blocked_bot_marks_integration_error_and_report_failed(
    emu: Emulators, conn: psycopg.Connection
) -> None:
    httpx.post(f"{emu.control}/telegram/chats", json={"chat_id": OWNER_CHAT_ID, "blocked": True})
    slug, report_id = _tenant(conn, OWNER_CHAT_ID)
    try:
        with pytest.raises(DeliveryFailed, match="blocked"):
            deliver_report(
                _report(slug), _target(emu, OWNER_CHAT_ID), ControlPlaneDeliveryStore(conn, slug), report_id
            )
    finally:
        httpx.post(f"{emu.control}/telegram/chats", json={"chat_id": OWNER_CHAT_ID, "blocked": False})
    status, error, _, sent_at = _report_row(conn, report_id)
    assert status == "failed" and "blocked" in error and sent_at is None
    cfg_status, last_error, _ = _config_row(conn, slug)
    assert cfg_status == "error" and "unblock" in last_error


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
