"""The Telegram Bot API emulator driven by python-telegram-bot, one test per documented quirk."""

from __future__ import annotations

import asyncio
import itertools
import struct
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, InvalidToken, RetryAfter

from sandbox.server import SandboxServer

_chat_ids = itertools.count(880_000_001)


def run(sb: SandboxServer, action: Callable[[Bot], Awaitable[Any]], token: str | None = None) -> Any:
    async def main() -> Any:
        bot = Bot(
            token or sb.info()["telegram"]["bot_token"],
            base_url=f"{sb.urls.telegram}/bot",
            base_file_url=f"{sb.urls.telegram}/file/bot",
        )
        async with bot:
            return await action(bot)

    return asyncio.run(main())


def new_chat(sb: SandboxServer, **settings: Any) -> int:
    """A fresh chat (private unless the id is negative) configured through the control API."""
    chat_id = settings.pop("chat_id", None) or next(_chat_ids)
    response = httpx.post(f"{sb.urls.control}/telegram/chats", json={"chat_id": chat_id, **settings})
    response.raise_for_status()
    return chat_id


def delivered(sb: SandboxServer, chat_id: int) -> list[dict[str, Any]]:
    return httpx.get(f"{sb.urls.control}/telegram/messages", params={"chat_id": chat_id}).json()["messages"]


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_get_me_and_bad_token(sandbox: SandboxServer) -> None:
    me = run(sandbox, lambda bot: bot.get_me())
    assert me.is_bot and me.username == "synkro_sandbox_bot"
    with pytest.raises(InvalidToken):
        run(sandbox, lambda bot: bot.get_me(), token="999:wrong-token")


def test_html_message_is_parsed_stored_and_readable(sandbox: SandboxServer) -> None:
    chat = new_chat(sandbox)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Открыть", url="https://example.org")]])
    text = '<b>Отчёт</b> за 29.11 &amp; <a href="https://example.org/r">детали</a> &lt;3'
    message = run(sandbox, lambda bot: bot.send_message(chat, text, parse_mode="HTML", reply_markup=markup))
    assert message.text == "Отчёт за 29.11 & детали <3"
    assert [e.type for e in message.entities] == ["bold", "text_link"]
    assert message.reply_markup.inline_keyboard[0][0].url == "https://example.org"
    [stored] = delivered(sandbox, chat)
    assert stored["message_id"] == message.message_id
    assert stored["type"] == "text" and stored["parse_mode"] == "HTML" and stored["text"] == message.text


@pytest.mark.parametrize(
    "text",
    [
        "<foo>x</foo>",  # unknown tag
        "<b>bold",  # unclosed tag
        "<b><i>x</b></i>",  # mismatched end tag
        "Tom &foo; Jerry",  # unknown entity
        "1 < 2",  # bare <
        "<br/>line",  # <br> is not supported
        '<span class="x">y</span>',  # span without tg-spoiler
    ],
)
def test_bad_html_is_400_cant_parse_entities(sandbox: SandboxServer, text: str) -> None:
    chat = new_chat(sandbox)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        run(sandbox, lambda bot: bot.send_message(chat, text, parse_mode="HTML"))
    assert delivered(sandbox, chat) == []


def test_every_documented_html_tag_is_accepted(sandbox: SandboxServer) -> None:
    chat = new_chat(sandbox)
    text = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s><strike>k</strike>"
        '<del>d</del><tg-spoiler>p</tg-spoiler><span class="tg-spoiler">q</span><a href="https://x.org">a</a>'
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji><code>c</code>'
        '<pre><code class="language-python">x = 1</code></pre>'
        "<blockquote expandable>z</blockquote>&quot;&#33;"
    )
    message = run(sandbox, lambda bot: bot.send_message(chat, text, parse_mode="HTML"))
    assert message.text.endswith('z"!')
    assert {"bold", "italic", "spoiler", "custom_emoji", "pre", "expandable_blockquote"} <= {
        e.type for e in message.entities
    }


