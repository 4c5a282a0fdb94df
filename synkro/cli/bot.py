"""`synkro bot`: serve every active tenant's Telegram bot (long polling) until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal

import typer

from synkro.cli.common import console


def bot(
    refresh: float = typer.Option(30.0, "--refresh", help="Seconds between re-reading tenants and configs."),
    poll_timeout: int = typer.Option(10, "--poll-timeout", help="getUpdates long-poll timeout, seconds."),
) -> None:
    """Answer /help and /report in each tenant's chat; tenant changes are picked up every --refresh s."""
    from synkro.bot.service import BotService
    from synkro.controlplane import open_controlplane

    logging.getLogger("synkro.bot").setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING)
    logging.getLogger("synkro.bot").addHandler(logging.StreamHandler())
    service = BotService(open_controlplane(), refresh_seconds=refresh, poll_timeout=poll_timeout)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        # Printed only once the handlers are in place, so a supervisor's SIGTERM is never lost.
        console.print("bot: serving tenants' Telegram chats (long polling; Ctrl-C to stop)", highlight=False)
        await service.run(stop)

    asyncio.run(main())
    console.print("bot: stopped", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(bot)
