"""Report: numbers equal SQL over the marts, analysis-unavailable and below-minimum cases,
HTML escaping and splitting under Telegram's limit, the chart PNG."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import psycopg
import pytest

from synkro.analysis.run import analyze_window
from synkro.controlplane.settings import TenantSettings
from synkro.modeling.dbt import dbt_vars
from synkro.modeling.runner import run_dbt
from synkro.report.build import build_report
from synkro.report.chart import manager_chart_png
from synkro.report.model import DialogHighlight, ManagerRow, Report, ReportWindow, SourceFreshness
from synkro.report.render import (
    TELEGRAM_LIMIT,
    document_filename,
    html_document,
    telegram_messages,
    to_plain_text,
)
from tests.analysis_emulators import running_emulators
from tests.analysis_marts import Dialog, create_marts
from tests.test_analysis import END, KEY, MODEL, START, TZ, _dialogs

WINDOW = ReportWindow(start=START, end=END, timezone="Europe/Moscow", label="29.11.2026")
AMO = "https://demo.amocrm.ru"


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url) as c:
        yield c


@pytest.fixture(scope="module")
def analysed(database_url: str) -> str:
    """A tenant whose marts hold the test dialogs (plus one outside the window) and their analyses."""
    slug = "r" + uuid.uuid4().hex[:8]
    dialogs = [*_dialogs(), Dialog(9, "Анна", 509, [(START - timedelta(days=2), "inbound", "старое")])]
    with psycopg.connect(database_url) as c, running_emulators("gemini") as emu:
        create_marts(c, slug, dialogs, [START + timedelta(hours=1), START - timedelta(hours=1)])
        config = {"api_key": KEY, "base_url": emu.gemini, "model": MODEL}
        analyze_window(c, slug, START, END, TenantSettings(), config, timezone=TZ)
    return slug


def test_report_numbers_equal_sql_over_marts(conn: psycopg.Connection, analysed: str) -> None:
    report = build_report(conn, analysed, WINDOW, TenantSettings(), {"amocrm": "ok"}, amocrm_base_url=AMO)
    m = f'"{analysed}_marts"'
    a = f'"{analysed}_analysis"'
    dialogs, msg_in, msg_out = conn.execute(
        f"select count(distinct dialog_id), count(*) filter (where direction = 'inbound'), "
        f"count(*) filter (where direction = 'outbound') from {m}.fct_dialog_messages "
        "where sent_at >= %s and sent_at < %s",
        (START, END),
    ).fetchone()
    assert (report.headline.dialogs, report.headline.messages_in, report.headline.messages_out) == (
        dialogs,
        msg_in,
        msg_out,
    )
    assert report.headline.new_leads == 1
    waiting = conn.execute(
        f"select count(*) from (select distinct on (dialog_id) direction from {m}.fct_dialog_messages "
        "where sent_at >= %s and sent_at < %s order by dialog_id, sent_at desc) t "
        "where direction = 'inbound'",
        (START, END),
    ).fetchone()[0]
    assert report.headline.left_waiting == waiting == 2
    median = conn.execute(
        f"""with f as (select dialog_id, min(sent_at) filter (where direction='inbound') fi
            from {m}.fct_dialog_messages where sent_at >= %(s)s and sent_at < %(e)s group by dialog_id)
            select percentile_cont(0.5) within group (order by extract(epoch from (
              select min(o.sent_at) from {m}.fct_dialog_messages o where o.dialog_id = f.dialog_id
              and o.direction = 'outbound' and o.sent_at > f.fi and o.sent_at < %(e)s) - f.fi))
            from f""",
        {"s": START, "e": END},
    ).fetchone()[0]
    assert report.headline.median_first_response_seconds == pytest.approx(median)
    avg, lo, hi, cost = conn.execute(
        f"select avg(overall_score), min(overall_score), max(overall_score), sum(cost_usd) "
        f"from {a}.dialog_analyses where status = 'ok' and window_start = %s",
        (START,),
    ).fetchone()
    assert report.quality.average == pytest.approx(float(avg), abs=0.05)
    assert (report.quality.minimum, report.quality.maximum) == (lo, hi)
    assert report.ai_spend.cost_usd == pytest.approx(float(cost), abs=1e-4)
    by_name = {r.manager_name: r for r in report.managers}
    assert by_name["Анна"].dialogs == 1 and by_name["Борис"].dialogs == 1
    assert by_name["Борис"].median_first_response_seconds == 3 * 3600
    risky = {d.dialog_id: d for d in report.riskiest}
    assert "2" in risky and risky["2"].lead_url == f"{AMO}/leads/detail/502"
    assert risky["2"].evidence
    assert report.best is not None and report.best.dialog_id == "1"
    assert report.analysis_available and report.problems[-1].startswith("Данные")  # no dlt loads: stale


def test_failed_step_and_missing_analysis_are_stated_plainly(conn: psycopg.Connection) -> None:
    slug = "n" + uuid.uuid4().hex[:8]
    create_marts(conn, slug, _dialogs(), [])
    report = build_report(
        conn, slug, WINDOW, TenantSettings(), {"radist": "HTTP 503 after 5 attempts", "analysis": "ok"}
    )
    assert any("Radist" in p and "503" in p for p in report.problems)
    assert not report.analysis_available and report.headline.dialogs == 3
    assert any("только метрики" in n for n in report.notes)
    text = "\n".join(telegram_messages(report))
    assert "Диалогов: <b>3</b>" in text and "Качество" not in text


def test_below_minimum_sends_a_short_notice(conn: psycopg.Connection) -> None:
    slug = "m" + uuid.uuid4().hex[:8]
    create_marts(conn, slug, _dialogs()[:1], [])
    report = build_report(conn, slug, WINDOW, TenantSettings(min_dialogs=5), {})
    assert report.kind == "notice"
    messages = telegram_messages(report)
    assert len(messages) == 1 and "меньше порога 5" in messages[0]


class _TagChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag


def _big_report() -> Report:
    evil = "<script>alert('x')</script> & Co <b>"
    risky = [
        DialogHighlight(
            dialog_id=str(i),
            manager_name=f"{evil} №{i}",
            score=10,
            risk_flags=["no_next_step"],
            evidence="«цена > 100 & < 200» " * 20,
            summary="Длинное резюме. " * 40,
            recommendation="Перезвонить <сегодня>.",
            lead_id=i,
            lead_url=f"{AMO}/leads/detail/{i}?a=1&b=2",
        )
        for i in range(30)
    ]
    return Report(
        tenant_slug="t",
        window=WINDOW,
        generated_at=datetime.now(UTC),
        managers=[
            ManagerRow(
                manager_name=evil,
                dialogs=3,
                median_first_response_seconds=90,
                left_waiting=1,
                average_score=55,
            )
        ],
        riskiest=risky,
    )


def test_html_escapes_every_dynamic_string_and_splits_under_the_limit() -> None:
    report = _big_report()
    messages = telegram_messages(report)
    assert len(messages) > 3
    for msg in messages:
        assert len(msg) <= TELEGRAM_LIMIT
        checker = _TagChecker()
        checker.feed(msg)
        assert checker.stack == [], "a tag was split across messages"
        assert "<script>" not in msg and "<сегодня>" not in msg
        assert not re.search(r"&(?!(amp|lt|gt|quot);)", msg.split('href="')[0])
    joined = "\n".join(messages)
    assert "&lt;script&gt;" in joined and "Перезвонить &lt;сегодня&gt;." in joined
    assert 'href="https://demo.amocrm.ru/leads/detail/3?a=1&amp;b=2"' in joined
    plain = to_plain_text(messages[0])
    assert "<script>" in plain and "&lt;" not in plain
    doc = html_document(report)
    assert doc.startswith("<!doctype html>") and "<script>" not in doc


def test_chart_is_a_png() -> None:
    png = manager_chart_png(_big_report())
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"


def test_header_file_name_and_freshness_use_the_tenant_business_day_and_timezone() -> None:
    """22:01 Moscow on the 28th to 22:01 on the 29th is business day 29.11: header and file agree,
    and load times read in Moscow time, not UTC."""
    window = ReportWindow(
        start=datetime(2026, 11, 28, 19, 1, tzinfo=UTC),
        end=datetime(2026, 11, 29, 19, 1, tzinfo=UTC),
        timezone="Europe/Moscow",
        label="2026-11-29",
    )
    loaded = datetime(2026, 11, 29, 19, 5, tzinfo=UTC)
    report = Report(
        tenant_slug="demo",
        window=window,
        generated_at=loaded,
        freshness=[SourceFreshness(source="amocrm", last_load_at=loaded, last_data_at=None, stale=False)],
    )
    text = "\n".join(telegram_messages(report))
    assert "Отчёт по продажам в мессенджерах — 29.11.2026" in text
    assert document_filename(report) == "report-demo-2026-11-29.html"
    assert "amocrm: 29.11 22:05 MSK" in text and "UTC" not in text
    assert "29.11.2026" in html_document(report).split("</title>")[0]

    forced = report.model_copy(update={"window": window.model_copy(update={"label": "forced"})})
    assert "— 28.11 22:01 – 29.11 22:01 MSK" in telegram_messages(forced)[0]
    assert document_filename(forced) == "report-demo-2026-11-28_2201--2026-11-29_2201.html"


def _with_amocrm_load(conn: psycopg.Connection, prefix: str, loaded_at: datetime) -> str:
    """A new tenant whose only successful dlt load (amoCRM) happened at `loaded_at`."""
    slug = prefix + uuid.uuid4().hex[:8]
    raw = f'"{slug}_raw"'
    conn.execute(f"create schema {raw}")
    conn.execute(
        f"create table {raw}._dlt_loads (load_id text, schema_name text, status int, inserted_at timestamptz)"
    )
    conn.execute(f"insert into {raw}._dlt_loads values ('1', 'amocrm_{slug}', 0, %s)", (loaded_at,))
    conn.commit()
    return slug


def test_stale_source_problem_names_the_local_time(conn: psycopg.Connection) -> None:
    """The 'data is stale' line states the last load in the tenant's time (Asia/Yekaterinburg, UTC+5)."""
    slug = _with_amocrm_load(conn, "f", datetime(2026, 11, 20, 10, 0, tzinfo=UTC))
    window = ReportWindow(start=START, end=END, timezone="Asia/Yekaterinburg", label="2026-11-29")
    report = build_report(conn, slug, window, TenantSettings(), now=END + timedelta(hours=1))
    stale = next(p for p in report.problems if "amocrm" in p)
    assert "20.11 15:00 +05" in stale and "UTC" not in stale


