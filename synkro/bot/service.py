"""`synkro bot`: every tenant's bot in one asyncio loop, long polling with acknowledged offsets.

Why our own polling loop instead of PTB's Updater: we must know which update was handled before we
acknowledge it (a restart then neither loses nor repeats one), and a 401 must stop only that tenant
and mark its config — the Updater swallows InvalidToken inside its task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from telegram import Update
from telegram.error import Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, ApplicationBuilder, CommandHandler, TypeHandler

from synkro.bot.access import Gate
from synkro.bot.commands import Commands, bot_commands
from synkro.bot.tenants import TenantBot, active_tenant_bots
from synkro.controlplane import ControlPlane

log = logging.getLogger("synkro.bot")
ALLOWED_UPDATES = ["message"]


@dataclass
class Running:
    bot: TenantBot
    app: Application
    task: asyncio.Task[None]


class BotService:
    """Owns one Application per tenant; ``refresh`` reconciles them with the control plane."""

    def __init__(self, cp: ControlPlane, *, refresh_seconds: float = 30, poll_timeout: int = 10) -> None:
        self.cp = cp
        self.refresh_seconds = refresh_seconds
        self.poll_timeout = poll_timeout
        self.running: dict[str, Running] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set, re-reading tenants every ``refresh_seconds``."""
        try:
            while not stop.is_set():
                await self.refresh()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.refresh_seconds)
        finally:
            await asyncio.gather(*(self._stop(slug) for slug in list(self.running)))

    async def refresh(self) -> None:
        wanted = await asyncio.to_thread(active_tenant_bots, self.cp)
        for slug, current in list(self.running.items()):
            if wanted.get(slug) != current.bot or current.task.done():
                await self._stop(slug)
        for slug, bot in wanted.items():
            if slug not in self.running:
                await self._start(bot)

    async def _start(self, bot: TenantBot) -> None:
        app = (
            ApplicationBuilder()
            .token(bot.token)
            .base_url(f"{bot.base_url}/bot")
            .base_file_url(f"{bot.base_url}/file/bot")
            .updater(None)
            .get_updates_read_timeout(self.poll_timeout + 10)
            .build()
        )
        commands = Commands(self.cp, bot.slug, bot.language)
        app.add_handler(TypeHandler(Update, Gate(bot.slug, bot.chat_id, bot.language)), group=-1)
        app.add_handler(CommandHandler("help", commands.help))
        app.add_handler(CommandHandler("start", commands.help))
        app.add_handler(CommandHandler("report", commands.report))
        app.add_error_handler(_log_handler_error)
        try:
            await app.initialize()
            await app.bot.set_my_commands(bot_commands(bot.language), language_code=bot.language)
            await app.bot.set_my_commands(bot_commands(bot.language))
        except InvalidToken:
            await self._revoked(bot)
            return
        except (NetworkError, Forbidden) as exc:
            log.warning("tenant %s: bot did not start: %s", bot.slug, exc)
            with contextlib.suppress(Exception):
                await app.shutdown()
            return
        task = asyncio.create_task(self._poll(bot, app), name=f"bot:{bot.slug}")
        self.running[bot.slug] = Running(bot, app, task)
        log.info("tenant %s: bot @%s serving chat %s", bot.slug, app.bot.username, bot.chat_id)

    async def _poll(self, bot: TenantBot, app: Application) -> None:
        offset: int | None = None
        try:
            while True:
                try:
                    updates = await app.bot.get_updates(
                        offset=offset, timeout=self.poll_timeout, allowed_updates=ALLOWED_UPDATES
                    )
                except InvalidToken:
                    await self._revoked(bot)
                    return
                except RetryAfter as exc:
                    await asyncio.sleep(float(exc.retry_after if isinstance(exc.retry_after, int) else 1))
                    continue
                except (Conflict, TimedOut, NetworkError) as exc:
                    log.warning("tenant %s: getUpdates failed (%s); retrying", bot.slug, type(exc).__name__)
                    await asyncio.sleep(1)
                    continue
                for update in updates:
                    # Shielded: a stop mid-answer lets the answer finish, so acknowledging it below is true.
                    await asyncio.shield(app.process_update(update))
                    offset = update.update_id + 1
        finally:
            if offset is not None:
                with contextlib.suppress(Exception):
                    await app.bot.get_updates(offset=offset, timeout=0, limit=1)

    async def _revoked(self, bot: TenantBot) -> None:
        log.error("tenant %s: Telegram rejected the bot token (…%s); bot stopped", bot.slug, bot.token[-4:])
        await asyncio.to_thread(
            self.cp.configs.set_config_status,
            bot.slug,
            "telegram",
            "error",
            error="Telegram rejected the bot token (401 Unauthorized): revoked or wrong",
        )

    async def _stop(self, slug: str) -> None:
        running = self.running.pop(slug, None)
        if running is None:
            return
        running.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await running.task
        with contextlib.suppress(Exception):
            await running.app.shutdown()
        log.info("tenant %s: bot stopped", slug)


async def _log_handler_error(update: object, context) -> None:
    log.error("bot handler failed: %s", context.error, exc_info=context.error)
