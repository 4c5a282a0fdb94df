"""Telegram Bot API emulator for the sandbox: ``/bot<token>/<method>`` and file downloads.

Mounted at ``/telegram``; python-telegram-bot is pointed at it with
``Bot(token, base_url="<sandbox>/telegram/bot", base_file_url="<sandbox>/telegram/file/bot")``.
Behaviour follows ../shared/docs/apis/telegram.md: PTB posts form-encoded bodies with nested objects
as JSON strings, multipart for files (JSON bodies and query strings work too); answers are
``{"ok": true, "result": …}`` or ``{"ok": false, "error_code", "description", "parameters"?}``.

Quirks emulated: 401 ``Unauthorized`` for an unknown token, 404 for an unknown method; HTML/Markdown
parsed strictly (see ``telegram_entities``) with 400 ``can't parse entities``; 4096/1024 limits on the
parsed text/caption; 400 ``chat not found``; 400 with ``parameters.migrate_to_chat_id`` for a group
upgraded to a supergroup; 403 for a user who blocked the bot, a group that kicked it, or a user who
never pressed Start; 429 with ``parameters.retry_after`` from flood control (20 messages per minute in
groups once switched on, or forced per chat) and from the shared fault settings; 409 for getUpdates
while a webhook is set.

Delivered messages are kept and readable at ``GET /_sandbox/telegram/messages``; chats are configured
with ``POST /_sandbox/telegram/chats`` and incoming user messages injected with
``POST /_sandbox/telegram/updates``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import struct
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox import faults
from sandbox.state import SandboxState
from sandbox.telegram_bots import BotAccount, poll_deadline, scope_key
from sandbox.telegram_entities import EntityParseError, parse_text

SERVICE = "telegram"
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024
# Telegram's documented group limit; off by default because one session-wide sandbox chat is shared by
# many tests. Switch it on per sandbox with POST /_sandbox/telegram/chats {"group_messages_per_minute": 20}.
GROUP_MESSAGES_PER_MINUTE = 20
# Extra chats every sandbox knows, besides the credentials' chat (a supergroup).
OWNER_CHAT_ID = 700000001
LEGACY_GROUP_ID = -400000001


@dataclass
class Chat:
    """A chat the bot can see, and how Telegram treats messages to it."""

    id: int
    type: str  # private | group | supergroup | channel
    title: str = ""
    first_name: str = ""
    username: str = ""
    blocked: bool = False  # private: user blocked the bot; groups: the bot was kicked
    started: bool = True  # private: the user pressed Start (otherwise the bot can't write first)
    migrate_to_chat_id: int | None = None
    forced_retry_after: int = 0  # answer 429 with this retry_after …
    forced_429_count: int = 0  # … for this many more sends

    def resource(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            body["first_name"] = self.first_name or "Sandbox User"
        else:
            body["title"] = self.title or f"Sandbox {self.type}"
        if self.username:
            body["username"] = self.username
        return body


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    file_name: str = ""
    mime_type: str = ""


@dataclass
class TelegramStore:
    """Emulator-private state in ``state.service_data["telegram"]``."""

    chats: dict[int, Chat] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    next_message_id: dict[int, int] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)
    bots: dict[str, BotAccount] = field(default_factory=dict)
    # Every message in a chat, by (chat id, message id), so a reply can carry the message it answers.
    sent: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    sent_at: dict[int, list[float]] = field(default_factory=dict)
    group_messages_per_minute: int = 0
    # Ambiguous outcomes: the next `accept_then_hang` sends are accepted (the message is in the chat)
    # and then answered only after `hang_seconds`, so a client with a shorter read timeout sees
    # TimedOut for a message Telegram did deliver (or is killed while waiting for the answer).
    accept_then_hang: int = 0
    hang_seconds: float = 0.0
    # The next `fail_sends` sends answer 502 Bad Gateway without delivering anything.
    fail_sends: int = 0


def store(state: SandboxState) -> TelegramStore:
    data = state.service_data.get(SERVICE)
    if not isinstance(data, TelegramStore):
        data = TelegramStore()
        chat_id = state.credentials.telegram_chat_id
        data.chats[chat_id] = Chat(chat_id, "supergroup", title="Synkro Sandbox Sales")
        data.chats[OWNER_CHAT_ID] = Chat(
            OWNER_CHAT_ID, "private", first_name="Sandbox Owner", username="sandbox_owner"
        )
        data.chats[LEGACY_GROUP_ID] = Chat(
            LEGACY_GROUP_ID, "group", title="Synkro Sandbox Sales (old group)", migrate_to_chat_id=chat_id
        )
        state.service_data[SERVICE] = data
        default = register_bot(data, state.credentials.telegram_bot_token, "synkro_sandbox_bot")
        inject_message(data, default, OWNER_CHAT_ID, "/start")
    return data


def register_bot(ts: TelegramStore, token: str, username: str = "", first_name: str = "") -> BotAccount:
    """Make ``token`` a bot the emulator answers for (idempotent; returns the existing bot if known)."""
    bots = ts.bots
    bot = bots.get(token)
    if bot is None:
        bot_id = int(token.split(":", 1)[0])
        bot = BotAccount(
            token=token,
            username=username or f"synkro_sandbox_{bot_id}_bot",
            first_name=first_name or "Synkro Sandbox Bot",
        )
        bots[token] = bot
    return bot


def default_bot(state: SandboxState) -> BotAccount:
    return store(state).bots[state.credentials.telegram_bot_token]


def bot_user(state: SandboxState) -> dict[str, Any]:
    """The credentials' bot as ``getMe`` returns it."""
    return default_bot(state).user()