def test_length_limit_applies_after_entity_parsing(sandbox: SandboxServer) -> None:
    chat = new_chat(sandbox)
    fits = "<b>" + "я" * 4000 + "</b>" + "&amp;" * 96  # 4096 characters once parsed
    message = run(sandbox, lambda bot: bot.send_message(chat, fits, parse_mode="HTML"))
    assert len(message.text) == 4096
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        run(sandbox, lambda bot: bot.send_message(chat, "я" * 4097))


def test_empty_text_is_rejected(sandbox: SandboxServer) -> None:
    chat = new_chat(sandbox)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        run(sandbox, lambda bot: bot.send_message(chat, "<b> </b>", parse_mode="HTML"))


def test_markdown_v2_reserved_characters_must_be_escaped(sandbox: SandboxServer) -> None:
    chat = new_chat(sandbox)
    with pytest.raises(BadRequest, match=r"(?i)reserved"):
        run(sandbox, lambda bot: bot.send_message(chat, "Итог: 5.0!", parse_mode="MarkdownV2"))
    ok = run(sandbox, lambda bot: bot.send_message(chat, r"*Итог:* 5\.0\!", parse_mode="MarkdownV2"))
    assert ok.text == "Итог: 5.0!"


def test_unknown_chat_is_400_chat_not_found(sandbox: SandboxServer) -> None:
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        run(sandbox, lambda bot: bot.send_message(123_404_404, "hi"))


def test_blocked_user_is_403(sandbox: SandboxServer) -> None:
    chat = new_chat(sandbox, blocked=True)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        run(sandbox, lambda bot: bot.send_message(chat, "hi"))
    never_started = new_chat(sandbox, started=False)
    with pytest.raises(Forbidden, match=r"(?i)can't initiate conversation"):
        run(sandbox, lambda bot: bot.send_message(never_started, "hi"))


def test_kicked_from_group_is_403(sandbox: SandboxServer) -> None:
    group = new_chat(sandbox, chat_id=-next(_chat_ids), blocked=True)
    with pytest.raises(Forbidden, match=r"(?i)kicked"):
        run(sandbox, lambda bot: bot.send_message(group, "hi"))


def test_migrated_group_answers_migrate_to_chat_id(sandbox: SandboxServer) -> None:
    supergroup = -1_000_000_000_000 - next(_chat_ids)
    group = new_chat(sandbox, chat_id=-next(_chat_ids), type="group", migrate_to_chat_id=supergroup)
    with pytest.raises(ChatMigrated) as caught:
        run(sandbox, lambda bot: bot.send_message(group, "hi"))
    assert caught.value.new_chat_id == supergroup
    assert run(sandbox, lambda bot: bot.send_message(supergroup, "hi")).chat.type == "supergroup"


def test_flood_control_is_429_with_retry_after(sandbox: SandboxServer) -> None:
    chat = new_chat(sandbox, retry_after=3, count=1)
    with pytest.raises(RetryAfter) as caught:
        run(sandbox, lambda bot: bot.send_message(chat, "hi"))
    assert int(caught.value._retry_after.total_seconds()) == 3
    assert run(sandbox, lambda bot: bot.send_message(chat, "hi")).text == "hi"


def test_group_limit_of_20_per_minute_when_enabled(sandbox: SandboxServer) -> None:
    group = new_chat(sandbox, chat_id=-next(_chat_ids), group_messages_per_minute=20)
    try:

        async def burst(bot: Bot) -> None:
            for i in range(20):
                await bot.send_message(group, f"m{i}")
            await bot.send_message(group, "one too many")

        with pytest.raises(RetryAfter) as caught:
            run(sandbox, burst)
        assert 1 <= caught.value._retry_after.total_seconds() <= 60
        assert len(delivered(sandbox, group)) == 20
    finally:
        new_chat(sandbox, chat_id=group, group_messages_per_minute=0)


