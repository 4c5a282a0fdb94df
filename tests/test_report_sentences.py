"""No report entry says a sentence twice: the rule on its own, and every rendered report of the
sandbox scenarios (their dialogs scored by the Gemini emulator over HTTP, as in production)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from html import unescape

import psycopg
import pytest

from sandbox.scenario import generate_scenario
from synkro.analysis.run import analyze_window
from synkro.controlplane.settings import TenantSettings
from synkro.report.build import build_report
from synkro.report.model import ReportWindow
from synkro.report.render import _dialog_block, html_document, telegram_messages
from synkro.report.sentences import sentence_key, sentences, without_repeated_sentences
from synkro.windows import business_day
from tests.analysis_emulators import running_emulators
from tests.analysis_marts import Dialog, create_marts
from tests.test_analysis import KEY, MODEL

NOW = 1790000000


def test_a_repeated_sentence_is_said_once_where_it_first_appears() -> None:
    summary = "Сообщений: 4 (клиент 2, менеджер 2). Следующий шаг не согласован. Следующий шаг не согласован."
    recommendation = "Следующий шаг  не согласован! Завершать диалог договорённостью о следующем шаге."
    assert without_repeated_sentences([summary, recommendation]) == [
        "Сообщений: 4 (клиент 2, менеджер 2). Следующий шаг не согласован.",
        "Завершать диалог договорённостью о следующем шаге.",
    ]
    assert without_repeated_sentences(["Дорого. Подумаю."], already_said=["Дорого."]) == ["Подумаю."]
    assert without_repeated_sentences(["Всё хорошо.", ""]) == ["Всё хорошо.", ""]


def _entries(text: str) -> list[str]:
    """The dialog entries of a rendered report: the paragraphs after the risky / best headings."""
    paragraphs = [unescape(re.sub(r"<[^>]+>", "", p)) for p in text.split("\n\n")]
    return [p for p in paragraphs if " · оценка " in p]


def _repeats(entry: str) -> list[str]:
    said = [sentence_key(s) for line in entry.splitlines() for s in sentences(line.strip("«»→ "))]
    return sorted({k for k in said if k and said.count(k) > 1})


def _scenario_dialogs(size: str, day: date | None) -> tuple[list[Dialog], datetime, datetime]:
    """The scenario's dialogs with activity in the business day ``day`` (Moscow, 22:01), or all of
    them over one window from the first message to the last when ``day`` is None."""
    sc = generate_scenario(seed=42, size=size, now=NOW)
    names = {u.id: u.name for u in sc.users}
    dialogs = []
    for chat in sc.chats:
        messages = [
            (datetime.fromtimestamp(m.ts_ms / 1000, UTC), m.direction, m.text or "")
            for m in sc.messages(chat.chat_id)
        ]
        if messages:
            dialogs.append(Dialog(chat.chat_id, names.get(chat.manager_id), None, messages))
    if day is not None:
        window = business_day(day, "Europe/Moscow", "22:01")
        active = [d for d in dialogs if any(window.start <= m[0] < window.end for m in d.messages)]
        return active, window.start, window.end
    first = min(m[0] for d in dialogs for m in d.messages)
    last = max(m[0] for d in dialogs for m in d.messages)
    return dialogs, first, last + timedelta(seconds=1)


@pytest.mark.parametrize(("size", "day"), [("small", None), ("medium", date(2026, 9, 20))])
def test_no_rendered_report_of_a_sandbox_scenario_repeats_a_sentence(
    database_url: str, size: str, day: date | None
) -> None:
    dialogs, start, end = _scenario_dialogs(size, day)
    slug = "s" + uuid.uuid4().hex[:8]
    settings = TenantSettings(gemini_rpm=10_000, ai_max_dialogs=10_000, risky_dialogs_limit=50)
    window = ReportWindow(start=start, end=end, timezone="Europe/Moscow", label="")
    with psycopg.connect(database_url) as conn, running_emulators("gemini") as emu:
        create_marts(conn, slug, dialogs, [])
        config = {"api_key": KEY, "base_url": emu.gemini, "model": MODEL}
        summary = analyze_window(conn, slug, start, end, settings, config, timezone="Europe/Moscow")
        assert summary.analyzed == len(dialogs)
        report = build_report(conn, slug, window, settings, {})
        analyses = conn.execute(
            f'select summary, recommendation, criteria from "{slug}_analysis".dialog_analyses'
        ).fetchall()
    # the emulator's own texts no longer repeat themselves (the cause) ...
    assert [s for s, _r, _c in analyses if _repeats(s)] == []
    # ... and no entry of the rendered report says a sentence twice (the report's own rule)
    assert len(report.riskiest) >= 10, "the scenario's bad dialogs must be listed"
    rendered = {"telegram": "\n\n".join(telegram_messages(report)), "html": html_document(report)}
    rendered["html"] = rendered["html"].replace("<br>", "\n").replace("</p>\n<p>", "\n\n")
    for form, text in rendered.items():
        entries = _entries(text)
        assert len(entries) == len(report.riskiest) + (report.best is not None), form
        assert {e.splitlines()[0]: _repeats(e) for e in entries if _repeats(e)} == {}, form
    # every dialog's entry, had it been picked
    for highlight in [*report.riskiest, *([report.best] if report.best else [])]:
        assert _repeats(unescape(re.sub(r"<[^>]+>", "", _dialog_block(highlight)))) == []