# -- answers ---------------------------------------------------------------------------------------


def ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def fail(code: int, description: str, parameters: dict[str, Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, status_code=code)


def too_many_requests(retry_after: int) -> JSONResponse:
    return fail(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


def _fault_renderer(status: int, kind: str, retry_after: float | None) -> Response:
    if status == 429:
        return too_many_requests(max(1, math.ceil(retry_after or 1)))
    if status == 403:
        return fail(403, "Forbidden: bot was blocked by the user")
    if status == 402:
        return fail(402, "Payment Required")
    if status == 502:
        return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", 502, media_type="text/html")
    return fail(status, "Internal Server Error" if status == 500 else "Bad Gateway")


class ApiError(Exception):
    """Raised inside a method to answer with a Telegram error."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.response = fail(code, description, parameters)


# -- request parsing -------------------------------------------------------------------------------


async def _params(request: Request) -> dict[str, Any]:
    """Merge query string and body (form, multipart or JSON); JSON strings inside forms stay strings."""
    params: dict[str, Any] = dict(request.query_params)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        raw = await request.body()
        if raw:
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise ApiError(400, "Bad Request: can't parse JSON encoded request") from exc
            if isinstance(body, dict):
                params.update(body)
    elif ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form(max_files=20, max_part_size=MAX_DOCUMENT_BYTES + 1024)
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                params[key] = {
                    "filename": value.filename or key,
                    "content": await value.read(),
                    "content_type": value.content_type or "application/octet-stream",
                }
            else:
                params[key] = value
    return params


def _json_field(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from exc
    return value


def _int(params: dict[str, Any], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, f"Bad Request: invalid {name} specified") from exc


def _resolve_chat(state: SandboxState, params: dict[str, Any]) -> Chat:
    raw = params.get("chat_id")
    if raw in (None, ""):
        raise ApiError(400, "Bad Request: chat_id is empty")
    ts = store(state)
    chat: Chat | None = None
    if isinstance(raw, str) and raw.startswith("@"):
        chat = next((c for c in ts.chats.values() if c.username and f"@{c.username}" == raw), None)
    else:
        try:
            chat = ts.chats.get(int(raw))
        except (TypeError, ValueError):
            chat = None
    if chat is None:
        raise ApiError(400, "Bad Request: chat not found")
    return chat


def _check_deliverable(state: SandboxState, chat: Chat) -> None:
    """Migration, blocks and flood control, in that order (as Telegram reports them)."""
    if chat.migrate_to_chat_id is not None:
        raise ApiError(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            {"migrate_to_chat_id": chat.migrate_to_chat_id},
        )
    if chat.type == "private" and chat.blocked:
        raise ApiError(403, "Forbidden: bot was blocked by the user")
    if chat.type == "private" and not chat.started:
        raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
    if chat.blocked:
        kind = "supergroup" if chat.type == "supergroup" else "group" if chat.type == "group" else "channel"
        raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
    if chat.forced_429_count > 0:
        chat.forced_429_count -= 1
        raise ApiError(
            429,
            f"Too Many Requests: retry after {chat.forced_retry_after}",
            {"retry_after": chat.forced_retry_after},
        )
    ts = store(state)
    if chat.type in ("group", "supergroup", "channel") and ts.group_messages_per_minute:
        now = time.monotonic()
        window = [t for t in ts.sent_at.get(chat.id, []) if now - t < 60]
        ts.sent_at[chat.id] = window
        if len(window) >= ts.group_messages_per_minute:
            retry_after = max(1, math.ceil(60 - (now - window[0])))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


def _parse_or_fail(text: str, parse_mode: Any, *, caption: bool) -> tuple[str, list[dict[str, Any]]]:
    try:
        parsed = parse_text(text, parse_mode if parse_mode else None)
    except EntityParseError as exc:
        raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from exc
    except ValueError as exc:
        raise ApiError(400, "Bad Request: unsupported parse_mode") from exc
    plain = parsed.text
    if caption and len(plain) > MAX_CAPTION_LENGTH:
        raise ApiError(400, "Bad Request: message caption is too long")
    if not caption and len(plain) > MAX_TEXT_LENGTH:
        raise ApiError(400, "Bad Request: message is too long")
    if not caption and not plain.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    return plain, parsed.entities


def _record(
    state: SandboxState, bot: BotAccount, chat: Chat, fields: dict[str, Any], log: dict[str, Any]
) -> dict[str, Any]:
    ts = store(state)
    message_id = ts.next_message_id.get(chat.id, 1)
    ts.next_message_id[chat.id] = message_id + 1
    ts.sent_at.setdefault(chat.id, []).append(time.monotonic())
    message = {
        "message_id": message_id,
        "from": bot.short_user(),
        "chat": chat.resource(),
        "date": int(time.time()),
        **fields,
    }
    ts.messages.append(
        {"chat_id": chat.id, "message_id": message_id, "date": message["date"], "bot_id": bot.id, **log}
    )
    ts.sent[(chat.id, message_id)] = message
    return message


def _store_file(state: SandboxState, upload: dict[str, Any], folder: str) -> StoredFile:
    ts = store(state)
    content: bytes = upload["content"]
    unique = hashlib.sha256(content).hexdigest()[:16]
    file_id = f"SBX{folder[:3].upper()}{len(ts.files) + 1:06d}{unique}"
    suffix = "." + upload["filename"].rsplit(".", 1)[-1] if "." in upload["filename"] else ""
    stored = StoredFile(
        file_id=file_id,
        file_unique_id=unique,
        file_path=f"{folder}/file_{len(ts.files) + 1}{suffix}",
        content=content,
        file_name=upload["filename"],
        mime_type=upload["content_type"],
    )
    ts.files[file_id] = stored
    return stored


def _file_param(state: SandboxState, params: dict[str, Any], name: str) -> dict[str, Any]:
    value = params.get(name)
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        known = store(state).files.get(value)
        if known is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return {"filename": known.file_name, "content": known.content, "content_type": known.mime_type}
    raise ApiError(400, f"Bad Request: there is no {name} in the request")


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, JPEG or GIF (Telegram rejects anything it cannot decode)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            length = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return width, height
            i += 2 + length
    return None


# -- methods ---------------------------------------------------------------------------------------


async def m_get_me(state: SandboxState, bot: BotAccount, params: dict[str, Any]) -> Any:
    return bot.user()


async def m_send_message(state: SandboxState, bot: BotAccount, params: dict[str, Any]) -> Any:
    chat = _resolve_chat(state, params)
    text = params.get("text")
    if text in (None, ""):
        raise ApiError(400, "Bad Request: message text is empty")
    parse_mode = params.get("parse_mode")
    plain, entities = _parse_or_fail(str(text), parse_mode, caption=False)
    if not parse_mode and (given := _json_field(params, "entities")):
        entities = given
    _check_deliverable(state, chat)
    fields: dict[str, Any] = {"text": plain}
    if entities:
        fields["entities"] = entities
    markup = _json_field(params, "reply_markup")
    if markup:
        fields["reply_markup"] = markup
    log = {"type": "text", "text": plain, "raw_text": text, "parse_mode": parse_mode, "entities": entities}
    if markup:
        log["reply_markup"] = markup
    return _record(state, bot, chat, fields, log)


async def _send_file(state: SandboxState, bot: BotAccount, params: dict[str, Any], kind: str) -> Any:
    chat = _resolve_chat(state, params)
    upload = _file_param(state, params, kind)
    parse_mode = params.get("caption_parse_mode") or params.get("parse_mode")
    caption = params.get("caption")
    plain, entities = _parse_or_fail(str(caption), parse_mode, caption=True) if caption else ("", [])
    content: bytes = upload["content"]
    fields: dict[str, Any] = {}
    log: dict[str, Any] = {"type": kind, "caption": plain or None, "parse_mode": parse_mode}
    if kind == "document":
        if len(content) > MAX_DOCUMENT_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        if not content:
            raise ApiError(400, "Bad Request: file must be non-empty")
        _check_deliverable(state, chat)
        name = str(params.get("filename") or upload["filename"])
        stored = _store_file(state, {**upload, "filename": name}, "documents")
        fields["document"] = {
            "file_name": name,
            "mime_type": upload["content_type"],
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(content),
        }
        log.update(
            {
                "file_name": name,
                "file_size": len(content),
                "mime_type": upload["content_type"],
                "file_id": stored.file_id,
            }
        )
    else:
        if len(content) > MAX_PHOTO_BYTES:
            raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        size = image_size(content)
        if size is None:
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        _check_deliverable(state, chat)
        stored = _store_file(state, upload, "photos")
        width, height = size
        scale = min(1.0, 1280 / max(width, height, 1))
        thumb = min(1.0, 90 / max(width, height, 1))
        fields["photo"] = [
            {
                "file_id": f"{stored.file_id}s",
                "file_unique_id": f"{stored.file_unique_id}s",
                "width": max(1, round(width * thumb)),
                "height": max(1, round(height * thumb)),
                "file_size": 1200,
            },
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "width": round(width * scale),
                "height": round(height * scale),
                "file_size": len(content),
            },
        ]
        log.update({"width": width, "height": height, "file_size": len(content), "file_id": stored.file_id})
    if plain:
        fields["caption"] = plain
        if entities:
            fields["caption_entities"] = entities
    return _record(state, bot, chat, fields, log)


async def m_send_document(state: SandboxState, bot: BotAccount, params: dict[str, Any]) -> Any:
    return await _send_file(state, bot, params, "document")


async def m_send_photo(state: SandboxState, bot: BotAccount, params: dict[str, Any]) -> Any:
    return await _send_file(state, bot, params, "photo")


async def m_get_chat(state: SandboxState, bot: BotAccount, params: dict[str, Any]) -> Any:
    chat = _resolve_chat(state, params)
    if chat.migrate_to_chat_id is not None:
        raise ApiError(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            {"migrate_to_chat_id": chat.migrate_to_chat_id},
        )
    if chat.blocked and chat.type != "private":
        raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
    return {
        **chat.resource(),
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    }


async def m_get_updates(state: SandboxState, bot: BotAccount, params: dict[str, Any]) -> Any:
    if bot.webhook_url:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
            "to delete the webhook first",
        )
    offset = _int(params, "offset", 0) or 0
    limit = max(1, min(_int(params, "limit", 100) or 100, 100))
    deadline = poll_deadline(_int(params, "timeout", 0) or 0)
    allowed = _json_field(params, "allowed_updates")
    bot.acknowledge(offset)
    bot.poll_generation += 1
    generation = bot.poll_generation
    while True:
        if generation != bot.poll_generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot "
                "instance is running",
            )
        pending = bot.pending(allowed)
        remaining = deadline - time.monotonic()
        if pending or remaining <= 0:
            return pending[:limit]
        await bot.wait(min(remaining, 0.5))


async def m_set_webhook(state: SandboxState, bot: BotAccount, params: dict[str, Any]) -> Any:
    url = str(params.get("url") or "")
    if url and not url.startswith("https://"):
        raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
    secret = str(params.get("secret_token") or "")
    if secret and (len(secret) > 256 or not all(c.isalnum() or c in "_-" for c in secret)):
        raise ApiError(400, "Bad Request: secret token contains unallowed characters")
    if _json_field(params, "drop_pending_updates") in (True, "true", "True"):
        bot.updates.clear()
    bot.webhook_url = url
    bot.webhook_secret = secret if url else ""
    bot.webhook_allowed_updates = list(_json_field(params, "allowed_updates") or []) if url else []
    return True


async def m_delete_webhook(state: SandboxState, bot: BotAccount, params: dict[str, Any]) -> Any:
    if _json_field(params, "drop_pending_updates") in (True, "true", "True"):
        bot.updates.clear()
    bot.webhook_url = ""
    bot.webhook_secret = ""
    bot.webhook_allowed_updates = []
    bot.arrived.set()
    return True


async def m_get_webhook_info(state: SandboxState, bot: BotAccount, params: dict[str, Any]) -> Any:
    info: dict[str, Any] = {
        "url": bot.webhook_url,
        "has_custom_certificate": False,
        "pending_update_count": len(bot.updates),
    }
    if bot.webhook_url:
        info["max_connections"] = 40
        if bot.webhook_allowed_updates:
            info["allowed_updates"] = bot.webhook_allowed_updates
    return info


def _scope(params: dict[str, Any]) -> str:
    try:
        return scope_key(_json_field(params, "scope"))
    except ValueError as exc:
        raise ApiError(400, "Bad Request: wrong bot command scope type specified") from exc


async def m_set_my_commands(state: SandboxState, bot: BotAccount, params: dict[str, Any]) -> Any:
    commands = _json_field(params, "commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise ApiError(400, "Bad Request: commands must be an array of at most 100 BotCommand")
    clean: list[dict[str, str]] = []
    for item in commands:
        name = str((item or {}).get("command") or "")
        description = str((item or {}).get("description") or "")
        if not name or len(name) > 32 or not all(c.islower() or c.isdigit() or c == "_" for c in name):
            raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        if not description or len(description) > 256:
            raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        clean.append({"command": name, "description": description})
    bot.commands[(_scope(params), str(params.get("language_code") or ""))] = clean
    return True


async def m_get_my_commands(state: SandboxState, bot: BotAccount, params: dict[str, Any]) -> Any:
    return bot.commands_for(_json_field(params, "scope"), str(params.get("language_code") or ""))


async def m_delete_my_commands(state: SandboxState, bot: BotAccount, params: dict[str, Any]) -> Any:
    bot.commands.pop((_scope(params), str(params.get("language_code") or "")), None)
    return True


async def m_get_file(state: SandboxState, bot: BotAccount, params: dict[str, Any]) -> Any:
    file_id = str(params.get("file_id") or "")
    stored = store(state).files.get(file_id.removesuffix("s")) if file_id else None
    if stored is None:
        raise ApiError(400, "Bad Request: invalid file_id")
    return {
        "file_id": file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.content),
        "file_path": stored.file_path,
    }


def _sent_message(
    state: SandboxState, bot: BotAccount, params: dict[str, Any]
) -> tuple[Chat, dict[str, Any]]:
    """The bot's own message `message_id` in the chat; Telegram's 400 when it has none by that id."""
    chat = _resolve_chat(state, params)
    message_id = _int(params, "message_id")
    if message_id is None:
        raise ApiError(400, "Bad Request: message identifier is not specified")
    for logged in store(state).messages:
        mine = logged.get("bot_id") == bot.id  # a bot edits only its own messages
        if mine and logged["chat_id"] == chat.id and logged["message_id"] == message_id:
            return chat, logged
    raise ApiError(400, "Bad Request: message to edit not found")


NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


def _edited(bot: BotAccount, chat: Chat, logged: dict[str, Any]) -> dict[str, Any]:
    fields = {k: logged[k] for k in ("text", "entities", "caption") if logged.get(k)}
    return {
        "message_id": logged["message_id"],
        "from": bot.short_user(),
        "chat": chat.resource(),
        "date": logged["date"],
        "edit_date": int(time.time()),
        **fields,
    }


async def m_edit_message_text(state: SandboxState, bot: BotAccount, params: dict[str, Any]) -> Any:
    """Real Telegram answers "message is not modified" for an edit to the same text and entities."""
    chat, logged = _sent_message(state, bot, params)
    if logged["type"] != "text":
        raise ApiError(400, "Bad Request: there is no text in the message to edit")
    text = params.get("text")
    if text in (None, ""):
        raise ApiError(400, "Bad Request: message text is empty")
    plain, entities = _parse_or_fail(str(text), params.get("parse_mode"), caption=False)
    if plain == logged["text"] and (entities or []) == (logged.get("entities") or []):
        raise ApiError(400, NOT_MODIFIED)
    logged.update(
        {"text": plain, "raw_text": text, "entities": entities, "parse_mode": params.get("parse_mode")}
    )
    return _edited(bot, chat, logged)


async def m_edit_message_caption(state: SandboxState, bot: BotAccount, params: dict[str, Any]) -> Any:
    chat, logged = _sent_message(state, bot, params)
    if logged["type"] == "text":
        raise ApiError(400, "Bad Request: there is no caption in the message to edit")
    caption = params.get("caption")
    plain, _ = _parse_or_fail(str(caption), params.get("parse_mode"), caption=True) if caption else ("", [])
    if (plain or None) == logged.get("caption"):
        raise ApiError(400, NOT_MODIFIED)
    logged["caption"] = plain or None
    return _edited(bot, chat, logged)


async def m_edit_message_reply_markup(state: SandboxState, bot: BotAccount, params: dict[str, Any]) -> Any:
    chat, logged = _sent_message(state, bot, params)
    markup = _json_field(params, "reply_markup") or None
    if markup == logged.get("reply_markup"):
        raise ApiError(400, NOT_MODIFIED)
    logged["reply_markup"] = markup
    return _edited(bot, chat, logged)


async def m_send_chat_action(state: SandboxState, bot: BotAccount, params: dict[str, Any]) -> Any:
    chat = _resolve_chat(state, params)
    _check_deliverable(state, chat)
    return True


async def m_log_out(state: SandboxState, bot: BotAccount, params: dict[str, Any]) -> Any:
    return True


METHODS = {
    "getme": m_get_me,
    "sendmessage": m_send_message,
    "senddocument": m_send_document,
    "sendphoto": m_send_photo,
    "getchat": m_get_chat,
    "getupdates": m_get_updates,
    "setwebhook": m_set_webhook,
    "deletewebhook": m_delete_webhook,
    "getwebhookinfo": m_get_webhook_info,
    "setmycommands": m_set_my_commands,
    "getmycommands": m_get_my_commands,
    "deletemycommands": m_delete_my_commands,
    "getfile": m_get_file,
    "sendchataction": m_send_chat_action,
    "editmessagetext": m_edit_message_text,
    "editmessagecaption": m_edit_message_caption,
    "editmessagereplymarkup": m_edit_message_reply_markup,
    "close": m_log_out,
    "logout": m_log_out,
}


def _entities(text: str) -> list[dict[str, Any]]:
    """bot_command and mention entities as Telegram computes them (offsets in UTF-16 units)."""
    found: list[dict[str, Any]] = []
    position = 0
    for word in text.split(" "):
        stripped = word.rstrip(".,!?:;")
        if stripped.startswith("/") and len(stripped) > 1:
            kind = "bot_command"
        elif stripped.startswith("@") and len(stripped) > 1:
            kind = "mention"
        else:
            position += len(word) + 1
            continue
        found.append({"type": kind, "offset": _utf16(text[:position]), "length": _utf16(stripped)})
        position += len(word) + 1
    return found


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def inject_message(
    ts: TelegramStore,
    bot: BotAccount,
    chat_id: int,
    text: str,
    *,
    user: dict[str, Any] | None = None,
    reply_to_message_id: int | None = None,
    entities: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A user's message in ``chat_id`` as ``bot`` receives it; numbered in the chat's own sequence."""
    chat = ts.chats[chat_id]
    sender = user or {
        "id": chat_id if chat.type == "private" else OWNER_CHAT_ID,
        "is_bot": False,
        "first_name": chat.first_name or "Sandbox Owner",
    }
    message_id = ts.next_message_id.get(chat_id, 1)
    ts.next_message_id[chat_id] = message_id + 1
    message: dict[str, Any] = {
        "message_id": message_id,
        "from": sender,
        "chat": chat.resource(),
        "date": int(time.time()),
        "text": text,
    }
    found = entities if entities is not None else _entities(text)
    if found:
        message["entities"] = found
    if reply_to_message_id is not None:
        replied = ts.sent.get((chat_id, reply_to_message_id))
        if replied is None:
            raise KeyError(reply_to_message_id)
        # Telegram includes the replied message itself, without its own reply_to_message.
        message["reply_to_message"] = {k: v for k, v in replied.items() if k != "reply_to_message"}
    ts.sent[(chat_id, message_id)] = message
    return bot.push({"message": message})


# -- app -------------------------------------------------------------------------------------------


def build_app(state: SandboxState) -> Starlette:
    """The Telegram emulator, mounted at ``/telegram``."""

    async def api(request: Request) -> Response:
        token = request.path_params["token"]
        fault = await faults.check(state, SERVICE, request, account=token[-4:], render=_fault_renderer)
        if fault is not None:
            return fault
        bot = store(state).bots.get(token)
        if bot is None or bot.revoked:
            return fail(401, "Unauthorized")
        method = METHODS.get(request.path_params["method"].lower())
        if method is None:
            return fail(404, "Not Found")
        ts = store(state)
        is_send = request.path_params["method"].lower().startswith("send")
        if is_send and ts.fail_sends > 0:
            ts.fail_sends -= 1
            return _fault_renderer(502, "server_error", None)
        try:
            params = await _params(request)
            answer = ok(await method(state, bot, params))
        except ApiError as exc:
            return exc.response
        if is_send and ts.accept_then_hang > 0:
            ts.accept_then_hang -= 1
            await asyncio.sleep(ts.hang_seconds)
        return answer

    async def download(request: Request) -> Response:
        bot = store(state).bots.get(request.path_params["token"])
        if bot is None or bot.revoked:
            return fail(401, "Unauthorized")
        path = request.path_params["path"]
        stored = next((f for f in store(state).files.values() if f.file_path == path), None)
        if stored is None:
            return fail(404, "Not Found")
        return Response(stored.content, media_type=stored.mime_type or "application/octet-stream")

    store(state)
    return Starlette(
        routes=[
            Route("/bot{token}/{method}", api, methods=["GET", "POST"]),
            Route("/file/bot{token}/{path:path}", download, methods=["GET"]),
        ]
    )


def control_routes(state: SandboxState) -> list[BaseRoute]:
    """``GET|DELETE /messages``, ``GET|POST /chats``, ``POST /updates``, ``POST /faults``,
    ``GET /files/{file_id}``."""

    async def messages(request: Request) -> Response:
        ts = store(state)
        if request.method == "DELETE":
            ts.messages.clear()
            ts.sent_at.clear()
            return JSONResponse({"ok": True})
        chat_id = request.query_params.get("chat_id")
        items = [m for m in ts.messages if chat_id is None or str(m["chat_id"]) == chat_id]
        return JSONResponse({"messages": items})

    async def chats(request: Request) -> Response:
        ts = store(state)
        if request.method == "GET":
            return JSONResponse({"chats": [asdict(c) for c in ts.chats.values()]})
        payload = await request.json()
        try:
            chat_id = int(payload["chat_id"])
        except (KeyError, TypeError, ValueError):
            return JSONResponse({"error": "chat_id (int) is required"}, status_code=400)
        chat = ts.chats.get(chat_id)
        if chat is None:
            default_type = (
                "private" if chat_id > 0 else "supergroup" if str(chat_id).startswith("-100") else "group"
            )
            chat = Chat(chat_id, str(payload.get("type") or default_type))
            ts.chats[chat_id] = chat
        if payload.get("delete"):
            del ts.chats[chat_id]
            return JSONResponse({"deleted": chat_id})
        for name in ("type", "title", "first_name", "username", "blocked", "started", "migrate_to_chat_id"):
            if name in payload:
                setattr(chat, name, payload[name])
        if "retry_after" in payload:
            chat.forced_retry_after = int(payload["retry_after"])
            chat.forced_429_count = int(payload.get("count", 1))
        target = chat.migrate_to_chat_id
        if target is not None and target not in ts.chats:
            ts.chats[target] = Chat(target, "supergroup", title=chat.title)
        if "group_messages_per_minute" in payload:
            ts.group_messages_per_minute = int(payload["group_messages_per_minute"])
        return JSONResponse(asdict(chat))

    async def faults_(request: Request) -> Response:
        """``POST {"accept_then_hang": N, "hang_seconds": S, "fail_sends": F}``: accept N sends and
        answer each after S s; answer F sends with 502 without delivering them."""
        ts = store(state)
        payload = await request.json()
        ts.fail_sends = int(payload.get("fail_sends", 0))
        ts.accept_then_hang = int(payload.get("accept_then_hang", 0))
        ts.hang_seconds = float(payload.get("hang_seconds", 0.0))
        return JSONResponse(
            {
                "accept_then_hang": ts.accept_then_hang,
                "hang_seconds": ts.hang_seconds,
                "fail_sends": ts.fail_sends,
            }
        )

    async def bots(request: Request) -> Response:
        """GET: the known bots; POST {"token", "username"?, "first_name"?, "revoked"?}: add or change one."""
        ts = store(state)
        if request.method == "GET":
            return JSONResponse({"bots": [_bot_summary(b) for b in ts.bots.values()]})
        payload = await request.json()
        token = str(payload.get("token") or "")
        head, _, tail = token.partition(":")
        if not head.isdigit() or len(tail) < 20:
            error = "token must look like <digits>:<secret of 20+ chars>"
            return JSONResponse({"error": error}, status_code=400)
        username, first_name = str(payload.get("username") or ""), str(payload.get("first_name") or "")
        bot = register_bot(ts, token, username, first_name)
        if "revoked" in payload:
            bot.revoked = bool(payload["revoked"])
        return JSONResponse(_bot_summary(bot))

    async def updates(request: Request) -> Response:
        """Inject a user's message for a bot (``bot_token`` or ``bot_id``; default: the credentials' bot)."""
        ts = store(state)
        payload = await request.json()
        named = payload.get("bot_token") or payload.get("bot_id") is not None
        bot = _find_bot(ts, payload) if named else default_bot(state)
        if bot is None:
            return JSONResponse({"error": "unknown bot_token/bot_id"}, status_code=404)
        chat_id = int(payload.get("chat_id", OWNER_CHAT_ID))
        if chat_id not in ts.chats:
            ts.chats[chat_id] = Chat(
                chat_id,
                str(payload.get("chat_type") or ("private" if chat_id > 0 else "group")),
                first_name=str(payload.get("first_name") or "Sandbox User"),
                title=str(payload.get("title") or ""),
            )
        user = payload.get("user")
        if user is not None and not (isinstance(user, dict) and isinstance(user.get("id"), int)):
            return JSONResponse({"error": "user must be an object with an integer id"}, status_code=400)
        if user is not None:
            user = {"is_bot": False, "first_name": "Sandbox User", **user}
        reply_to = payload.get("reply_to_message_id")
        try:
            update = inject_message(
                ts,
                bot,
                chat_id,
                str(payload.get("text", "/start")),
                user=user,
                reply_to_message_id=int(reply_to) if reply_to is not None else None,
                entities=payload.get("entities"),
            )
        except KeyError:
            return JSONResponse({"error": f"message {reply_to} not found in chat {chat_id}"}, status_code=404)
        return JSONResponse(update)

    async def file_content(request: Request) -> Response:
        stored = store(state).files.get(request.path_params["file_id"])
        if stored is None:
            return JSONResponse({"error": "unknown file_id"}, status_code=404)
        return Response(stored.content, media_type=stored.mime_type or "application/octet-stream")

    return [
        Route("/messages", messages, methods=["GET", "DELETE"]),
        Route("/chats", chats, methods=["GET", "POST"]),
        Route("/updates", updates, methods=["POST"]),
        Route("/faults", faults_, methods=["POST"]),
        Route("/bots", bots, methods=["GET", "POST"]),
        Route("/files/{file_id}", file_content, methods=["GET"]),
    ]


def _find_bot(ts: TelegramStore, payload: dict[str, Any]) -> BotAccount | None:
    token = payload.get("bot_token")
    if token:
        return ts.bots.get(str(token))
    bot_id = payload.get("bot_id")
    if bot_id is not None:
        return next((b for b in ts.bots.values() if str(b.id) == str(bot_id)), None)
    return None


def _bot_summary(bot: BotAccount) -> dict[str, Any]:
    """A bot for the control API: the token masked to its last 4 characters."""
    return {
        "id": bot.id,
        "username": bot.username,
        "token_last4": bot.token[-4:],
        "revoked": bot.revoked,
        "webhook_url": bot.webhook_url,
        "pending_update_count": len(bot.updates),
        "commands": [
            {"scope": scope, "language_code": lang, "commands": cmds}
            for (scope, lang), cmds in bot.commands.items()
        ],
    }
