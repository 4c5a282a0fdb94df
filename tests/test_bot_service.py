"""`synkro bot` against the Telegram emulator (real python-telegram-bot over HTTP) and the real control
plane: two tenants with two bots in one process, strangers refused, restart exactly once, 401."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from synkro.bot.service import BotService
from synkro.controlplane import ControlPlane
from synkro.report.model import Headline, ManagerRow, Report, ReportWindow
from synkro.secrets import SecretBox
from tests.analysis_emulators import Emulators, running_emulators

WINDOW = ReportWindow(
    start=datetime(2026, 11, 28, 21, 0, tzinfo=UTC),
    end=datetime(2026, 11, 29, 21, 0, tzinfo=UTC),
    label="2026-11-29",
)
_ids = iter(range(9_300_000_001, 9_300_999_999))


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulators]:
    with running_emulators("telegram") as e:
        yield e


@pytest.fixture(scope="module")
def cp(database_url: str) -> ControlPlane:
    return ControlPlane(database_url, SecretBox([Fernet.generate_key()]))


def _chat(emu: Emulators, chat_id: int, kind: str) -> int:
    httpx.post(
        f"{emu.root}/_sandbox/telegram/chats", json={"chat_id": chat_id, "type": kind}
    ).raise_for_status()
    return chat_id


def _tenant(cp: ControlPlane, emu: Emulators, manager: str) -> dict[str, Any]:
    """A tenant with its own bot token, chat and one ready report naming ``manager``."""
    slug = "b" + uuid.uuid4().hex[:8]
    bot_id = next(_ids)
    token = f"{bot_id}:{secrets.token_urlsafe(26)}"
    httpx.post(
        f"{emu.root}/_sandbox/telegram/bots", json={"token": token, "username": f"{slug}_bot"}
    ).raise_for_status()
    chat = _chat(emu, -1_000_000_000_000 - bot_id, "supergroup")
    cp.tenants.create(slug, slug, "Europe/Moscow", actor="test")
    cp.configs.set_config(
        slug, "telegram", {"bot_token": token, "chat_id": chat, "base_url": emu.telegram}, actor="t"
    )
    report = Report(
        tenant_slug=slug,
        window=WINDOW,
        generated_at=datetime.now(UTC),
        headline=Headline(dialogs=4, messages_in=9, messages_out=7, left_waiting=1),
        managers=[
            ManagerRow(
                manager_name=manager,
                dialogs=4,
                median_first_response_seconds=240,
                left_waiting=1,
                average_score=55,
            )
        ],
    )
    draft = cp.reports.create_draft(slug, "daily", WINDOW.start, WINDOW.end)
    cp.reports.update_report(draft.id, data=report.model_dump(mode="json"))
    cp.reports.set_status(draft.id, "ready")
    return {"slug": slug, "token": token, "chat": chat, "username": f"{slug}_bot", "manager": manager}


def _say(emu: Emulators, tenant: dict[str, Any], text: str, chat: int | None = None) -> dict[str, Any]:
    body = {
        "bot_token": tenant["token"],
        "chat_id": chat or tenant["chat"],
        "text": text,
        "user": {"id": 5001},
    }
    response = httpx.post(f"{emu.root}/_sandbox/telegram/updates", json=body)
    response.raise_for_status()
    return response.json()


def _answers(emu: Emulators, chat: int) -> list[dict[str, Any]]:
    messages = httpx.get(f"{emu.root}/_sandbox/telegram/messages", params={"chat_id": chat}).json()[
        "messages"
    ]
    return [m for m in messages if "bot_id" in m]


async def _until(check, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await asyncio.to_thread(check):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def _serving(cp: ControlPlane, body) -> None:
    """Run a BotService around ``body()`` and stop it the way SIGTERM does."""
    stop = asyncio.Event()
    service = BotService(cp, refresh_seconds=0.5, poll_timeout=1)
    task = asyncio.create_task(service.run(stop))
    try:
        await body(service)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


def test_two_tenants_each_answered_from_their_own_data_and_strangers_refused(
    cp: ControlPlane, emu: Emulators
) -> None:
    a, b = _tenant(cp, emu, "Игорь Альфа"), _tenant(cp, emu, "Ольга Бета")
    stranger = _chat(emu, next(_ids), "private")

    async def body(service: BotService) -> None:
        _say(emu, a, "/report")
        _say(emu, b, f"/report@{b['username']}")
        _say(emu, a, "просто разговор в группе, не боту")
        await _until(lambda: _answers(emu, a["chat"]) and _answers(emu, b["chat"]))
        _say(emu, a, "/report", chat=stranger)
        _say(emu, a, "/help", chat=stranger)
        await _until(lambda: _answers(emu, stranger))
        await asyncio.sleep(1)

    asyncio.run(_serving(cp, body))
    text_a = " ".join(m["text"] for m in _answers(emu, a["chat"]))
    text_b = " ".join(m["text"] for m in _answers(emu, b["chat"]))
    assert "Игорь Альфа" in text_a and "Ольга Бета" not in text_a
    assert "Ольга Бета" in text_b and "Игорь Альфа" not in text_b
    refused = _answers(emu, stranger)
    assert len(refused) == 1 and "Synkro" in refused[0]["text"] and "Игорь" not in refused[0]["text"]
    assert all(m["bot_id"] == int(a["token"].split(":")[0]) for m in refused)


def test_restart_with_pending_updates_answers_each_exactly_once(cp: ControlPlane, emu: Emulators) -> None:
    a = _tenant(cp, emu, "Игорь Рестарт")

    async def first(service: BotService) -> None:
        _say(emu, a, "/help")
        await _until(lambda: len(_answers(emu, a["chat"])) == 1)

    asyncio.run(_serving(cp, first))
    for _ in range(3):  # arrive while no bot runs
        _say(emu, a, "/help")

    async def second(service: BotService) -> None:
        await _until(lambda: len(_answers(emu, a["chat"])) == 4)

    asyncio.run(_serving(cp, second))

    async def third(service: BotService) -> None:
        await asyncio.sleep(2)

    asyncio.run(_serving(cp, third))
    assert len(_answers(emu, a["chat"])) == 4


def test_revoked_token_marks_only_that_tenant_and_paused_tenant_is_dropped(
    cp: ControlPlane, emu: Emulators
) -> None:
    a, b = _tenant(cp, emu, "Игорь Живой"), _tenant(cp, emu, "Ольга Отозванная")

    async def body(service: BotService) -> None:
        await _until(lambda: {a["slug"], b["slug"]} <= set(service.running))
        httpx.post(f"{emu.root}/_sandbox/telegram/bots", json={"token": b["token"], "revoked": True})
        await _until(lambda: cp.configs.get_record(b["slug"], "telegram").status == "error")
        await _until(lambda: b["slug"] not in service.running)
        _say(emu, a, "/help")
        await _until(lambda: len(_answers(emu, a["chat"])) == 1)
        cp.tenants.set_status(a["slug"], "paused", actor="test")
        await _until(lambda: a["slug"] not in service.running)

    asyncio.run(_serving(cp, body))
    record = cp.configs.get_record(b["slug"], "telegram")
    assert "401" in (record.last_error or "") and b["token"] not in (record.last_error or "")
    assert cp.configs.get_record(a["slug"], "telegram").status != "error"


def test_cli_bot_stops_cleanly_on_sigterm(database_url: str, tmp_path) -> None:
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": database_url, "SYNKRO_HOME": str(tmp_path / "home")}
    env.pop("SYNKRO_SECRET_KEY", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "synkro.cli.app", "bot", "--refresh", "1", "--poll-timeout", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert "serving" in (process.stdout.readline() if process.stdout else "")
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=20)[0]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "bot: stopped" in output