def test_fault_burst_is_telegram_shaped_429(sandbox: SandboxServer, sandbox_faults) -> None:
    chat = new_chat(sandbox)
    sandbox_faults.set_faults("telegram", burst_429=1)
    with pytest.raises(RetryAfter):
        run(sandbox, lambda bot: bot.send_message(chat, "hi"))


def test_send_document_multipart_is_stored_and_downloadable(sandbox: SandboxServer) -> None:
    chat = new_chat(sandbox)
    content = "<html><body>Отчёт</body></html>".encode()

    async def send(bot: Bot) -> tuple[Any, bytes]:
        message = await bot.send_document(
            chat, document=content, filename="report.html", caption="<i>Полный отчёт</i>", parse_mode="HTML"
        )
        file = await bot.get_file(message.document.file_id)
        return message, bytes(await file.download_as_bytearray())

    message, downloaded = run(sandbox, send)
    assert message.document.file_name == "report.html" and message.caption == "Полный отчёт"
    assert downloaded == content
    [stored] = delivered(sandbox, chat)
    assert stored["type"] == "document" and stored["file_name"] == "report.html"
    assert stored["file_size"] == len(content)


def test_caption_limit_is_1024(sandbox: SandboxServer) -> None:
    chat = new_chat(sandbox)
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        run(sandbox, lambda bot: bot.send_document(chat, document=b"x", filename="a.txt", caption="c" * 1025))


def test_send_photo_records_size_and_rejects_non_images(sandbox: SandboxServer) -> None:
    chat = new_chat(sandbox)
    message = run(sandbox, lambda bot: bot.send_photo(chat, photo=png(64, 32), caption="график"))
    assert (message.photo[-1].width, message.photo[-1].height) == (64, 32)
    [stored] = delivered(sandbox, chat)
    assert (stored["type"], stored["width"], stored["height"]) == ("photo", 64, 32)
    with pytest.raises(BadRequest, match=r"(?i)image_process_failed"):
        run(sandbox, lambda bot: bot.send_photo(chat, photo=b"not an image"))


def test_get_updates_returns_start_and_confirms_with_offset(sandbox: SandboxServer) -> None:
    chat = new_chat(sandbox)
    httpx.post(f"{sandbox.urls.control}/telegram/updates", json={"chat_id": chat, "text": "/connect ABC"})

    async def poll(bot: Bot) -> tuple[Any, Any]:
        updates = await bot.get_updates(timeout=0)
        mine = [u for u in updates if u.message and u.message.chat.id == chat]
        again = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
        return mine, again

    mine, again = run(sandbox, poll)
    assert mine[0].message.text == "/connect ABC"
    assert again == ()


def test_get_updates_conflicts_with_a_webhook(sandbox: SandboxServer) -> None:
    async def poll(bot: Bot) -> None:
        await bot.set_webhook("https://example.org/hook")
        try:
            await bot.get_updates(timeout=0)
        finally:
            await bot.delete_webhook()

    with pytest.raises(Conflict):
        run(sandbox, poll)


def test_get_chat(sandbox: SandboxServer) -> None:
    chat_id = sandbox.info()["telegram"]["chat_id"]
    chat = run(sandbox, lambda bot: bot.get_chat(chat_id))
    assert chat.id == chat_id and chat.type == "supergroup"


def test_json_and_query_bodies_are_accepted(sandbox: SandboxServer) -> None:
    chat = new_chat(sandbox)
    base = f"{sandbox.urls.telegram}/bot{sandbox.info()['telegram']['bot_token']}"
    by_json = httpx.post(f"{base}/sendMessage", json={"chat_id": chat, "text": "json body"}).json()
    by_query = httpx.get(f"{base}/sendMessage", params={"chat_id": chat, "text": "query"}).json()
    assert by_json["ok"] and by_query["ok"]
    unknown = httpx.post(f"{base}/noSuchMethod").json()
    assert unknown == {"ok": False, "error_code": 404, "description": "Not Found"}
