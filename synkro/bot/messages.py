"""The bot's own strings, per language (``{key: (ru, en)}``, like the portal's messages)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "refusal": (
        "Этот бот отвечает только в чате, подключённом к Synkro.",
        "This bot only answers in the chat connected to Synkro.",
    ),
    "help": (
        "Команды:\n/report — последний отчёт\n/report ДД.ММ.ГГГГ — отчёт за день\n/help — эта справка",
        "Commands:\n/report — the latest report\n/report DD.MM.YYYY — the report of that day\n"
        "/help — this help",
    ),
    "no_report": ("Отчётов пока нет.", "There are no reports yet."),
    "no_report_for": ("Отчёта за {day} нет.", "There is no report for {day}."),
    "bad_date": (
        "Не понял дату «{value}». Пример: /report 30.11.2026",
        "Could not read the date “{value}”. Example: /report 30.11.2026",
    ),
    "cmd_report": ("Последний отчёт или отчёт за день", "The latest report, or the report of a day"),
    "cmd_help": ("Что умеет бот", "What the bot can do"),
}


def text(key: str, language: str, **values: object) -> str:
    ru, en = MESSAGES[key]
    chosen = en if language == "en" else ru
    return chosen.format(**values) if values else chosen
