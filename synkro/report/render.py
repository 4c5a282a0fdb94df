"""Render a Report as Telegram HTML messages, a full HTML document and plain text.

Why: Telegram rejects a whole message for one unescaped `<` or `&` ("can't parse entities") and
cuts nothing for us: a text over 4,096 characters is refused. Every dynamic string (manager names,
model summaries, evidence quotes) goes through ``html.escape``; messages are split between
paragraphs, never inside a tag. The plain-text form is the fallback when HTML is refused.
"""

from __future__ import annotations

import html
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from synkro.report.model import AISpend, DialogHighlight, ManagerRow, Report

TELEGRAM_LIMIT = 4096

_FLAG_TITLES = {
    "customer_waiting": "клиент ждёт ответа",
    "price_objection_unresolved": "возражение по цене не отработано",
    "no_next_step": "нет следующего шага",
    "rude_or_careless_tone": "грубый или небрежный тон",
    "competitor_mentioned": "упомянут конкурент",
    "customer_lost_interest": "клиент потерял интерес",
}


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=False)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} с"
    if seconds < 3600:
        return f"{seconds // 60} мин"
    return f"{seconds // 3600} ч {seconds % 3600 // 60:02d} мин"


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def report_date(report: Report) -> date | None:
    """The business day a report covers, from its window label (ISO or dd.mm.yyyy); None if forced."""
    label = (report.window.label or "").strip()
    for parse in (date.fromisoformat, lambda x: datetime.strptime(x, "%d.%m.%Y").date()):
        try:
            return parse(label)
        except ValueError:
            continue
    return None


def local_time(report: Report, instant: datetime) -> str:
    """An instant as the tenant reads it: local wall-clock time with the zone's abbreviation."""
    local = instant.astimezone(ZoneInfo(report.window.timezone))
    return f"{local:%d.%m %H:%M} {local:%Z}"


def _local_window(report: Report) -> tuple[datetime, datetime]:
    zone = ZoneInfo(report.window.timezone)
    return report.window.start.astimezone(zone), report.window.end.astimezone(zone)


def period_title(report: Report) -> str:
    """What the header names: the business day, or the local range of a forced window."""
    day = report_date(report)
    if day is not None:
        return f"{day:%d.%m.%Y}"
    start, end = _local_window(report)
    return f"{start:%d.%m %H:%M} – {end:%d.%m %H:%M} {end:%Z}"


def document_filename(report: Report) -> str:
    """File name of the HTML document: the same business day as the header (ISO, so files sort)."""
    day = report_date(report)
    if day is not None:
        return f"report-{report.tenant_slug}-{day.isoformat()}.html"
    start, end = _local_window(report)
    return f"report-{report.tenant_slug}-{start:%Y-%m-%d_%H%M}--{end:%Y-%m-%d_%H%M}.html"


def _spend_line(s: AISpend) -> str:
    """The AI spend of the window: dollars (or "cost unknown"), tokens, the cached and batch shares."""
    tokens = s.input_tokens + s.output_tokens + s.thinking_tokens
    details = [f"{tokens} токенов"]
    if s.cached_tokens:
        share = round(100 * s.cached_tokens / max(s.input_tokens, 1))
        details.append(f"из кэша {s.cached_tokens} ({share}% входа)")
    if s.batch_dialogs:
        details.append(f"пакетом {s.batch_dialogs} диал.")
    details.append(esc(s.model or ""))
    if s.unpriced_dialogs:
        cost = f"стоимость неизвестна (модели нет в таблице цен, {s.unpriced_dialogs} диал.)"
        if s.cost_usd:
            cost += f", известная часть ${s.cost_usd:.4f}"
    else:
        cost = f"${s.cost_usd:.4f}"
    return f"Расходы на ИИ: {cost} ({', '.join(details)})"


