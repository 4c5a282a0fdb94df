"""The Telegram emulator with several bots in one sandbox (one per tenant), driven by python-telegram-bot."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from typing import Any

import httpx
import pytest
from telegram import Bot, BotCommand, MessageEntity
from telegram.error import BadRequest, Conflict, InvalidToken

from sandbox.server import SandboxServer

_bot_ids = itertools.count(7_100_000_001)
_chat_ids = itertools.count(-100_880_000_001, -1)


def new_bot(sb: SandboxServer, **settings: Any) -> str:
    token = f"{next(_bot_ids)}:{secrets.token_urlsafe(26)}"
    response = httpx.post(f"{sb.urls.control}/telegram/bots", json={"token": token, **settings})
    response.raise_for_status()
    return token


def new_group(sb: SandboxServer) -> int:
    chat_id = next(_chat_ids)
    httpx.post(
        f"{sb.urls.control}/telegram/chats", json={"chat_id": chat_id, "type": "supergroup"}
    ).raise_for_status()
    return chat_id


def inject(sb: SandboxServer, token: str, chat_id: int, text: str, **extra: Any) -> httpx.Response:
    return httpx.post(
        f"{sb.urls.control}/telegram/updates",
        json={"bot_token": token, "chat_id": chat_id, "text": text, **extra},
    )


def bot_for(sb: SandboxServer, token: str) -> Bot:
    return Bot(token, base_url=f"{sb.urls.telegram}/bot", base_file_url=f"{sb.urls.telegram}/file/bot")


def test_each_bot_has_its_own_updates_offsets_and_webhook(sandbox: SandboxServer) -> None:
    first, second = new_bot(sandbox), new_bot(sandbox)
    chat = new_group(sandbox)
    inject(sandbox, first, chat, "/report").raise_for_status()
    inject(sandbox, second, chat, "/help").raise_for_status()
    inject(sandbox, second, chat, "/dialog 42").raise_for_status()

    async def main() -> None:
        async with bot_for(sandbox, first) as a, bot_for(sandbox, second) as b:
            got_a, got_b = await a.get_updates(timeout=0), await b.get_updates(timeout=0)
            assert [u.message.text for u in got_a] == ["/report"]
            assert [u.message.text for u in got_b] == ["/help", "/dialog 42"]
            # Acknowledging one of b's updates leaves a's queue alone; an unacknowledged one is repeated.
            again_b = await b.get_updates(offset=got_b[0].update_id + 1, timeout=0)
            assert [u.message.text for u in again_b] == ["/dialog 42"]
            assert [u.message.text for u in await a.get_updates(timeout=0)] == ["/report"]
            # A webhook on a makes only a's getUpdates conflict.
            await a.set_webhook("https://example.org/telegram/webhook/a", secret_token="s3cret_Token-1")
            info = await a.get_webhook_info()
            assert info.url.endswith("/webhook/a") and info.pending_update_count == 1
            with pytest.raises(Conflict):
                await a.get_updates(timeout=0)
            assert len(await b.get_updates(offset=again_b[0].update_id, timeout=0)) == 1
            assert (await b.get_webhook_info()).url == ""
            with pytest.raises(BadRequest, match=r"(?i)https url"):
                await a.set_webhook("http://example.org/hook")
            await a.delete_webhook()
            assert (await a.get_webhook_info()).url == ""

    asyncio.run(main())


def test_long_poll_waits_for_an_update_and_honours_limit_and_allowed_updates(sandbox: SandboxServer) -> None:
    token = new_bot(sandbox)
    chat = new_group(sandbox)

    async def main() -> None:
        async with bot_for(sandbox, token) as bot:
            started = time.monotonic()
            assert await bot.get_updates(timeout=1) == ()
            assert time.monotonic() - started >= 0.9

            async def later() -> None:
                await asyncio.sleep(0.4)
                await asyncio.to_thread(lambda: inject(sandbox, token, chat, "/help").raise_for_status())

            started = time.monotonic()
            waiting = asyncio.create_task(bot.get_updates(timeout=10))
            await later()
            got = await waiting
            assert [u.message.text for u in got] == ["/help"]
            assert time.monotonic() - started < 3
            inject(sandbox, token, chat, "/report").raise_for_status()
            assert len(await bot.get_updates(offset=got[0].update_id, limit=1, timeout=0)) == 1
            assert await bot.get_updates(timeout=0, allowed_updates=["callback_query"]) == ()
            assert len(await bot.get_updates(timeout=0, allowed_updates=["message"])) == 2

    asyncio.run(main())


def test_a_newer_poll_ends_an_older_one_with_conflict(sandbox: SandboxServer) -> None:
    token = new_bot(sandbox)

    async def main() -> None:
        async with bot_for(sandbox, token) as old, bot_for(sandbox, token) as new:
            first = asyncio.create_task(old.get_updates(timeout=5))
            await asyncio.sleep(0.3)
            second = asyncio.create_task(new.get_updates(timeout=1))
            with pytest.raises(Conflict, match="other getUpdates"):
                await first
            assert await second == ()

    asyncio.run(main())


def test_replies_carry_the_replied_message_and_entities_are_computed(sandbox: SandboxServer) -> None:
    token = new_bot(sandbox, username="tenant_a_bot")
    chat = new_group(sandbox)

    async def main() -> None:
        async with bot_for(sandbox, token) as bot:
            report = await bot.send_message(chat, "<b>Отчёт</b> за 01.12.2026", parse_mode="HTML")
            await bot.get_updates(offset=-1, timeout=0)  # drop anything queued before
            user = {"id": 5001, "first_name": "Анна", "username": "anna"}
            reply = inject(
                sandbox,
                token,
                chat,
                "почему Игорь получил низкую оценку?",
                user=user,
                reply_to_message_id=report.message_id,
            )
            reply.raise_for_status()
            inject(sandbox, token, chat, "@tenant_a_bot что с лидом 42?", user=user).raise_for_status()
            inject(sandbox, token, chat, "/report@tenant_a_bot 30.11.2026", user=user).raise_for_status()
            updates = await bot.get_updates(offset=reply.json()["update_id"], timeout=0)
            asked, mentioned, command = (u.message for u in updates)
            assert asked.reply_to_message.message_id == report.message_id
            assert asked.reply_to_message.from_user.id == bot.id
            assert asked.reply_to_message.text == "Отчёт за 01.12.2026"
            assert asked.from_user.username == "anna" and asked.message_id > report.message_id
            assert list(mentioned.parse_entities([MessageEntity.MENTION]).values()) == ["@tenant_a_bot"]
            assert list(command.parse_entities([MessageEntity.BOT_COMMAND]).values()) == [
                "/report@tenant_a_bot"
            ]

    asyncio.run(main())
    missing = inject(sandbox, token, chat, "reply to nothing", reply_to_message_id=999_999)
    assert missing.status_code == 404
    assert inject(sandbox, "1:unknownunknownunknownunknown", chat, "hi").status_code == 404


def test_my_commands_per_language_and_revoked_token(sandbox: SandboxServer) -> None:
    token = new_bot(sandbox)

    async def main() -> None:
        async with bot_for(sandbox, token) as bot:
            await bot.set_my_commands([BotCommand("report", "Последний отчёт")], language_code="ru")
            await bot.set_my_commands([BotCommand("report", "Latest report"), BotCommand("help", "Help")])
            ru = await bot.get_my_commands(language_code="ru")
            assert [(c.command, c.description) for c in ru] == [("report", "Последний отчёт")]
            assert [c.command for c in await bot.get_my_commands()] == ["report", "help"]
            assert await bot.get_my_commands(language_code="de") == ()
            with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
                await bot.set_my_commands([BotCommand("Bad-Name", "x")])

    asyncio.run(main())
    httpx.post(
        f"{sandbox.urls.control}/telegram/bots", json={"token": token, "revoked": True}
    ).raise_for_status()
    listed = httpx.get(f"{sandbox.urls.control}/telegram/bots").json()["bots"]
    assert token not in str(listed) and any(b["token_last4"] == token[-4:] and b["revoked"] for b in listed)

    async def revoked() -> None:
        async with bot_for(sandbox, token) as bot:
            await bot.get_me()

    with pytest.raises(InvalidToken):
        asyncio.run(revoked())