def test_risky_dialogs_limit_caps_the_list(conn: psycopg.Connection, analysed: str) -> None:
    default = build_report(conn, analysed, WINDOW, TenantSettings(), {})
    assert len(default.riskiest) >= 2, "the fixture needs at least two risky dialogs"
    one = build_report(conn, analysed, WINDOW, TenantSettings(risky_dialogs_limit=1), {})
    assert [d.dialog_id for d in one.riskiest] == [default.riskiest[0].dialog_id]
    assert build_report(conn, analysed, WINDOW, TenantSettings(risky_dialogs_limit=0), {}).riskiest == []


def test_stale_after_hours_decides_the_freshness_flag(conn: psycopg.Connection) -> None:
    """A load 11 h before `now` is fresh with the default 26 h and stale with 6 h."""
    slug = _with_amocrm_load(conn, "s", END - timedelta(hours=10))
    now = END + timedelta(hours=1)

    def amocrm_stale(settings: TenantSettings) -> bool:
        report = build_report(conn, slug, WINDOW, settings, now=now)
        return next(f for f in report.freshness if f.source == "amocrm").stale

    assert not amocrm_stale(TenantSettings())
    assert amocrm_stale(TenantSettings(stale_after_hours=6))


def test_followup_window_decides_who_was_left_waiting(conn: psycopg.Connection) -> None:
    """A question asked 30 minutes before the window's end is not yet unanswered with the default
    60-minute follow-up window; with 15 minutes it is. The one asked 17 h earlier counts either way."""
    slug = "w" + uuid.uuid4().hex[:8]
    dialogs = [
        Dialog(1, "Анна", None, [(END - timedelta(minutes=30), "inbound", "Ещё вопрос?")]),
        Dialog(
            2,
            "Анна",
            None,
            [
                (START + timedelta(hours=6), "inbound", "Есть?"),
                (START + timedelta(hours=7), "inbound", "Алло"),
            ],
        ),
        Dialog(
            3,
            "Борис",
            None,
            [
                (START + timedelta(hours=1), "inbound", "Здравствуйте"),
                (START + timedelta(hours=2), "outbound", "Добрый день"),
            ],
        ),
    ]
    create_marts(conn, slug, dialogs, [])
    default = build_report(conn, slug, WINDOW, TenantSettings(), {})
    assert default.headline.left_waiting == 1
    short = build_report(conn, slug, WINDOW, TenantSettings(followup_window_minutes=15), {})
    assert short.headline.left_waiting == 2
    assert {m.manager_name: m.left_waiting for m in short.managers} == {"Анна": 2, "Борис": 0}


