"""The cascade: a stronger model re-scores open big deals, fatal misses and unsure verdicts; both kept."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from synkro.analysis.budget import Priority
from synkro.analysis.escalation import escalation_reason
from synkro.analysis.gemini import DialogResult
from synkro.analysis.run import analyze_window
from synkro.analysis.schema import DialogAnalysis
from synkro.controlplane.settings import TenantSettings
from tests.analysis_emulators import Emulators, running_emulators
from tests.analysis_marts import Dialog, create_marts

KEY = "sandbox-gemini-api-key"
BULK = "gemini-3.5-flash-lite"
STRONG = "gemini-3.8-flash"
START = datetime(2026, 11, 28, 19, 1, tzinfo=UTC)
END = START + timedelta(days=1)


def _result(confidence: int, model: str = BULK) -> DialogResult:
    analysis = DialogAnalysis(
        overall_score=70,
        criteria=[],
        objections=[],
        next_step_agreed=False,
        next_step_what="",
        next_step_when="",
        risk_flags=[],
        sentiment="neutral",
        summary="",
        recommendation="",
        confidence=confidence,
    )
    return DialogResult("1", "ok", model, analysis)


def test_the_reasons_to_escalate() -> None:
    on = TenantSettings(ai_escalation_model=STRONG, ai_escalation_min_price=100_000)
    big_open, big_won = Priority(open_deal=True, price=250_000), Priority(open_deal=False, price=250_000)
    assert escalation_reason(_result(90), [], big_open, on) == "open deal priced 250 000 ≥ 100 000"
    assert escalation_reason(_result(90), [], big_won, on) is None
    assert (
        escalation_reason(_result(90), ["no_rudeness"], Priority(), on)
        == "fatal criterion missed: no_rudeness"
    )
    assert escalation_reason(_result(59), [], Priority(), on) == "model confidence 59 < 60"
    assert escalation_reason(_result(60), [], Priority(), on) is None
    assert escalation_reason(_result(10), [], big_open, TenantSettings()) is None, "off by default"
    assert escalation_reason(_result(10, STRONG), [], big_open, on) is None, "never twice"
    failed = DialogResult("1", "failed", BULK, None, "boom")
    assert escalation_reason(failed, [], big_open, on) is None


@pytest.fixture(scope="module")
def emulators() -> Iterator[Emulators]:
    with running_emulators("gemini") as emu:
        yield emu


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url) as c:
        yield c


def _tenant(conn: psycopg.Connection) -> str:
    slug = "t" + uuid.uuid4().hex[:8]
    at = START + timedelta(hours=13)
    talk = [
        (at, "inbound", "Здравствуйте, сколько стоит доставка?"),
        (at + timedelta(minutes=2), "outbound", "Здравствуйте! 500 руб. Когда удобно?"),
        (at + timedelta(minutes=4), "inbound", "Завтра в 10"),
        (at + timedelta(minutes=5), "outbound", "Записал на завтра 10:00."),
    ]
    short = [(at, "inbound", "Есть в наличии?"), (at + timedelta(minutes=1), "outbound", "Да.")]
    dialogs = [Dialog(1, "Анна", 11, talk), Dialog(2, "Анна", 12, talk), Dialog(3, "Борис", 13, short)]
    leads = {11: (900_000.0, "open"), 12: (900_000.0, "won"), 13: (1_000.0, "won")}
    create_marts(conn, slug, dialogs, [], leads)
    return slug


def _run(conn, slug, emu, **settings):
    config = {"api_key": KEY, "base_url": emu.gemini, "model": BULK, "api_version": "v1beta"}
    return analyze_window(
        conn, slug, START, END, TenantSettings(**settings), config, timezone="Europe/Moscow"
    )


def test_the_stronger_verdict_is_current_and_the_first_is_kept(
    emulators: Emulators, conn: psycopg.Connection
) -> None:
    slug = _tenant(conn)
    summary = _run(conn, slug, emulators, ai_escalation_model=STRONG, ai_escalation_min_price=500_000)
    assert summary.analyzed == 3 and summary.escalation["rescored"] == 2
    assert summary.escalation["reasons"] == {
        "1": "open deal priced 900 000 ≥ 500 000",
        "3": "model confidence 50 < 60",
    }
    current = {
        r[0]: r[1:]
        for r in conn.execute(
            f'select dialog_id, model, escalation, confidence from "{slug}_analysis".dialog_analyses'
        )
    }
    assert current["1"][:2] == (STRONG, "open deal priced 900 000 ≥ 500 000")
    assert current["3"][0] == STRONG and current["2"] == (BULK, None, 85)
    first = conn.execute(
        f'select dialog_id, model from "{slug}_analysis".dialog_analysis_history order by dialog_id'
    ).fetchall()
    assert first == [("1", BULK), ("3", BULK)]
    paid = conn.execute(
        f'select model, count(*) from "{slug}_analysis".ai_spend group by model order by model'
    ).fetchall()
    assert paid == [(BULK, 3), (STRONG, 2)]
    again = _run(conn, slug, emulators, ai_escalation_model=STRONG, ai_escalation_min_price=500_000)
    assert (again.unchanged, again.gemini_calls, again.escalation) == (3, 0, None), (
        "an escalated verdict stands"
    )


def test_an_unavailable_stronger_model_leaves_the_first_verdicts(
    emulators: Emulators, conn: psycopg.Connection
) -> None:
    slug = _tenant(conn)
    summary = _run(
        conn, slug, emulators, ai_escalation_model="gemini-2.0-flash", ai_escalation_min_confidence=100
    )
    assert summary.analyzed == 3 and summary.escalation["rescored"] == 0
    assert "not found" in summary.escalation["stopped"]
    models = {r[0] for r in conn.execute(f'select model from "{slug}_analysis".dialog_analyses')}
    assert models == {BULK}
