"""The dbt project against real Postgres: hand-computed response times, match rules, business days
in two timezones across DST changes, idempotent re-runs and incremental processing.

Four dbt invocations in all (they dominate the runtime): build acme, build globex, re-run acme
with no new data, load more acme data (and analysis results) and build again.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from synkro.analysis.corrections import record
from synkro.analysis.run import ensure_analysis_table
from synkro.controlplane.settings import TenantSettings
from synkro.modeling.dbt import DbtRun, dbt_vars, write_profile
from synkro.modeling.docs import build_docs, docs_server
from synkro.modeling.runner import run_dbt
from tests.dbt_raw_fixtures import create_raw_schema, insert_rows

ACME = "acme"  # Europe/Berlin, day ends 22:01 (DST ends 2026-10-25 01:00 UTC)
GLOBEX = "globex"  # America/New_York, day starts 06:00 (DST ends 2026-11-01 06:00 UTC)
LOAD_1, LOAD_2, LOAD_3 = "1790000000.100000", "1790000000.200000", "1790000500.300000"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def load_acme(conn: psycopg.Connection) -> None:
    create_raw_schema(conn, ACME)
    insert_rows(conn, ACME, "amocrm_users", [(1, "Anna", "anna@example.com"), (2, "Boris", None)], LOAD_1)
    insert_rows(conn, ACME, "amocrm_pipelines", [(10, "Sales", 1, True)], LOAD_1)
    insert_rows(
        conn,
        ACME,
        "amocrm_statuses",
        [(10, 100, "New", 1, "open"), (10, 142, "Won", 2, "won"), (10, 143, "Lost", 3, "lost")],
        LOAD_1,
    )
    t = utc
    insert_rows(
        conn,
        ACME,
        "amocrm_contacts",
        [
            (501, "Ivan", None, None, 1, t("2026-01-01 00:00"), t("2026-10-01 00:00"), False),
            (502, "", "Petr", "Petrov", 1, t("2026-01-01 00:00"), t("2026-10-01 00:00"), False),
            (503, "Olga", None, None, 1, t("2026-01-01 00:00"), t("2026-10-30 00:00"), False),
            (504, "Olga (dup)", None, None, 1, t("2026-01-01 00:00"), t("2026-10-02 00:00"), False),
            (505, "Gone", None, None, 1, t("2026-01-01 00:00"), t("2026-10-01 00:00"), True),
            (506, "Raw phone", None, None, 3, t("2026-01-01 00:00"), t("2026-10-01 00:00"), False),
        ],
        LOAD_1,
    )
    insert_rows(
        conn,
        ACME,
        "amocrm_contact_phones",
        [
            (501, 0, "+7 999 000-00-01", "+79990000001", True, "MOB"),
            (502, 0, "89990000002", "+79990000002", True, "WORK"),
            (503, 0, "+79990000003", "+79990000003", True, "MOB"),
            (504, 0, "8 (999) 000 00 03", "+79990000003", True, "MOB"),
            (505, 0, "+79990000004", "+79990000004", True, "MOB"),
            # never evaluated by the loader: the RU fallback must make it +79990000005
            (506, 0, "8 999 000-00-05", None, None, "MOB"),
            (506, 1, "+79123", None, False, "OTHER"),
        ],
        LOAD_1,
    )
    insert_rows(
        conn,
        ACME,
        "amocrm_leads",
        [
            (
                601,
                "Ivan old open",
                100,
                100,
                10,
                1,
                t("2026-01-01 00:00"),
                t("2026-10-20 00:00"),
                None,
                False,
            ),
            (
                602,
                "Ivan newest open",
                200,
                100,
                10,
                2,
                t("2026-01-01 00:00"),
                t("2026-10-22 00:00"),
                None,
                False,
            ),
            (
                603,
                "Ivan won",
                300,
                142,
                10,
                1,
                t("2026-01-01 00:00"),
                t("2026-10-29 00:00"),
                t("2026-10-29 00:00"),
                False,
            ),
            (608, "Ivan deleted", 0, 100, 10, 1, t("2026-01-01 00:00"), t("2026-10-31 00:00"), None, True),
            (
                604,
                "Petr won",
                400,
                142,
                10,
                1,
                t("2026-01-01 00:00"),
                t("2026-10-05 00:00"),
                t("2026-09-01 00:00"),
                False,
            ),
            (
                605,
                "Petr lost",
                500,
                143,
                10,
                2,
                t("2026-01-01 00:00"),
                t("2026-10-03 00:00"),
                t("2026-10-01 00:00"),
                False,
            ),
            (606, "Olga open", 600, 100, 10, 2, t("2026-01-01 00:00"), t("2026-10-10 00:00"), None, False),
            (
                607,
                "Olga dup open",
                700,
                100,
                10,
                1,
                t("2026-01-01 00:00"),
                t("2026-10-15 00:00"),
                None,
                False,
            ),
        ],
        LOAD_1,
    )
    insert_rows(
        conn,
        ACME,
        "amocrm_lead_contacts",
        [
            (601, 501, True),
            (602, 501, True),
            (603, 501, True),
            (608, 501, True),
            (604, 502, True),
            (605, 502, True),
            (606, 503, True),
            (607, 504, True),
        ],
        LOAD_1,
    )
    insert_rows(
        conn,
        ACME,
        "radist_chats",
        [
            (
                701,
                9001,
                "Ivan",
                1,
                "whatsapp",
                "79990000001",
                "+79990000001",
                True,
                t("2026-10-20 08:00"),
                None,
            ),
            (
                702,
                9002,
                "Petr",
                2,
                "Telegram",
                "79990000002",
                "+79990000002",
                True,
                t("2026-10-21 19:30"),
                None,
            ),
            (
                703,
                9003,
                "Olga",
                1,
                "whatsapp",
                "79990000003",
                "+79990000003",
                True,
                t("2026-10-23 10:00"),
                None,
            ),
            (
                704,
                9004,
                "Gone",
                1,
                "whatsapp",
                "79990000004",
                "+79990000004",
                True,
                t("2026-10-23 09:00"),
                None,
            ),
            (
                705,
                9005,
                "Nobody",
                1,
                "whatsapp",
                "79990000009",
                "+79990000009",
                True,
                t("2026-10-23 09:00"),
                None,
            ),
            (
                706,
                9006,
                "Raw",
                1,
                "whatsapp",
                "79990000005",
                "+79990000005",
                True,
                t("2026-10-24 20:00"),
                None,
            ),
        ],
        LOAD_1,
    )
    msgs = [
        # 701: a burst of three, two replies, then a quick turn: responses 600 s and 30 s
        ("701-1", 701, "2026-10-20 08:00:00", "inbound"),
        ("701-2", 701, "2026-10-20 08:01:00", "inbound"),
        ("701-3", 701, "2026-10-20 08:02:00", "inbound"),
        ("701-4", 701, "2026-10-20 08:10:00", "outbound"),
        ("701-5", 701, "2026-10-20 08:11:00", "outbound"),
        ("701-6", 701, "2026-10-20 09:00:00", "inbound"),
        ("701-7", 701, "2026-10-20 09:00:30", "outbound"),
        # 702: 21:30 and 22:30 Berlin (CEST) straddle the 22:01 boundary; one turn, answered next morning
        ("702-1", 702, "2026-10-21 19:30:00", "inbound"),
        ("702-2", 702, "2026-10-21 20:30:00", "inbound"),
        ("702-3", 702, "2026-10-22 06:00:00", "outbound"),
        # 703: no reply at all
        ("703-1", 703, "2026-10-23 10:00:00", "inbound"),
        ("703-2", 703, "2026-10-23 10:05:00", "inbound"),
        # 704: company writes first, the customer's answer stays unanswered
        ("704-1", 704, "2026-10-23 09:00:00", "outbound"),
        ("704-2", 704, "2026-10-23 09:30:00", "inbound"),
        # 706: across the end of DST in Berlin (2026-10-25 01:00 UTC)
        ("706-1", 706, "2026-10-24 20:00:00", "inbound"),  # 22:00 CEST -> day 10-24
        ("706-2", 706, "2026-10-24 20:02:00", "outbound"),  # 22:02 CEST -> day 10-25
        ("706-3", 706, "2026-10-25 20:30:00", "inbound"),  # 21:30 CET  -> day 10-25 (22:30 if offset were +2)
        ("706-4", 706, "2026-10-25 21:30:00", "outbound"),  # 22:30 CET  -> day 10-26
    ]
    insert_rows(conn, ACME, "radist_messages", [_message(*m) for m in msgs], LOAD_1)


def _message(message_id: str, chat_id: int, sent_at: str, direction: str) -> tuple[Any, ...]:
    attachments = (
        [{"name": "a.pdf", "mime": "application/pdf", "url": "http://x/a.pdf"}]
        if message_id == "701-4"
        else None
    )
    return (
        message_id,
        chat_id,
        utc(sent_at),
        direction,
        "text",
        f"text of {message_id}",
        attachments,
        "read",
    )


def load_globex(conn: psycopg.Connection) -> None:
    create_raw_schema(conn, GLOBEX)
    t = utc
    insert_rows(conn, GLOBEX, "amocrm_users", [(7, "Grace", None)], LOAD_2)
    insert_rows(conn, GLOBEX, "amocrm_statuses", [(20, 200, "Open", 1, "open")], LOAD_2)
    insert_rows(
        conn,
        GLOBEX,
        "amocrm_contacts",
        [(901, "Gus", None, None, 7, t("2026-01-01 00:00"), t("2026-10-01 00:00"), False)],
        LOAD_2,
    )
    insert_rows(
        conn,
        GLOBEX,
        "amocrm_contact_phones",
        [(901, 0, "+1 555 000 0001", "+15550000001", True, "WORK")],
        LOAD_2,
    )
    insert_rows(
        conn,
        GLOBEX,
        "amocrm_leads",
        [(911, "Gus deal", 10, 200, 20, 7, t("2026-01-01 00:00"), t("2026-10-01 00:00"), None, False)],
        LOAD_2,
    )
    insert_rows(conn, GLOBEX, "amocrm_lead_contacts", [(911, 901, True)], LOAD_2)
    insert_rows(
        conn,
        GLOBEX,
        "radist_chats",
        [(801, 1, "Gus", 1, "whatsapp", "15550000001", "+15550000001", True, t("2026-11-01 10:30"), None)],
        LOAD_2,
    )
    msgs = [
        ("801-1", 801, "2026-11-01 10:30:00", "inbound"),  # 05:30 EST -> day 10-31 (06:30 if still EDT)
        ("801-2", 801, "2026-11-01 10:40:00", "outbound"),  # 05:40 EST -> day 10-31
        ("801-3", 801, "2026-11-01 11:30:00", "inbound"),  # 06:30 EST -> day 11-01, never answered
    ]
    insert_rows(conn, GLOBEX, "radist_messages", [_message(*m) for m in msgs], LOAD_2)


def load_acme_increment(conn: psycopg.Connection) -> None:
    """A later load: 703 finally gets a reply days later, 701 gets a message on a new day."""
    insert_rows(
        conn,
        ACME,
        "radist_messages",
        [
            _message("703-3", 703, "2026-10-26 08:00:00", "outbound"),
            _message("701-8", 701, "2026-10-27 09:00:00", "inbound"),
        ],
        LOAD_3,
    )
    ensure_analysis_table(conn, ACME)  # the analysis step's own DDL
    day_1027 = (utc("2026-10-26 21:01"), utc("2026-10-27 21:01"))
    day_1023 = (utc("2026-10-22 20:01"), utc("2026-10-23 20:01"))
    c703 = '[{"key": "greeting", "score": 40}, {"key": "next_step", "score": 40}]'
    rows = [
        (
            "acme",
            "701",
            *day_1027,
            80,
            "[]",
            '[{"key": "next_step", "score": 80}]',
            "ok",
            utc("2026-10-28 00:00"),
        ),
        ("acme", "703", *day_1023, 40, '["customer_waiting"]', c703, "ok", utc("2026-10-25 00:00")),
        ("acme", "704", *day_1023, None, "[]", "[]", "failed", utc("2026-10-25 00:00")),  # not ok, ignored
        ("acme", "706", *day_1027, 70, "[]", "[]", "skipped", utc("2026-10-28 00:00")),  # not ok, ignored
    ]
    with conn.cursor() as cur:
        cur.executemany(
            "insert into acme_analysis.dialog_analyses (tenant_slug, dialog_id, window_start, window_end,"
            " overall_score, risk_flags, criteria, status, analyzed_at)"
            " values (%s,%s,%s,%s,%s,%s::jsonb,%s::jsonb,%s,%s)",
            rows,
        )
    # A coach overrides 703's greeting (no rubric weights recorded: equal weights, (100 + 40) / 2);
    # 701's manager disputes its next step.
    for dialog, key, kind, score in (
        ("703", "greeting", "override", 100),
        ("701", "next_step", "dispute", None),
    ):
        role = "manager" if kind == "dispute" else "admin"
        record(
            conn,
            ACME,
            dialog,
            key,
            kind,
            score=score,
            note="test",
            ai_score=40,
            rubric_version=None,
            actor="tests",
            actor_role=role,
        )


def build(database_url: str, tmp: Path, vars: dict[str, str]) -> DbtRun:
    run = run_dbt(["build"], database_url, vars, target_path=tmp / f"target_{vars['tenant']}")
    assert run.ok, run.log[-6000:]
    return run


def rows(conn: psycopg.Connection, sql: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(sql).fetchall()


def snapshot(conn: psycopg.Connection, slug: str) -> dict[str, list[tuple]]:
    """Every mart's full content plus the row versions (xmin) of the incremental ones."""
    out: dict[str, list[tuple]] = {}
    for table in (
        "fct_dialogs",
        "fct_dialog_messages",
        "fct_dialog_days",
        "dim_leads",
        "dim_contacts",
        "dim_managers",
        "mart_manager_days",
        "mart_manager_dialog_days",
    ):
        out[table] = sorted(conn.execute(f'select t::text from "{slug}_marts".{table} t').fetchall())
    for table, key in (
        ("fct_dialog_messages", "message_id"),
        ("fct_dialog_days", "dialog_id, business_date"),
    ):
        out[f"{table}.xmin"] = sorted(
            conn.execute(f'select {key}, xmin::text from "{slug}_marts".{table}').fetchall()
        )
    return out