# Monday 30.11.2026 in Moscow (the business day 22:01 Sunday → 22:01 Monday), work 09:00–18:00 Mon–Fri
MONDAY = ReportWindow(
    start=datetime(2026, 11, 29, 19, 1, tzinfo=UTC),
    end=datetime(2026, 11, 30, 19, 1, tzinfo=UTC),
    timezone="Europe/Moscow",
    label="30.11.2026",
)


def _msk(day: int, hh: int, mm: int) -> datetime:
    return datetime(2026, 11, day, hh - 3, mm, tzinfo=UTC)  # Moscow is UTC+3 all year


def _working_hours_dialogs() -> list[Dialog]:
    return [
        # Sunday 23:00 answered Monday 09:05: raw 10 h 05 min, working 5 min
        Dialog(1, "Анна", 601, [(_msk(29, 23, 0), "inbound", "Есть?"), (_msk(30, 9, 5), "outbound", "Да")]),
        # a burst from 17:50 answered 18:20: counted from the first message, 10 working minutes
        Dialog(
            2,
            "Борис",
            602,
            [
                (_msk(30, 17, 50), "inbound", "Здравствуйте"),
                (_msk(30, 17, 55), "inbound", "Подскажите цену"),
                (_msk(30, 18, 20), "outbound", "1000 руб."),
            ],
        ),
        # inside working hours both figures are the same 2 minutes
        Dialog(
            3,
            "Борис",
            603,
            [(_msk(30, 12, 0), "inbound", "Адрес?"), (_msk(30, 12, 2), "outbound", "Ленина 1")],
        ),
    ]