def _dialog_block(d: DialogHighlight) -> str:
    flags = ", ".join(_FLAG_TITLES.get(f, f) for f in d.risk_flags)
    title = f"<b>{esc(d.manager_name)}</b> · оценка {_score(d.score)}"
    if d.ai_score is not None and d.ai_score != d.score:
        title += f" (ИИ: {_score(d.ai_score)})"
    if d.lead_url:
        title += f' · <a href="{html.escape(d.lead_url, quote=True)}">сделка {esc(d.lead_id)}</a>'
    lines = [title]
    if flags:
        lines.append(f"⚠️ {esc(flags)}")
    if d.evidence:
        lines.append(f"<i>«{esc(d.evidence)}»</i>")
    if d.summary:
        lines.append(esc(d.summary))
    if d.recommendation:
        lines.append(f"→ {esc(d.recommendation)}")
    return "\n".join(lines)


def _first_response_line(report: Report) -> str:
    """The headline's response time, saying which it is: within working hours (the fair figure a
    manager is judged by, raw beside it) or, when the calendar figure is missing, raw clock time."""
    h = report.headline
    raw = _duration(h.median_first_response_seconds)
    if not report.working_hours:
        return f"Медиана первого ответа (по часам): <b>{raw}</b>"
    working = _duration(h.median_first_response_working_seconds)
    return (
        f"Медиана первого ответа в рабочее время ({esc(report.working_hours)}): <b>{working}</b> · "
        f"по часам: {raw}"
    )


def manager_response_seconds(report: Report, m: ManagerRow) -> float | None:
    """The manager's median first response the report shows: working-hours when it has them."""
    return (
        m.median_first_response_working_seconds if report.working_hours else m.median_first_response_seconds
    )


def against_usual_paragraph(report: Report) -> str:
    """One line per manager: today, and in brackets their median day of the last 4 weeks."""
    lines = ["<b>Сегодня и обычно</b> (в скобках — медиана за 4 нед.)"]
    for m in report.against_usual:
        usual_dialogs = "—" if m.usual_dialogs is None else f"{m.usual_dialogs:g}"
        lines.append(
            f"{esc(m.manager_name)}: диалогов {m.dialogs} ({usual_dialogs}), "
            f"ответ {_duration(m.first_response_seconds)} ({_duration(m.usual_first_response_seconds)}), "
            f"оценка {_score(m.score)} ({_score(m.usual_score)})"
        )
    return "\n".join(lines)


def _corrections_line(report: Report) -> str:
    """How many verdicts humans corrected (the scores above already use their values) and disputed."""
    q = report.quality
    parts = []
    if q.corrected_verdicts:
        n = q.corrected_dialogs
        where = "диалоге" if n % 10 == 1 and n % 100 != 11 else "диалогах"
        parts.append(f"исправлено людьми оценок: {q.corrected_verdicts} в {n} {where}")
    if q.disputed_verdicts:
        parts.append(f"оспорено и ждёт ответа: {q.disputed_verdicts}")
    return ("\n" + "; ".join(parts).capitalize()) if parts else ""


def paragraphs(report: Report) -> list[str]:
    """The report as HTML paragraphs (each self-contained: tags open and close inside it)."""
    out = [f"<b>Отчёт по продажам в мессенджерах — {esc(period_title(report))}</b>"]
    if report.problems:
        out.append("❗ " + "\n❗ ".join(esc(p) for p in report.problems))
    h = report.headline
    if report.kind == "notice":
        out += [esc(n) for n in report.notes] or ["Нет данных за период."]
        return out
    new_leads = "—" if h.new_leads is None else str(h.new_leads)
    out.append(
        "\n".join(
            [
                f"Диалогов: <b>{h.dialogs}</b> · новых сделок: <b>{new_leads}</b>",
                f"Сообщений: входящих {h.messages_in}, исходящих {h.messages_out}",
                _first_response_line(report),
                f"Клиентов осталось без ответа: <b>{h.left_waiting}</b>",
            ]
        )
    )
    q = report.quality
    if report.analysis_available:
        out.append(
            f"Качество: средняя оценка <b>{_score(q.average)}</b> (от {_score(q.minimum)} до "
            f"{_score(q.maximum)}, разброс ±{_score(q.stddev)}), оценено {q.analyzed} из {h.dialogs}"
            + _corrections_line(report)
        )
    which = "в рабочее время" if report.working_hours else "по часам"
    rows = [f"<b>Менеджеры</b> (диалоги · медиана ответа {which} · без ответа · оценка)"]
    rows += [
        f"{esc(m.manager_name)}: {m.dialogs} · {_duration(manager_response_seconds(report, m))} · "
        f"{m.left_waiting} · {_score(m.average_score)}"
        for m in report.managers
    ]
    out.append("\n".join(rows))
    if report.against_usual:
        out.append(against_usual_paragraph(report))
    if report.riskiest:
        out.append("<b>Диалоги с рисками</b>")
        out += [_dialog_block(d) for d in report.riskiest]
    if report.best:
        out.append("<b>Лучший диалог дня</b>\n" + _dialog_block(report.best))
    out += [esc(n) for n in report.notes]
    s = report.ai_spend
    if s.input_tokens or s.output_tokens:
        out.append(_spend_line(s))
    fresh = [
        f"{esc(f.source)}: {esc(local_time(report, f.last_load_at))}" + (" (устарело)" if f.stale else "")
        if f.last_load_at
        else f"{esc(f.source)}: нет загрузок"
        for f in report.freshness
    ]
    if fresh:
        out.append("Свежесть данных: " + "; ".join(fresh) + _unlinked_sentence(report))
    return out


