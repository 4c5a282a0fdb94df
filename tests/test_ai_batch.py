"""Scheduled analysis through the Gemini Batch API (emulated over HTTP, real google-genai client):
half price, the same verdicts, online fallback for whatever the batch does not answer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from synkro.analysis.batch import BatchPolicy
from synkro.analysis.pricing import Usage, cost_usd
from synkro.analysis.run import AnalysisStopped, analyze_window
from synkro.controlplane.settings import TenantSettings
from tests.analysis_emulators import Emulators, running_emulators
from tests.analysis_marts import Dialog, create_marts

KEY = "sandbox-gemini-api-key"
MODEL = "gemini-3.5-flash-lite"
START = datetime(2026, 11, 28, 19, 1, tzinfo=UTC)
END = START + timedelta(days=1)
FAST = BatchPolicy(max_wait_seconds=20, poll_initial_seconds=0.1, poll_max_seconds=0.3)


@pytest.fixture(scope="module")
def emulators() -> Iterator[Emulators]:
    with running_emulators("gemini") as emu:
        yield emu


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url) as c:
        yield c


def _batches(emu: Emulators, latency_s: float = 0.3, outcome: str = "succeeded") -> None:
    httpx.post(
        f"{emu.control}/gemini/batches", json={"latency_s": latency_s, "outcome": outcome}
    ).raise_for_status()


def _paths(emu: Emulators) -> list[str]:
    return [
        r["path"]
        for r in httpx.get(f"{emu.control}/gemini/requests").json()["requests"]
        if r["method"] == "POST"
    ]


def _tenant(conn: psycopg.Connection) -> str:
    slug = "t" + uuid.uuid4().hex[:8]
    at = START + timedelta(hours=13)
    dialogs = [
        Dialog(
            1,
            "Анна",
            501,
            [
                (at, "inbound", "Сколько стоит доставка?"),
                (at + timedelta(minutes=2), "outbound", "500 руб. Когда удобно?"),
            ],
        ),
        Dialog(
            2,
            "Борис",
            502,
            [
                (at, "inbound", "Дорого, у конкурентов дешевле"),
                (at + timedelta(hours=3), "outbound", "ну как хотите"),
            ],
        ),
        Dialog(3, None, None, [(at, "inbound", "Есть в наличии?")]),
    ]
    create_marts(conn, slug, dialogs, [])
    return slug


def _run(conn, slug, emu, *, scheduled=True, key=KEY, policy=FAST, **settings):
    config = {"api_key": key, "base_url": emu.gemini, "model": MODEL, "api_version": "v1beta"}
    return analyze_window(
        conn,
        slug,
        START,
        END,
        TenantSettings(**settings),
        config,
        timezone="Europe/Moscow",
        scheduled=scheduled,
        batch_policy=policy,
    )


def _rows(conn, slug) -> dict[str, tuple]:
    cur = conn.execute(
        f"select dialog_id, status, mode, cost_usd, input_tokens, cached_input_tokens, output_tokens, "
        f'thinking_tokens, overall_score from "{slug}_analysis".dialog_analyses'
    )
    return {r[0]: r[1:] for r in cur}


def test_a_scheduled_run_is_one_batch_at_half_price(emulators: Emulators, conn: psycopg.Connection) -> None:
    slug = _tenant(conn)
    _batches(emulators)
    httpx.delete(f"{emulators.control}/gemini/requests")
    progress: list[str] = []
    config = {"api_key": KEY, "base_url": emulators.gemini, "model": MODEL, "api_version": "v1beta"}
    summary = analyze_window(
        conn,
        slug,
        START,
        END,
        TenantSettings(),
        config,
        timezone="Europe/Moscow",
        scheduled=True,
        batch_policy=FAST,
        progress=progress.append,
    )
    assert summary.mode == "batch" and summary.analyzed == 3 and summary.failed == 0
    assert summary.batch["answered"] == 3 and summary.batch["online"] == 0
    assert summary.batch["state"] == "JOB_STATE_SUCCEEDED" and summary.batch["input"] == "inline"
    paths = _paths(emulators)
    assert len(paths) == 1 and paths[0].endswith(f"/models/{MODEL}:batchGenerateContent")
    assert any("submitted" in p for p in progress) and any("SUCCEEDED" in p for p in progress)
    rows = _rows(conn, slug)
    assert {r[1] for r in rows.values()} == {"batch"}
    for _, _, cost, prompt, cached, out, thinking, score in rows.values():
        online = cost_usd(MODEL, Usage(prompt, cached, out, thinking))
        assert float(cost) == pytest.approx(online / 2, abs=2e-6) and score is not None
    assert rows["1"][-1] > rows["2"][-1], (
        "the batch's verdicts are the online ones: the rude dialog scores lower"
    )


def test_forced_runs_stay_online_and_the_setting_overrides(
    emulators: Emulators, conn: psycopg.Connection
) -> None:
    _batches(emulators)
    forced = _run(conn, _tenant(conn), emulators, scheduled=False)
    assert forced.mode == "online" and forced.batch is None and forced.analyzed == 3
    never = _run(conn, _tenant(conn), emulators, scheduled=True, ai_batch="never")
    assert never.mode == "online" and never.analyzed == 3
    always = _run(conn, _tenant(conn), emulators, scheduled=False, ai_batch="always")
    assert always.mode == "batch" and always.batch["answered"] == 3


@pytest.mark.parametrize("outcome", ["failed", "expired", "cancelled"])
def test_a_batch_that_does_not_succeed_falls_back_online(
    emulators: Emulators, conn: psycopg.Connection, outcome: str
) -> None:
    slug = _tenant(conn)
    _batches(emulators, outcome=outcome)
    summary = _run(conn, slug, emulators)
    assert summary.analyzed == 3 and summary.batch["answered"] == 0 and summary.batch["online"] == 3
    assert summary.batch["state"] == f"JOB_STATE_{outcome.upper()}"
    assert outcome.upper() in summary.batch["note"]
    assert {r[1] for r in _rows(conn, slug).values()} == {"online"}


def test_a_batch_still_running_at_the_deadline_is_cancelled_and_the_rest_scored_online(
    emulators: Emulators, conn: psycopg.Connection
) -> None:
    slug = _tenant(conn)
    _batches(emulators, latency_s=60)
    summary = _run(conn, slug, emulators, policy=BatchPolicy(max_wait_seconds=0.6, poll_initial_seconds=0.1))
    assert summary.analyzed == 3 and summary.batch["online"] == 3
    assert "cancelled" in summary.batch["note"]
    name = summary.batch["name"]
    job = httpx.get(f"{emulators.gemini}/v1beta/{name}", headers={"x-goog-api-key": KEY}).json()
    assert job["metadata"]["state"] == "BATCH_STATE_CANCELLED"


def test_beyond_the_inline_limit_the_batch_goes_through_the_files_api(
    emulators: Emulators, conn: psycopg.Connection
) -> None:
    slug = _tenant(conn)
    _batches(emulators)
    httpx.delete(f"{emulators.control}/gemini/requests")
    summary = _run(
        conn, slug, emulators, policy=BatchPolicy(inline_limit_bytes=1000, poll_initial_seconds=0.1)
    )
    assert summary.batch["input"] == "file" and summary.batch["answered"] == 3 and summary.analyzed == 3
    assert any(p.endswith("/upload/v1beta/files") for p in _paths(emulators))
    assert {r[1] for r in _rows(conn, slug).values()} == {"batch"}


def test_a_request_the_batch_answers_with_an_error_is_scored_online(
    emulators: Emulators, conn: psycopg.Connection
) -> None:
    slug = _tenant(conn)
    _batches(emulators)
    httpx.post(f"{emulators.control}/gemini/errors", json={"code": 500, "count": 1}).raise_for_status()
    summary = _run(conn, slug, emulators)
    assert summary.analyzed == 3 and summary.batch["answered"] == 2 and summary.batch["online"] == 1
    assert next(iter(summary.batch["errors"].values())).startswith("batch error")
    assert sorted(r[1] for r in _rows(conn, slug).values()) == ["batch", "batch", "online"]


def test_an_invalid_key_stops_the_run_before_anything_is_spent(
    emulators: Emulators, conn: psycopg.Connection
) -> None:
    slug = _tenant(conn)
    with pytest.raises(AnalysisStopped) as stopped:
        _run(conn, slug, emulators, key="bad-key-0000")
    assert stopped.value.kind == "invalid_key" and stopped.value.summary.analyzed == 0
