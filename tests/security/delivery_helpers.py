"""Shared by the exactly-once delivery fault tests and their child process (a delivery to kill)."""

from __future__ import annotations

import os
import sys
import uuid
from datetime import UTC, datetime

import httpx
from cryptography.fernet import Fernet

from synkro.controlplane import ControlPlane
from synkro.delivery.telegram import ControlPlaneDeliveryStore, TelegramTarget, deliver_report
from synkro.report.model import Headline, ManagerRow, Report, ReportWindow
from synkro.secrets import SecretBox

TOKEN = "123456:sandbox-bot-token"
SUPERGROUP = -1001234567890
WINDOW = ReportWindow(
    start=datetime(2026, 11, 28, 19, 1, tzinfo=UTC),
    end=datetime(2026, 11, 29, 19, 1, tzinfo=UTC),
    label="2026-11-29",
)


def control_plane(url: str, key: bytes | None = None) -> ControlPlane:
    return ControlPlane(url, SecretBox([key or Fernet.generate_key()]))


def new_tenant(cp: ControlPlane, telegram_url: str, chat_id: int = SUPERGROUP) -> tuple[str, int]:
    """A tenant with a Telegram config and a ready report, made through the control plane."""
    slug = "x" + uuid.uuid4().hex[:8]
    cp.tenants.create(slug, slug, "Europe/Moscow", actor="test")
    cp.configs.set_config(
        slug, "telegram", {"bot_token": TOKEN, "chat_id": chat_id, "base_url": telegram_url}, actor="test"
    )
    report = cp.reports.create_draft(slug, "daily", WINDOW.start, WINDOW.end)
    return slug, cp.reports.set_status(report.id, "ready").id


def report(slug: str) -> Report:
    return Report(
        tenant_slug=slug,
        window=WINDOW,
        generated_at=datetime.now(UTC),
        headline=Headline(dialogs=3, messages_in=5, messages_out=3, left_waiting=1),
        managers=[
            ManagerRow(
                manager_name="Анна",
                dialogs=2,
                median_first_response_seconds=180,
                left_waiting=0,
                average_score=81,
            )
        ],
    )


def target(telegram_url: str, *, read_timeout: float = 10.0, chat_id: int = SUPERGROUP) -> TelegramTarget:
    t = TelegramTarget.from_config({"bot_token": TOKEN, "chat_id": chat_id, "base_url": telegram_url})
    t.read_timeout = read_timeout
    return t


def chat_messages(control_url: str, chat_id: int = SUPERGROUP) -> list[dict]:
    return httpx.get(f"{control_url}/telegram/messages", params={"chat_id": chat_id}).json()["messages"]


def deliver(cp: ControlPlane, slug: str, report_id: int, telegram_url: str, read_timeout: float = 10.0):
    store = ControlPlaneDeliveryStore(cp, slug)
    return deliver_report(report(slug), target(telegram_url, read_timeout=read_timeout), store, report_id)


if __name__ == "__main__":  # the child: python -m tests.security.delivery_helpers URL SLUG REPORT_ID TG
    url, slug, report_id, telegram_url = sys.argv[1:5]
    deliver(control_plane(url, os.environb[b"CHILD_KEY"]), slug, int(report_id), telegram_url)
