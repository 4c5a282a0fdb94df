"""Who is served: only the tenant's configured chat; in groups only what is addressed to the bot.

Why here and not in each command: one rule, applied before any handler runs, so no command can leak a
tenant's data to a stranger's chat by forgetting a check.
"""

from __future__ import annotations

import logging

from telegram import Message, MessageEntity, Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from synkro.bot.messages import text

log = logging.getLogger("synkro.bot")


def served_chats(chat_id: int | str) -> set[str]:
    return {str(chat_id)}


def addressed_to_bot(message: Message, bot_id: int, bot_username: str) -> bool:
    """In groups the bot answers commands, @mentions of itself and replies to its own messages."""
    if message.chat.type == "private":
        return True
    entities = message.parse_entities([MessageEntity.BOT_COMMAND, MessageEntity.MENTION])
    for entity, value in entities.items():
        if entity.type == MessageEntity.MENTION and value.lower() == f"@{bot_username.lower()}":
            return True
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            target = value.partition("@")[2]
            if not target or target.lower() == bot_username.lower():
                return True
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)


class Gate:
    """Runs first for every update (handler group -1): refuses strangers once, ignores chatter."""

    def __init__(self, slug: str, chat_id: int | str, language: str) -> None:
        self.slug = slug
        self.allowed = served_chats(chat_id)
        self.language = language
        self.refused: set[int] = set()

    def allow_migrated(self, old: int, new: int) -> None:
        if str(old) in self.allowed:
            self.allowed.add(str(new))

    async def __call__(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or update.effective_chat is None:
            raise ApplicationHandlerStop
        chat = update.effective_chat
        if message.migrate_to_chat_id:
            self.allow_migrated(chat.id, message.migrate_to_chat_id)
        if str(chat.id) not in self.allowed:
            me = context.bot
            if chat.type != "private" and not addressed_to_bot(message, me.id, me.username):
                raise ApplicationHandlerStop
            log.warning("tenant %s: refused chat %s (%s)", self.slug, chat.id, chat.type)
            if chat.id not in self.refused:
                self.refused.add(chat.id)
                await message.reply_text(text("refusal", self.language))
            raise ApplicationHandlerStop
        if not addressed_to_bot(message, context.bot.id, context.bot.username):
            raise ApplicationHandlerStop