@pytest.fixture(scope="module")
def built(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the dbt invocations once and keep what each test needs to look at.

    Independent invocations run two at a time (different tenants, different target dirs), which
    itself exercises tenant isolation: both tenants build into the same database concurrently.
    """
    tmp = tmp_path_factory.mktemp("dbt")
    state: dict[str, Any] = {"url": database_url, "site": tmp / "docs-site"}
    # acme works 07:30-17:00 Mon-Fri with Monday 2026-10-26 a holiday; globex has the defaults
    acme_settings = TenantSettings(day_boundary="22:01", working_hours="07:30-17:00", holidays="2026-10-26")
    acme = dbt_vars(ACME, acme_settings, "Europe/Berlin")
    globex = dbt_vars(GLOBEX, TenantSettings(day_boundary="06:00", phone_region="US"), "America/New_York")
    with psycopg.connect(database_url, autocommit=True) as conn, ThreadPoolExecutor(2) as pool:
        load_acme(conn)
        load_globex(conn)
        first = pool.submit(build, database_url, tmp, acme)
        other = pool.submit(build, database_url, tmp, globex)
        state["first"], state["globex"] = first.result(), other.result()
        state["acme_first"], state["globex_first"] = snapshot(conn, ACME), snapshot(conn, GLOBEX)
        rerun = pool.submit(build, database_url, tmp, acme)
        docs = pool.submit(build_docs, database_url, globex, site_dir=state["site"])
        rerun.result()
        state["docs"] = docs.result()
        state["acme_rerun"] = snapshot(conn, ACME)
        load_acme_increment(conn)
        state["last"] = build(database_url, tmp, acme)
        state["acme_incremented"], state["globex_last"] = snapshot(conn, ACME), snapshot(conn, GLOBEX)
    return state


@pytest.fixture
def conn(built: dict[str, Any]):
    with psycopg.connect(built["url"], autocommit=True) as c:
        yield c


def dialogs(conn: psycopg.Connection, slug: str) -> dict[int, dict[str, Any]]:
    return {r["dialog_id"]: r for r in rows(conn, f'select * from "{slug}_marts".fct_dialogs')}


def days(conn: psycopg.Connection, slug: str) -> dict[tuple[int, date], dict[str, Any]]:
    return {
        (r["dialog_id"], r["business_date"]): r
        for r in rows(conn, f'select * from "{slug}_marts".fct_dialog_days')
    }


def test_every_model_and_test_passed(built: dict[str, Any]) -> None:
    run: DbtRun = built["first"]
    assert run.failed() == []
    statuses = run.summary()
    assert statuses.get("success", 0) >= 17 and statuses.get("pass", 0) >= 20, statuses


def test_response_times_match_hand_computed_values(conn: psycopg.Connection) -> None:
    d = dialogs(conn, ACME)
    # 701 as first built is checked through the snapshot below; after the increment it awaits a reply
    assert (d[702]["first_response_seconds"], d[702]["median_response_seconds"]) == (37800, 37800)
    assert d[702]["awaiting_reply"] is False and d[702]["waiting_since"] is None
    assert (d[704]["first_response_seconds"], d[704]["median_response_seconds"]) == (None, None)
    assert d[704]["awaiting_reply"] is True and d[704]["waiting_since"] == utc("2026-10-23 09:30")
    assert (d[706]["first_response_seconds"], d[706]["median_response_seconds"]) == (120, (120 + 3600) / 2)
    assert d[705]["messages_total"] == 0 and d[705]["awaiting_reply"] is False
    assert d[705]["first_message_at"] is None
    counts = {k: (v["messages_total"], v["messages_inbound"], v["messages_outbound"]) for k, v in d.items()}
    assert counts == {
        701: (8, 5, 3),
        702: (3, 2, 1),
        703: (3, 2, 1),
        704: (2, 1, 1),
        705: (0, 0, 0),
        706: (4, 2, 2),
    }
    # 701 after the increment: bursts answered in 600 s and 30 s, then a new unanswered turn
    assert (d[701]["first_response_seconds"], d[701]["median_response_seconds"]) == (600, 315)
    assert d[701]["awaiting_reply"] is True and d[701]["waiting_since"] == utc("2026-10-27 09:00")
    # 703 was never answered in the first build, answered days later in the last one
    assert (
        d[703]["first_response_seconds"]
        == (utc("2026-10-26 08:00") - utc("2026-10-23 10:00")).total_seconds()
    )
    assert d[703]["awaiting_reply"] is False


def test_working_hours_response_times_match_hand_computed_values(conn: psycopg.Connection) -> None:
    """acme: Europe/Berlin, 07:30-17:00 Mon-Fri, Monday 2026-10-26 a holiday."""
    d = dialogs(conn, ACME)
    got = {
        k: (v["first_response_working_seconds"], v["median_response_working_seconds"]) for k, v in d.items()
    }
    assert got == {
        701: (600, 315),  # Tuesday 10:00 CEST burst answered 10:10; 11:00 answered in 30 s
        702: (1800, 1800),  # Wed 21:30 burst (first message counts), answered Thu 08:00: 07:30-08:00
        703: (18000, 18000),  # Fri 12:00 CEST to the holiday Monday 09:00 CET: Fri 12:00-17:00 only
        704: (None, None),  # unanswered
        705: (None, None),  # no messages
        706: (0, 0),  # Saturday night and Sunday evening (the DST day): no working time at all
    }
    assert d[703]["first_response_seconds"] == 252000  # the raw figure stays beside it
    dd = days(conn, ACME)
    assert dd[(703, date(2026, 10, 23))]["first_response_working_seconds"] == 18000
    assert dd[(702, date(2026, 10, 21))]["first_response_working_seconds"] == 1800
    assert dd[(702, date(2026, 10, 21))]["median_response_seconds"] == 37800
    assert dialogs(conn, GLOBEX)[801]["first_response_working_seconds"] == 0  # Sunday 05:30 EST


# (zone, hours, ISO weekdays, holidays, from local, to local, working seconds) — computed by hand
WORKING_TIME_CASES = [
    # nights: 23:00 answered 09:05 with work from 09:00 counts 5 minutes
    ("Europe/Berlin", "09:00-18:00", "1-5", "", "2026-10-20 23:00", "2026-10-21 09:05", 300),
    ("Europe/Berlin", "09:00-18:00", "1-5", "", "2026-10-20 18:00", "2026-10-21 09:00", 0),
    ("Europe/Berlin", "09:00-18:00", "1-5", "", "2026-10-20 07:00", "2026-10-20 19:00", 9 * 3600),
    ("Europe/Berlin", "09:00-18:00", "1-5", "", "2026-10-20 10:00", "2026-10-20 10:30", 1800),
    # a day ending at midnight
    ("Europe/Berlin", "20:00-24:00", "1-5", "", "2026-10-20 23:30", "2026-10-21 20:10", 2400),
    # weekends: Friday 17:00 to Monday 09:30 is one hour on Friday and half an hour on Monday
    ("Europe/Berlin", "09:00-18:00", "1-5", "", "2026-10-23 17:00", "2026-10-26 09:30", 5400),
    ("Europe/Berlin", "09:00-18:00", "1-5", "", "2026-10-24 10:00", "2026-10-24 16:00", 0),
    ("Europe/Berlin", "09:00-18:00", "1-6", "", "2026-10-24 10:00", "2026-10-24 16:00", 6 * 3600),
    # two weeks: ten working days of nine hours
    ("Europe/Berlin", "09:00-18:00", "1-5", "", "2026-10-05 09:00", "2026-10-19 09:00", 10 * 9 * 3600),
    # DST days: round-the-clock work counts the 23-hour and 25-hour days as they are
    ("Europe/Berlin", "00:00-24:00", "1-7", "", "2026-03-29 00:00", "2026-03-30 00:00", 23 * 3600),
    ("Europe/Berlin", "00:00-24:00", "1-7", "", "2026-10-25 00:00", "2026-10-26 00:00", 25 * 3600),
    # ... while 09:00-18:00 stays nine hours of local time on either side of the change
    ("Europe/Berlin", "09:00-18:00", "1-7", "", "2026-03-28 17:00", "2026-03-30 10:00", 11 * 3600),
    ("America/New_York", "09:00-18:00", "1-5", "", "2026-10-30 17:30", "2026-11-02 09:15", 2700),
    ("America/New_York", "09:00-18:00", "1-7", "", "2026-03-07 17:00", "2026-03-09 10:00", 11 * 3600),
    # holidays: Christmas Eve and Day off, a weekend between
    (
        "Europe/Berlin",
        "09:00-18:00",
        "1-5",
        "2026-12-24,2026-12-25",
        "2026-12-23 17:00",
        "2026-12-28 09:10",
        4200,
    ),
    ("Europe/Berlin", "09:00-18:00", "1-5", "2026-12-24", "2026-12-24 10:00", "2026-12-24 12:00", 0),
    # the same instants read in another zone give other working time (Moscow is 2-3 hours ahead)
    ("Europe/Moscow", "09:00-18:00", "1-5", "", "2026-10-20 05:00", "2026-10-20 07:00", 0),
    # no wait, or a reply stamped before the question
    ("Europe/Berlin", "09:00-18:00", "1-5", "", "2026-10-20 10:00", "2026-10-20 10:00", 0),
    ("Europe/Berlin", "09:00-18:00", "1-5", "", "2026-10-20 11:00", "2026-10-20 10:00", 0),
]


@pytest.mark.parametrize(
    ("zone", "hours", "days_", "holidays", "start", "end", "expected"), WORKING_TIME_CASES
)
def test_working_seconds_function_on_hand_computed_cases(
    conn: psycopg.Connection,
    zone: str,
    hours: str,
    days_: str,
    holidays: str,
    start: str,
    end: str,
    expected: int,
) -> None:
    settings = TenantSettings(working_hours=hours, working_days=days_, holidays=holidays)
    day_start, day_end = settings.working_hours.split("-")
    got = conn.execute(
        "select acme_marts.working_seconds((%s::timestamp at time zone %s), (%s::timestamp at time zone %s),"
        " %s, %s::time, %s::time, %s::integer[], %s::date[])",
        (
            start,
            zone,
            end,
            zone,
            zone,
            day_start,
            day_end,
            "{" + settings.working_days + "}",
            "{" + settings.holidays + "}",
        ),
    ).fetchone()[0]
    assert got == expected


def test_working_seconds_of_a_missing_reply_is_null(conn: psycopg.Connection) -> None:
    got = conn.execute(
        "select acme_marts.working_seconds(now(), null, 'Europe/Berlin', '09:00', '18:00',"
        " '{1,2,3,4,5}', '{}')"
    ).fetchone()[0]
    assert got is None


def test_no_reply_dialog_before_increment(built: dict[str, Any]) -> None:
    first = {row[0] for row in built["acme_first"]["fct_dialogs"]}
    line_703 = next(r for r in first if r.startswith("(703,"))
    # first_response, median NULL; awaiting_reply true since the first message of the burst
    assert ',,,t,"2026-10-23 10:00:00+00"' in line_703


def test_match_rules(conn: psycopg.Connection) -> None:
    d = dialogs(conn, ACME)
    got = {k: (v["match_status"], v["contact_id"], v["lead_id"], v["manager_name"]) for k, v in d.items()}
    assert got == {
        701: ("matched", 501, 602, "Boris"),  # newest open lead; deleted 608 and won 603 ignored
        702: ("matched", 502, 604, "Anna"),  # no open lead: the most recently updated closed one
        703: ("ambiguous", 504, 607, "Anna"),  # two contacts: the one with the newest open lead
        704: ("unmatched", None, None, None),  # the only contact with this phone is deleted
        705: ("unmatched", None, None, None),  # nobody carries the phone
        706: ("matched", 506, None, "User 3"),  # raw phone normalised by the fallback; no lead
    }
    assert d[702]["channel"] == "telegram" and d[703]["candidate_contacts"] == 2
    leads = {r["lead_id"]: r for r in rows(conn, "select * from acme_marts.dim_leads")}
    assert 608 not in leads
    assert (leads[603]["status_type"], leads[603]["is_won"], leads[605]["is_lost"]) == ("won", True, True)
    assert leads[602]["pipeline_name"] == "Sales" and leads[602]["status_name"] == "New"
    contacts = {r["contact_id"]: r for r in rows(conn, "select * from acme_marts.dim_contacts")}
    assert contacts[502]["contact_name"] == "Petr Petrov" and 505 not in contacts
    assert (contacts[506]["phone_e164"], contacts[506]["valid_phones"], contacts[506]["phones_total"]) == (
        "+79990000005",
        1,
        2,
    )


def test_business_days_in_berlin_across_dst(conn: psycopg.Connection) -> None:
    dd = days(conn, ACME)
    got = {
        k: (v["messages_total"], v["messages_inbound"], v["first_response_seconds"], v["left_waiting"])
        for k, v in dd.items()
        if k[0] in (702, 706)
    }
    assert got == {
        (702, date(2026, 10, 21)): (1, 1, 37800, True),
        (702, date(2026, 10, 22)): (2, 1, None, False),  # the 22:30 message continues the turn
        (706, date(2026, 10, 24)): (1, 1, 120, True),
        (706, date(2026, 10, 25)): (2, 1, 3600, True),
        (706, date(2026, 10, 26)): (1, 0, None, False),
    }
    dst_day = dd[(706, date(2026, 10, 25))]
    assert dst_day["day_start_at"] == utc("2026-10-24 20:01")  # 22:01 CEST
    assert dst_day["day_end_at"] == utc("2026-10-25 21:01")  # 22:01 CET: a 25-hour day
    assert dst_day["waiting_since"] == utc("2026-10-25 20:30")
    assert dd[(702, date(2026, 10, 21))]["waiting_since"] == utc("2026-10-21 19:30")


def test_business_days_in_new_york_with_morning_boundary(conn: psycopg.Connection) -> None:
    dd = days(conn, GLOBEX)
    got = {k: (v["messages_total"], v["first_response_seconds"], v["left_waiting"]) for k, v in dd.items()}
    assert got == {(801, date(2026, 10, 31)): (2, 600, False), (801, date(2026, 11, 1)): (1, None, True)}
    day = dd[(801, date(2026, 10, 31))]
    assert (day["day_start_at"], day["day_end_at"]) == (utc("2026-10-31 10:00"), utc("2026-11-01 11:00"))
    d = dialogs(conn, GLOBEX)
    assert (d[801]["match_status"], d[801]["lead_id"], d[801]["manager_name"]) == ("matched", 911, "Grace")


def test_tenants_do_not_touch_each_other(built: dict[str, Any], conn: psycopg.Connection) -> None:
    assert set(dialogs(conn, GLOBEX)) == {801}
    assert set(dialogs(conn, ACME)) == {701, 702, 703, 704, 705, 706}
    # acme's re-run and incremental run left globex exactly as its own build made it
    assert built["globex_last"] == built["globex_first"]


def test_rerun_without_new_data_changes_no_rows(built: dict[str, Any]) -> None:
    assert built["acme_rerun"] == built["acme_first"]


def test_incremental_models_process_only_new_days(built: dict[str, Any], conn: psycopg.Connection) -> None:
    before, after = built["acme_rerun"], built["acme_incremented"]
    old_versions = dict(
        ((r[0], r[1]) if len(r) == 3 else (r[0],), r[-1]) for r in before["fct_dialog_days.xmin"]
    )
    new_versions = dict(
        ((r[0], r[1]) if len(r) == 3 else (r[0],), r[-1]) for r in after["fct_dialog_days.xmin"]
    )
    rewritten = {k for k in old_versions if new_versions[k] != old_versions[k]}
    added = set(new_versions) - set(old_versions)
    # 703's reply answers the turn of 10-23, so that day is recomputed; nothing else old is touched
    assert rewritten == {(703, date(2026, 10, 23))}
    assert added == {(703, date(2026, 10, 26)), (701, date(2026, 10, 27))}
    old_msgs = dict(before["fct_dialog_messages.xmin"])
    new_msgs = dict(after["fct_dialog_messages.xmin"])
    assert {k for k in old_msgs if new_msgs[k] != old_msgs[k]} == set()
    assert set(new_msgs) - set(old_msgs) == {"703-3", "701-8"}
    d1023 = days(conn, ACME)[(703, date(2026, 10, 23))]
    assert d1023["first_response_seconds"] == 252000 and d1023["left_waiting"] is True


def test_manager_days_with_analysis_scores(conn: psycopg.Connection) -> None:
    got = {
        (r["manager_name"], r["business_date"]): (
            r["dialogs"],
            r["messages_total"],
            r["dialogs_left_waiting"],
            r["average_score"],
            r["flagged_dialogs"],
            r["average_score_corrected"],
            r["corrected_dialogs"],
            r["disputed_dialogs"],
        )
        for r in rows(conn, "select * from acme_marts.mart_manager_days")
    }
    assert got[("Anna", date(2026, 10, 23))] == (
        1,
        2,
        1,
        40.0,
        1,
        70.0,
        1,
        0,
    )  # 703 scored, flagged, corrected
    assert got[("Boris", date(2026, 10, 27))] == (1, 1, 1, 80.0, 0, 80.0, 0, 1)  # 701 disputed
    assert got[("Unassigned", date(2026, 10, 23))] == (1, 2, 1, None, 0, None, 0, 0)  # 704 failed: ignored
    assert got[("Boris", date(2026, 10, 20))][3] is None
    # 703's one turn: Fri 12:00 CEST answered the holiday Monday 09:00 CET — 70 h raw, 5 working hours
    anna = next(
        r
        for r in rows(conn, "select * from acme_marts.mart_manager_days")
        if (r["manager_name"], r["business_date"]) == ("Anna", date(2026, 10, 23))
    )
    assert (
        anna["median_first_response_seconds"],
        anna["median_first_response_working_seconds"],
        anna["median_response_seconds"],
        anna["median_response_working_seconds"],
    ) == (252000, 18000, 252000, 18000)
    msg = rows(conn, "select attachments from acme_marts.fct_dialog_messages where message_id = '701-4'")[0]
    assert msg["attachments"][0]["mime"] == "application/pdf"


def test_manager_dialog_days_carry_the_week_and_the_day_score(conn: psycopg.Connection) -> None:
    got = {
        (r["dialog_id"], r["business_date"]): r
        for r in rows(conn, "select * from acme_marts.mart_manager_dialog_days")
    }
    assert len(got) == len(days(conn, ACME))  # one row per dialog day
    d703 = got[(703, date(2026, 10, 23))]  # a Friday: ISO week of Monday 10-19
    assert (d703["week_start"], d703["manager_name"], d703["ai_score"], d703["flagged"]) == (
        date(2026, 10, 19),
        "Anna",
        40.0,
        True,
    )
    assert d703["left_waiting"] is True and d703["first_response_seconds"] == 252000
    d701 = got[(701, date(2026, 10, 27))]
    assert (d701["week_start"], d701["manager_name"], d701["ai_score"]) == (date(2026, 10, 26), "Boris", 80.0)
    indexed = conn.execute(
        "select indexdef from pg_indexes "
        "where schemaname = 'acme_marts' and tablename = 'mart_manager_dialog_days'"
    ).fetchall()
    assert any("(business_date, responsible_user_id)" in r[0] for r in indexed)  # the trends' range scans
    d704 = got[(704, date(2026, 10, 23))]  # no manager; its failed analysis is no score
    assert (d704["responsible_user_id"], d704["manager_name"], d704["ai_score"]) == (None, "Unassigned", None)


def test_every_mart_and_column_is_described(built: dict[str, Any]) -> None:
    manifest = json.loads((built["first"].target_path / "manifest.json").read_text())
    marts = [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["fqn"][1] in ("marts", "reporting")
    ]
    assert {n["name"] for n in marts} >= {
        "fct_dialogs",
        "fct_dialog_messages",
        "fct_dialog_days",
        "dim_leads",
        "dim_contacts",
        "dim_managers",
        "mart_manager_days",
        "mart_manager_dialog_days",
    }
    undocumented = [n["name"] for n in marts if not n["description"].strip()]
    undocumented += [
        f"{n['name']}.{c}" for n in marts for c, col in n["columns"].items() if not col["description"]
    ]
    assert undocumented == []
    assert all(n["config"]["contract"]["enforced"] for n in marts)


def test_docs_site_is_built_and_served(built: dict[str, Any]) -> None:
    site: Path = built["docs"]
    catalog = json.loads((site / "catalog.json").read_text())
    assert "model.synkro.fct_dialogs" in catalog["nodes"]
    assert "median_response_seconds" in catalog["nodes"]["model.synkro.fct_dialogs"]["columns"]
    server = docs_server(port=0, directory=site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as response:
            assert response.status == 200 and b"dbt" in response.read()
    finally:
        server.shutdown()
        server.server_close()


def test_profile_keeps_the_password_out_of_the_file(tmp_path: Path) -> None:
    path = write_profile(tmp_path, "postgresql://loader:s3cr%40t-pw@db.example.com:6543/wh?sslmode=require")
    text = path.read_text()
    assert "s3cr" not in text and "SYNKRO_DBT_PASSWORD" in text
    output = yaml.safe_load(text)["synkro"]["outputs"]["synkro"]
    assert (output["host"], output["port"], output["user"], output["dbname"], output["sslmode"]) == (
        "db.example.com",
        6543,
        "loader",
        "wh",
        "require",
    )


def test_dbt_vars_defaults_and_tenant_settings() -> None:
    assert dbt_vars("acme", TenantSettings(), "Europe/Moscow") == {
        "tenant": "acme",
        "timezone": "Europe/Moscow",
        "day_boundary": "22:01",
        "phone_region": "RU",
        "working_hours": "09:00-18:00",
        "working_days": "1,2,3,4,5",
        "holidays": "",
    }
    assert dbt_vars("acme", TenantSettings(phone_region="kz"), "Asia/Almaty")["phone_region"] == "KZ"
