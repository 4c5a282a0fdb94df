"""Bot commands: /help and /report [DD.MM.YYYY], answered from the tenant's own control-plane reports."""

from __future__ import annotations

import asyncio
from datetime import date, datetime

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from synkro.bot.messages import text
from synkro.controlplane import ControlPlane
from synkro.report.model import Report
from synkro.report.render import report_date, telegram_messages

COMMANDS = (("report", "cmd_report"), ("help", "cmd_help"))


def bot_commands(language: str) -> list[BotCommand]:
    return [BotCommand(name, text(key, language)) for name, key in COMMANDS]


def stored_report(cp: ControlPlane, slug: str, day: date | None) -> Report | None:
    """The newest ready/sent report of ``slug`` (of that business day when ``day`` is given)."""
    for row in cp.reports.list_reports(slug, limit=200):
        if row.status not in ("ready", "sent") or not row.data:
            continue
        report = Report.model_validate(row.data)
        if day is None or report_date(report) == day:
            return report
    return None


class Commands:
    """Handlers bound to one tenant: they only ever read ``slug``'s rows."""

    def __init__(self, cp: ControlPlane, slug: str, language: str) -> None:
        self.cp = cp
        self.slug = slug
        self.language = language

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(text("help", self.language))

    async def report(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        day: date | None = None
        if context.args:
            raw = context.args[0]
            try:
                day = datetime.strptime(raw, "%d.%m.%Y").date()
            except ValueError:
                await message.reply_text(text("bad_date", self.language, value=raw[:20]))
                return
        report = await asyncio.to_thread(stored_report, self.cp, self.slug, day)
        if report is None:
            key = "no_report" if day is None else "no_report_for"
            await message.reply_text(text(key, self.language, day=day.strftime("%d.%m.%Y") if day else ""))
            return
        for part in telegram_messages(report):
            await message.reply_text(part, parse_mode=ParseMode.HTML, disable_web_page_preview=True)