@pytest.fixture(scope="module")
def working_hours_tenant(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Hand-made marts plus the warehouse's own working_seconds function, installed by real dbt."""
    slug = "w" + uuid.uuid4().hex[:8]
    with psycopg.connect(database_url) as c:
        create_marts(c, slug, _working_hours_dialogs(), [])
    run = run_dbt(
        ["run-operation", "install_working_seconds_function"],
        database_url,
        dbt_vars(slug, TenantSettings(), "Europe/Moscow"),
        target_path=tmp_path_factory.mktemp("dbt-report"),
    )
    assert run.ok, run.log
    return slug


def test_report_shows_working_hours_response_times_and_says_so(
    conn: psycopg.Connection, working_hours_tenant: str
) -> None:
    report = build_report(conn, working_hours_tenant, MONDAY, TenantSettings(min_dialogs=1), {})
    h = report.headline
    # raw waits 36300, 1800, 120 s; within working hours 300, 600, 120 s (hand-computed above)
    assert (h.median_first_response_seconds, h.median_first_response_working_seconds) == (1800, 300)
    by_name = {m.manager_name: m for m in report.managers}
    assert (
        by_name["Анна"].median_first_response_seconds,
        by_name["Анна"].median_first_response_working_seconds,
    ) == (
        36300,
        300,
    )
    assert (
        by_name["Борис"].median_first_response_seconds,
        by_name["Борис"].median_first_response_working_seconds,
    ) == (
        960,
        360,
    )
    assert report.working_hours == "пн–пт 09:00–18:00"
    text = "\n".join(telegram_messages(report))
    assert (
        "Медиана первого ответа в рабочее время (пн–пт 09:00–18:00): <b>5 мин</b> · по часам: 30 мин" in text
    )
    assert "медиана ответа в рабочее время" in text and "Анна: 1 · 5 мин ·" in text
    assert not any("рабочие часы не посчитано" in n for n in report.notes)


def test_report_working_hours_follow_the_tenant_calendar(
    conn: psycopg.Connection, working_hours_tenant: str
) -> None:
    holiday = TenantSettings(min_dialogs=1, holidays="2026-11-30")
    report = build_report(conn, working_hours_tenant, MONDAY, holiday, {})
    assert report.headline.median_first_response_working_seconds == 0  # a holiday has no working time
    assert report.working_hours == "пн–пт 09:00–18:00, кроме праздников"
    late = TenantSettings(min_dialogs=1, working_hours="10:00-20:00", working_days="1,3,5")
    report = build_report(conn, working_hours_tenant, MONDAY, late, {})
    # 0 (answered before 10:00), 30 min (17:50-18:20), 2 min
    assert report.headline.median_first_response_working_seconds == 120
    assert report.working_hours == "пн, ср, пт 10:00–20:00"


def test_report_without_the_working_hours_function_says_it_shows_raw_times(conn: psycopg.Connection) -> None:
    slug = "x" + uuid.uuid4().hex[:8]
    create_marts(conn, slug, _working_hours_dialogs(), [])
    report = build_report(conn, slug, MONDAY, TenantSettings(min_dialogs=1), {})
    assert report.working_hours is None and report.headline.median_first_response_working_seconds is None
    assert any("рабочие часы не посчитано" in n for n in report.notes)
    text = "\n".join(telegram_messages(report))
    assert "Медиана первого ответа (по часам): <b>30 мин</b>" in text
    assert "медиана ответа по часам" in text


def test_freshness_states_the_dialogs_of_the_day_without_a_deal(conn: psycopg.Connection) -> None:
    """Two of the window's dialogs have no lead: one matched no contact, one's contact has no deal;
    a dialog outside the window does not count."""
    slug = "u" + uuid.uuid4().hex[:8]
    inside = [
        (START + timedelta(hours=1), "inbound", "Здравствуйте"),
        (START + timedelta(hours=2), "outbound", "Да"),
    ]
    before = [(START - timedelta(days=2), "inbound", "старое")]
    dialogs = [
        Dialog(1, "Анна", 501, inside),
        Dialog(2, "Анна", None, inside),
        Dialog(3, "Борис", None, inside),
        Dialog(4, "Борис", None, before),
    ]
    create_marts(conn, slug, dialogs, [])
    conn.execute(
        f'update "{slug}_marts".fct_dialogs set match_status = %s where dialog_id in (3, 4)', ("unmatched",)
    )
    report = build_report(conn, slug, WINDOW, TenantSettings(min_dialogs=1), {})
    assert report.headline.dialogs == 3
    assert (report.unlinked.dialogs, report.unlinked.no_contact, report.unlinked.no_lead) == (2, 1, 1)
    text = "\n".join(telegram_messages(report))
    freshness = next(line for line in text.split("\n") if line.startswith("Свежесть данных"))
    assert "Не привязано к сделке: 2 из 3 диалог(ов)" in freshness
    assert (
        "1 — номер чата не найден у контактов amoCRM" in freshness
        and "1 — у контакта нет сделки" in freshness
    )

    conn.execute(f'update "{slug}_marts".fct_dialogs set lead_id = 7, match_status = %s', ("matched",))
    linked = build_report(conn, slug, WINDOW, TenantSettings(min_dialogs=1), {})
    assert linked.unlinked.dialogs == 0
    assert "Все 3 диалог(ов) периода привязаны к сделкам." in "\n".join(telegram_messages(linked))
