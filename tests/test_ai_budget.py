"""The monthly AI budget: the month's spend ledger, what a run may still spend, and who is scored first."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from synkro.analysis import budget
from synkro.analysis.pricing import Usage
from synkro.analysis.run import analyze_window
from synkro.controlplane.settings import TenantSettings
from tests.analysis_emulators import Emulators, running_emulators
from tests.analysis_marts import Dialog, create_marts

KEY = "sandbox-gemini-api-key"
MODEL = "gemini-3.5-flash-lite"
START = datetime(2026, 11, 28, 19, 1, tzinfo=UTC)
END = START + timedelta(days=1)
TZ = "Europe/Moscow"


@pytest.fixture(scope="module")
def emulators() -> Iterator[Emulators]:
    with running_emulators("gemini") as emu:
        yield emu


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url) as c:
        yield c


def _tenant(conn: psycopg.Connection) -> str:
    """Four dialogs of one length: a won deal, a lost one answered, a small open deal, a big open one."""
    slug = "t" + uuid.uuid4().hex[:8]
    at = START + timedelta(hours=13)
    answered = [
        (at, "inbound", "Сколько стоит доставка?"),
        (at + timedelta(minutes=2), "outbound", "Пятьсот."),
    ]
    waiting = [
        (at, "outbound", "Добрый день, как вам КП?"),
        (at + timedelta(minutes=2), "inbound", "Сколько?"),
    ]
    dialogs = [
        Dialog(1, "Анна", 11, answered),  # won deal
        Dialog(2, "Анна", 12, waiting),  # lost deal, customer waiting
        Dialog(3, "Борис", 13, answered),  # open, small
        Dialog(4, "Борис", 14, answered),  # open, big
    ]
    leads = {11: (900_000.0, "won"), 12: (50_000.0, "lost"), 13: (10_000.0, "open"), 14: (500_000.0, "open")}
    create_marts(conn, slug, dialogs, [], leads)
    budget.ensure_spend_table(conn, slug)
    conn.commit()
    return slug


def _spend(conn: psycopg.Connection, slug: str, usd: float, at: datetime) -> None:
    budget.record_spend(conn, slug, "bot", model=MODEL, mode="online", usage=Usage(10), cost=usd)
    conn.execute(
        f'update "{slug}_analysis".ai_spend set spent_at = %s '
        f'where id = (select max(id) from "{slug}_analysis".ai_spend)',
        (at,),
    )
    conn.commit()


def _run(conn, slug, emu, model=MODEL, **settings):
    config = {"api_key": KEY, "base_url": emu.gemini, "model": model, "api_version": "v1beta"}
    return analyze_window(conn, slug, START, END, TenantSettings(**settings), config, timezone=TZ)


def _status(conn, slug) -> dict[str, tuple[str, str | None]]:
    rows = conn.execute(f'select dialog_id, status, error from "{slug}_analysis".dialog_analyses').fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_priority_is_open_deals_then_waiting_customers_then_the_largest_deals(
    conn: psycopg.Connection,
) -> None:
    slug = _tenant(conn)
    order = budget.priorities(conn, slug, ["1", "2", "3", "4"], END)
    ranked = sorted(order, key=lambda d: order[d].key(d))
    assert ranked == ["4", "3", "2", "1"]
    assert order["2"].waiting and not order["1"].waiting and order["4"].price == 500_000


def test_the_month_spend_counts_from_the_first_local_day(conn: psycopg.Connection) -> None:
    slug = _tenant(conn)
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    since = budget.month_start(now, TZ)
    assert since.isoformat() == "2026-12-01T00:00:00+03:00"
    _spend(conn, slug, 2.0, datetime(2026, 11, 30, 21, 30, tzinfo=UTC))  # 00:30 Moscow on 1 Dec: this month
    _spend(conn, slug, 5.0, datetime(2026, 11, 30, 20, 30, tzinfo=UTC))  # 23:30 Moscow on 30 Nov: last month
    assert budget.month_spent(conn, slug, since) == pytest.approx(2.0)


def test_a_run_scores_only_what_the_month_has_left_and_the_most_important_first(
    emulators: Emulators, conn: psycopg.Connection
) -> None:
    slug = _tenant(conn)
    _spend(conn, slug, 1.0, datetime.now(UTC))
    # One dialog's conservative estimate is ≈ $0.0056 on 3.5 Flash-Lite: room for one, not two.
    summary = _run(conn, slug, emulators, ai_monthly_budget_usd=1.0085)
    assert summary.analyzed == 1 and summary.budget["left_out"] == 3
    assert summary.budget["spent_before_usd"] == pytest.approx(1.0)
    status = _status(conn, slug)
    assert status["4"][0] == "ok", "the big open deal goes first"
    for dialog in ("1", "2", "3"):
        assert status[dialog][0] == "skipped" and status[dialog][1].startswith(budget.BUDGET_REASON)
        assert "$1.01" in status[dialog][1] and "$1.00 spent" in status[dialog][1]
    spent = conn.execute(
        f'select kind, dialog_id, cost_usd from "{slug}_analysis".ai_spend where kind = %s', ("analysis",)
    ).fetchall()
    assert [(k, d) for k, d, _ in spent] == [("analysis", "4")] and float(spent[0][2]) > 0


def test_last_months_spend_does_not_count_and_no_budget_means_no_cap(
    emulators: Emulators, conn: psycopg.Connection
) -> None:
    slug = _tenant(conn)
    _spend(conn, slug, 100.0, budget.month_start(datetime.now(UTC), TZ) - timedelta(seconds=1))
    assert _run(conn, slug, emulators, ai_monthly_budget_usd=1.0).analyzed == 4
    other = _tenant(conn)
    _spend(conn, other, 100.0, datetime.now(UTC))
    assert _run(conn, other, emulators).analyzed == 4


def test_a_model_without_a_price_cannot_be_budgeted_and_says_why(
    emulators: Emulators, conn: psycopg.Connection
) -> None:
    slug = _tenant(conn)
    summary = _run(conn, slug, emulators, model="gemini-3.7-flash", ai_monthly_budget_usd=50.0)
    assert summary.analyzed == 0 and summary.budget["left_out"] == 4
    assert all("no known price" in error for _, error in _status(conn, slug).values())
