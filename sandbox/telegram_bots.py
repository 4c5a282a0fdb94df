"""Per-bot state of the Telegram emulator: each bot token has its own updates, webhook and commands.

Telegram keeps an update queue, a webhook and a command menu per bot, while chats and their message
ids belong to the chat (every member, bot or human, numbers messages in the same sequence). Synkro runs
one bot per tenant in one process, so tests need several bots in one sandbox: the credentials' bot is
always known, more are registered with ``POST /_sandbox/telegram/bots``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

# Bot API: getUpdates long polling waits at most this many seconds (the docs cap ``timeout`` at 50).
MAX_POLL_TIMEOUT = 50
COMMAND_SCOPES = {
    "default",
    "all_private_chats",
    "all_group_chats",
    "all_chat_administrators",
    "chat",
    "chat_administrators",
    "chat_member",
}


@dataclass
class BotAccount:
    """One bot: identity, its pending updates and how they are delivered."""

    token: str
    username: str
    first_name: str
    updates: list[dict[str, Any]] = field(default_factory=list)
    next_update_id: int = 100_000_001
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_allowed_updates: list[str] = field(default_factory=list)
    revoked: bool = False  # the owner revoked the token in @BotFather: every call answers 401
    # (scope key, language_code) -> commands; language "" is the fallback for every language.
    commands: dict[tuple[str, str], list[dict[str, str]]] = field(default_factory=dict)
    poll_generation: int = 0  # a newer getUpdates ends an older waiting one with 409, as Telegram does
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def id(self) -> int:
        return int(self.token.split(":", 1)[0])

    def user(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def short_user(self) -> dict[str, Any]:
        return {k: self.user()[k] for k in ("id", "is_bot", "first_name", "username")}

    def push(self, body: dict[str, Any]) -> dict[str, Any]:
        """Queue one update (``body`` without ``update_id``) and wake a waiting long poll."""
        update = {"update_id": self.next_update_id, **body}
        self.next_update_id += 1
        self.updates.append(update)
        self.arrived.set()
        return update

    def acknowledge(self, offset: int) -> None:
        """``offset`` confirms every update below it (negative: keep only the last ``-offset``)."""
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]

    def pending(self, allowed: list[str] | None) -> list[dict[str, Any]]:
        if not allowed:
            return list(self.updates)
        return [u for u in self.updates if any(k in u for k in allowed)]

    async def wait(self, timeout: float) -> None:
        """Sleep until an update arrives or ``timeout`` seconds pass."""
        self.arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.arrived.wait(), timeout=max(0.0, timeout))

    def commands_for(self, scope: dict[str, Any] | None, language: str) -> list[dict[str, str]]:
        return self.commands.get((scope_key(scope), language), [])


def scope_key(scope: dict[str, Any] | None) -> str:
    """A hashable name for a BotCommandScope (chat scopes include the chat and user ids)."""
    if not scope:
        return "default"
    kind = str(scope.get("type") or "default")
    if kind not in COMMAND_SCOPES:
        raise ValueError(kind)
    if kind in ("chat", "chat_administrators", "chat_member"):
        return f"{kind}:{scope.get('chat_id')}:{scope.get('user_id', '')}"
    return kind


def poll_deadline(timeout: int) -> float:
    return time.monotonic() + min(max(0, timeout), MAX_POLL_TIMEOUT)