def _unlinked_sentence(report: Report) -> str:
    """The day's dialogs without a deal, next to freshness: both say how complete the figures are."""
    u = report.unlinked
    if not report.headline.dialogs:
        return ""
    if not u.dialogs:
        return f". Все {report.headline.dialogs} диалог(ов) периода привязаны к сделкам."
    why = []
    if u.no_contact:
        why.append(f"{u.no_contact} — номер чата не найден у контактов amoCRM")
    if u.no_lead:
        why.append(f"{u.no_lead} — у контакта нет сделки")
    return f". Не привязано к сделке: {u.dialogs} из {report.headline.dialogs} диалог(ов) ({'; '.join(why)})."


def split_messages(parts: list[str], limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Pack paragraphs into messages under ``limit``; an over-long paragraph is cut at line breaks
    and, as a last resort, its tags are dropped so nothing is cut inside a tag."""
    messages: list[str] = []
    current = ""
    for part in parts:
        for piece in _fit_paragraph(part, limit):
            candidate = f"{current}\n\n{piece}" if current else piece
            if len(candidate) <= limit:
                current = candidate
            else:
                messages.append(current)
                current = piece
    if current:
        messages.append(current)
    return messages


def _fit_paragraph(part: str, limit: int) -> list[str]:
    if len(part) <= limit:
        return [part]
    pieces, current = [], ""
    for line in part.split("\n"):
        if len(line) > limit:  # a single huge line: strip markup, then cut
            text = html.unescape(re.sub(r"<[^>]+>", "", line))
            chunks = []
            while text:
                cut = text[: limit // 2]
                chunks.append(esc(cut))
                text = text[len(cut) :]
            for chunk in chunks:
                if current:
                    pieces.append(current)
                current = chunk
            continue
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
        else:
            pieces.append(current)
            current = line
    if current:
        pieces.append(current)
    return pieces


def telegram_messages(report: Report) -> list[str]:
    """The Telegram HTML messages for ``report``, each under 4,096 characters."""
    return split_messages(paragraphs(report))


_TAG_RE = re.compile(
    r"</?(?:b|strong|i|em|u|ins|s|strike|del|a|code|pre|blockquote|tg-spoiler|tg-emoji|span)(?:\s[^<>]*)?>"
)


def to_plain_text(html_text: str) -> str:
    """Fallback when Telegram refuses the HTML: tags removed, entities decoded."""
    text = re.sub(r'<a href="([^"]*)">([^<]*)</a>', r"\2 (\1)", html_text)
    return html.unescape(_TAG_RE.sub("", text))


def html_document(report: Report) -> str:
    """The full report as a standalone HTML file (sent as a document, kept in the control plane)."""
    body = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>\n" for p in paragraphs(report))
    title = esc(f"Отчёт {report.tenant_slug} — {period_title(report)}")
    return (
        '<!doctype html>\n<html lang="ru"><head><meta charset="utf-8">'
        f"<title>{title}</title>"
        "<style>body{font-family:sans-serif;max-width:46em;margin:2em auto;line-height:1.45}</style>"
        f"</head><body>\n{body}</body></html>\n"
    )
