"""AI cost: the dated pricing table, cached-prefix accounting against the Gemini emulator, the spend line."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import psycopg
import pytest

from synkro.analysis.gemini import DialogJob, GeminiAnalyzer, GeminiSettings
from synkro.analysis.pricing import PriceOverride, Usage, cost_usd, price_for, price_table
from synkro.analysis.prompt import build_prompt
from synkro.analysis.rubric import DEFAULT_RUBRIC
from synkro.analysis.run import analyze_window
from synkro.analysis.transcript import Message, build_transcript
from synkro.controlplane.settings import TenantSettings
from synkro.report.model import AISpend
from synkro.report.render import _spend_line
from tests.analysis_emulators import Emulators, running_emulators
from tests.analysis_marts import Dialog, create_marts

KEY = "sandbox-gemini-api-key"
MODEL = "gemini-3.5-flash-lite"
START = datetime(2026, 11, 28, 19, 1, tzinfo=UTC)
END = START + timedelta(days=1)
MILLION = 1_000_000


# -- the pricing table ---------------------------------------------------------------------------


def test_prices_are_dated_and_an_unknown_model_costs_none() -> None:
    assert cost_usd("gemini-3.8-flash", Usage(MILLION), day=date(2026, 12, 31)) == 0.75
    assert cost_usd("gemini-3.8-flash", Usage(MILLION), day=date(2027, 1, 1)) == 1.50
    assert cost_usd("models/gemini-3.5-flash-lite", Usage(0, 0, MILLION)) == 2.50
    assert cost_usd("gemini-3.5-flash", Usage(MILLION)) == 1.50  # not the -lite row
    assert cost_usd("gemini-3.7-flash", Usage(MILLION)) is None  # no published price
    assert cost_usd("my-tuned-model", Usage(10)) is None
    assert price_for("gemini-3.7-flash") is None


def test_retired_models_are_billed_as_the_model_they_are_routed_to() -> None:
    assert cost_usd("gemini-2.5-pro", Usage(MILLION), day=date(2026, 11, 30)) == 1.25
    assert cost_usd("gemini-2.5-pro", Usage(MILLION), day=date(2026, 12, 1)) == 0.75  # 3.8 Flash
    assert cost_usd("gemini-2.5-pro", Usage(MILLION), day=date(2027, 2, 1)) == 1.50
    assert cost_usd("gemini-2.5-flash-lite", Usage(MILLION), day=date(2027, 2, 1)) == 0.10
    assert any(row.get("routed_to") == "gemini-3.8-flash" for row in price_table())


def test_cached_thinking_batch_and_long_context_rates() -> None:
    # 1M prompt tokens of which 600k cached, 100k answer + 100k thinking on 3.5 Flash-Lite.
    usage = Usage(MILLION, 600_000, 100_000, 100_000)
    online = 0.4 * 0.30 + 0.6 * 0.30 * 0.10 + 0.2 * 2.50
    assert cost_usd(MODEL, usage) == pytest.approx(online)
    assert cost_usd(MODEL, usage, mode="batch") == pytest.approx(online / 2)
    assert cost_usd("gemini-3.1-pro-preview", Usage(100_000)) == pytest.approx(0.2)
    assert cost_usd("gemini-3.1-pro-preview", Usage(300_000)) == pytest.approx(1.2)  # $4 above 200k
    assert cost_usd("gemini-3.7-flash", Usage(MILLION), override=PriceOverride(1.0, 2.0)) == 1.0
    # cached tokens never exceed the prompt (a bad usage record cannot make the cost negative)
    assert cost_usd(MODEL, Usage(100_000, 500_000)) == pytest.approx(0.003)


def test_spend_line_names_cache_batch_and_unknown_cost() -> None:
    line = _spend_line(
        AISpend(cost_usd=0.0123, input_tokens=1000, output_tokens=200, cached_tokens=600, model=MODEL)
    )
    assert line == f"Расходы на ИИ: $0.0123 (1200 токенов, из кэша 600 (60% входа), {MODEL})"
    unknown = _spend_line(AISpend(input_tokens=1000, output_tokens=10, unpriced_dialogs=2, model="x-1"))
    assert "стоимость неизвестна" in unknown and "$" not in unknown


# -- the prompt's cached prefix against the emulator ---------------------------------------------


def test_every_dialog_shares_the_instructions_and_only_the_transcript_differs() -> None:
    a, b = (
        build_prompt(t, DEFAULT_RUBRIC)
        for t in ("[29.11 10:00] клиент: Цена?", "[29.11 11:00] клиент: Адрес?")
    )
    assert a.instructions == b.instructions
    assert "Цена?" not in a.instructions and "Цена?" in a.transcript
    assert build_prompt("x", DEFAULT_RUBRIC, "en").instructions != a.instructions  # the language is in it
    # long enough for implicit caching (1,024 tokens on Flash) even at 4 characters per token
    assert len(a.instructions) // 4 >= 1024


@pytest.fixture(scope="module")
def emulators() -> Iterator[Emulators]:
    with running_emulators("gemini") as emu:
        yield emu


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url) as c:
        yield c


def _config(emu: Emulators) -> dict[str, object]:
    return {"api_key": KEY, "base_url": emu.gemini, "model": MODEL, "api_version": "v1beta"}


def _job(i: int) -> DialogJob:
    at = START + timedelta(hours=12, minutes=i)
    messages = [
        Message(at, "inbound", f"Здравствуйте, есть ли товар {i}?"),
        Message(at, "outbound", "Да, есть."),
    ]
    return DialogJob(
        str(i), build_prompt(build_transcript(messages, START, "Europe/Moscow").text, DEFAULT_RUBRIC)
    )


def test_a_repeated_prefix_is_reported_cached_and_costs_less(emulators: Emulators) -> None:
    # A key of its own: the emulator caches per key and model, as Gemini does per project.
    key = "cache-" + uuid.uuid4().hex
    httpx.post(f"{emulators.control}/gemini/keys", json={"key": key, "state": "valid"}).raise_for_status()
    analyzer = GeminiAnalyzer(GeminiSettings.from_config({**_config(emulators), "api_key": key}))
    first, second = analyzer.analyze(_job(1)), analyzer.analyze(_job(2))
    assert first.status == second.status == "ok"
    assert first.cached_tokens == 0
    assert 1024 <= second.cached_tokens < second.input_tokens
    assert second.cost_usd < cost_usd(
        MODEL, Usage(second.input_tokens, 0, second.output_tokens, second.thinking_tokens)
    )
    assert second.cost_usd == cost_usd(MODEL, second.usage())


def test_analysis_rows_and_summary_carry_cached_tokens_and_mode(
    emulators: Emulators, conn: psycopg.Connection
) -> None:
    slug = "t" + uuid.uuid4().hex[:8]
    at = START + timedelta(hours=13)
    dialogs = [
        Dialog(
            i,
            "Анна",
            501,
            [
                (at, "inbound", f"Сколько стоит доставка {i}?"),
                (at + timedelta(minutes=2), "outbound", "500 руб."),
            ],
        )
        for i in (1, 2, 3)
    ]
    create_marts(conn, slug, dialogs, [])
    summary = analyze_window(
        conn, slug, START, END, TenantSettings(), _config(emulators), timezone="Europe/Moscow"
    )
    assert summary.analyzed == 3 and summary.cached_tokens > 0 and summary.cost_unknown == 0
    rows = conn.execute(
        f'select cached_input_tokens, mode, cost_usd from "{slug}_analysis".dialog_analyses'
    ).fetchall()
    assert {r[1] for r in rows} == {"online"}
    assert sum(r[0] for r in rows) == summary.cached_tokens
