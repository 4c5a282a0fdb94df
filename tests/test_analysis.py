"""Analysis: PII masking, transcripts, rubric, and analyze_window against the Gemini emulator + Postgres."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from synkro.analysis.gemini import GeminiSettings, list_models
from synkro.analysis.pii import mask_pii
from synkro.analysis.rubric import DEFAULT_RUBRIC, Criterion, Rubric
from synkro.analysis.run import AnalysisStopped, analyze_window
from synkro.analysis.transcript import Message, build_transcript
from synkro.controlplane.settings import TenantSettings
from tests.analysis_emulators import Emulators, running_emulators
from tests.analysis_marts import Dialog, create_marts

KEY = "sandbox-gemini-api-key"
MODEL = "gemini-3.5-flash-lite"
START = datetime(2026, 11, 28, 19, 1, tzinfo=UTC)  # 22:01 Moscow: the business-day boundary
END = START + timedelta(days=1)
TZ = "Europe/Moscow"
PHONE_RE = re.compile(r"\d[\d\s\-()]{8,}\d")
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


# -- pure parts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "+7 (999) 123-45-67",
        "8 999 123 45 67",
        "89991234567",
        "+79991234567",
        "(495) 123-45-67",
        "+44 20 7946 0958",
        "+7-999-123-45-67",
    ],
)
def test_phones_in_any_format_are_masked(raw: str) -> None:
    masked = mask_pii(f"мой номер {raw}, звоните")
    assert masked == "мой номер [телефон], звоните"


def test_emails_and_luhn_cards_are_masked_but_prices_and_dates_are_not() -> None:
    text = "почта ivan.petrov+sales@mail.ru, карта 4111 1111 1111 1111, цена 150 000 руб 29.11.2026 в 10:14"
    assert mask_pii(text) == "почта [email], карта [карта], цена 150 000 руб 29.11.2026 в 10:14"


def test_transcript_uses_local_time_marks_context_and_files() -> None:
    msgs = [
        Message(START - timedelta(hours=2), "inbound", "раньше: мой телефон 89991234567"),
        Message(START + timedelta(hours=12, minutes=13), "inbound", "Цена?", '[{"name": "кп.pdf"}]'),
        Message(START + timedelta(hours=12, minutes=20), "outbound", "Пишите на a@b.ru"),
    ]
    t = build_transcript(msgs, START, "Europe/Moscow", context_messages=3)
    lines = t.text.splitlines()
    assert lines[0].startswith("--- контекст")
    assert lines[1] == "[28.11 20:01] клиент: раньше: мой телефон [телефон]"
    assert lines[2].startswith("--- сообщения за период")
    assert lines[3] == "[29.11 10:14] клиент: Цена? [файл: кп.pdf]"
    assert lines[4] == "[29.11 10:21] менеджер: Пишите на [email]"
    assert t.hash == build_transcript(list(reversed(msgs)), START, "Europe/Moscow", context_messages=3).hash
    assert t.hash != build_transcript(msgs, START, "Asia/Yekaterinburg", context_messages=3).hash


def test_rubric_weights_must_sum_to_100_and_version_follows_content() -> None:
    assert sum(c.weight for c in DEFAULT_RUBRIC.criteria) == 100
    with pytest.raises(ValueError, match="sum to 100"):
        Rubric(criteria=[Criterion(key="a_b", title="A", weight=60, description="x")])
    changed = DEFAULT_RUBRIC.model_copy(deep=True)
    changed.criteria[0].description += " Улыбка в тексте."
    assert changed.version != DEFAULT_RUBRIC.version
    assert DEFAULT_RUBRIC.version == Rubric.model_validate(DEFAULT_RUBRIC.model_dump()).version


# -- against the emulator ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulators() -> Iterator[Emulators]:
    with running_emulators("gemini") as emu:
        yield emu


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url) as c:
        yield c


def _slug() -> str:
    return "t" + uuid.uuid4().hex[:8]


def _dialogs() -> list[Dialog]:
    at = START + timedelta(hours=13)
    return [
        Dialog(
            1,
            "Анна",
            501,
            [
                (START - timedelta(hours=3), "inbound", "Добрый день, мой номер +7 (912) 345-67-89"),
                (at, "inbound", "Здравствуйте! Сколько стоит доставка? Почта ivan@example.com"),
                (
                    at + timedelta(minutes=3),
                    "outbound",
                    "Здравствуйте, Иван! Доставка 500 руб. Когда удобно?",
                ),
                (at + timedelta(minutes=5), "inbound", "Завтра в 10"),
                (
                    at + timedelta(minutes=6),
                    "outbound",
                    "Отлично, записал на завтра 10:00, счёт пришлю сегодня.",
                ),
            ],
        ),
        Dialog(
            2,
            "Борис",
            502,
            [
                (at, "inbound", "Дорого, у конкурентов дешевле. Перезвоните 8 999 765 43 21"),
                (at + timedelta(hours=3), "outbound", "ну как хотите"),
                (at + timedelta(hours=4), "inbound", "Алло?"),
            ],
        ),
        Dialog(3, None, None, [(at, "inbound", "Есть в наличии?")]),
    ]


def _config(emu: Emulators, **extra: object) -> dict[str, object]:
    return {"api_key": KEY, "base_url": emu.gemini, "model": MODEL, "api_version": "v1beta", **extra}


def _analyze(
    conn: psycopg.Connection,
    slug: str,
    config: dict[str, object],
    settings: TenantSettings | None = None,
    **kwargs: object,
):
    """`analyze_window` over the test window in Moscow time, default settings unless given."""
    return analyze_window(conn, slug, START, END, settings or TenantSettings(), config, timezone=TZ, **kwargs)


def _requests(emu: Emulators) -> list[dict]:
    return httpx.get(f"{emu.control}/gemini/requests").json()["requests"]


def _clear(emu: Emulators) -> None:
    httpx.delete(f"{emu.control}/gemini/requests")


def _rows(conn: psycopg.Connection, slug: str) -> dict[str, tuple]:
    cur = conn.execute(
        f"select dialog_id, status, overall_score, risk_flags, error, input_tokens, cost_usd "
        f'from "{slug}_analysis".dialog_analyses'
    )
    return {r[0]: r[1:] for r in cur}


def test_list_models_comes_from_the_api(emulators: Emulators) -> None:
    names = [m.name for m in list_models(_config(emulators))]
    assert MODEL in names
    assert not any("embedding" in n or "tts" in n for n in names)


def test_analyze_window_masks_pii_writes_rows_and_skips_unchanged(
    emulators: Emulators, conn: psycopg.Connection
) -> None:
    slug = _slug()
    create_marts(conn, slug, _dialogs(), [])
    _clear(emulators)
    summary = _analyze(conn, slug, _config(emulators))
    assert (summary.dialogs_in_window, summary.analyzed, summary.failed) == (3, 3, 0)
    bodies = [str(r["body"]) for r in _requests(emulators) if r["method"] == "POST"]
    assert len(bodies) == 3
    for body in bodies:
        assert not PHONE_RE.search(body), body
        assert not EMAIL_RE.search(body), body
    rows = _rows(conn, slug)
    assert {k: v[0] for k, v in rows.items()} == {"1": "ok", "2": "ok", "3": "ok"}
    assert rows["1"][1] > rows["2"][1], "the rude, unanswered dialog must score lower"
    assert "price_objection_unresolved" in rows["2"][2] or "competitor_mentioned" in rows["2"][2]
    assert all(v[4] > 0 and v[5] is not None for v in rows.values())

    _clear(emulators)
    again = _analyze(conn, slug, _config(emulators))
    assert (again.unchanged, again.analyzed, again.gemini_calls) == (3, 0, 0)
    assert _requests(emulators) == []

    new_rubric = DEFAULT_RUBRIC.model_copy(deep=True)
    new_rubric.criteria[0].description += " И поблагодарил за обращение."
    rubric = TenantSettings(rubric=new_rubric.model_dump(mode="json"))
    third = _analyze(conn, slug, _config(emulators), rubric)
    assert third.analyzed == 3 and third.unchanged == 0


def test_context_messages_setting_reaches_the_transcript(
    emulators: Emulators, conn: psycopg.Connection
) -> None:
    """Dialog 1 has one message before the window: sent as context by default, not with 0."""
    earlier = "Добрый день, мой номер"

    def prompt(settings: TenantSettings) -> str:
        slug = _slug()
        create_marts(conn, slug, _dialogs()[:1], [])
        _clear(emulators)
        _analyze(conn, slug, _config(emulators), settings)
        (body,) = [str(r["body"]) for r in _requests(emulators) if r["method"] == "POST"]
        return body

    default = prompt(TenantSettings())
    assert earlier in default and "--- контекст" in default
    without = prompt(TenantSettings(context_messages=0))
    assert earlier not in without and "--- контекст" not in without


def test_rate_limit_429_waits_retry_delay_then_succeeds(
    emulators: Emulators, conn: psycopg.Connection
) -> None:
    slug = _slug()
    create_marts(conn, slug, _dialogs()[:1], [])
    httpx.post(f"{emulators.control}/gemini/errors", json={"code": 429, "count": 1, "retry_delay_s": 2})
    began = time.monotonic()
    summary = _analyze(conn, slug, _config(emulators))
    assert time.monotonic() - began >= 2.0
    assert summary.analyzed == 1 and summary.gemini_calls == 2


def test_daily_quota_stops_the_run(emulators: Emulators, conn: psycopg.Connection) -> None:
    slug = _slug()
    create_marts(conn, slug, _dialogs(), [])
    httpx.post(f"{emulators.control}/gemini/errors", json={"code": 429, "count": 1, "quota": "day"})
    with pytest.raises(AnalysisStopped, match="daily") as info:
        _analyze(conn, slug, _config(emulators, max_concurrency=1))
    assert info.value.kind == "daily_quota"
    # the run stopped after the first refusal: the other dialogs are reported as left out
    assert len(info.value.summary.left_out) == 3 - info.value.summary.analyzed


def test_invalid_key_stops_with_a_clear_error(emulators: Emulators, conn: psycopg.Connection) -> None:
    slug = _slug()
    create_marts(conn, slug, _dialogs(), [])
    with pytest.raises(AnalysisStopped, match="API key is invalid") as info:
        _analyze(conn, slug, _config(emulators, api_key="wrong-key-1234"))
    assert info.value.kind == "invalid_key"
    assert "wrong-key" not in str(info.value)
    assert _rows(conn, slug) == {}


def test_retired_model_404_is_a_clear_error(emulators: Emulators, conn: psycopg.Connection) -> None:
    slug = _slug()
    create_marts(conn, slug, _dialogs()[:1], [])
    with pytest.raises(AnalysisStopped, match=r"gemini-2\.0-flash.*not found") as info:
        _analyze(conn, slug, _config(emulators, model="gemini-2.0-flash"))
    assert info.value.kind == "model_not_found"


def test_truncated_answer_is_retried_once_then_marked_failed(
    emulators: Emulators, conn: psycopg.Connection
) -> None:
    slug = _slug()
    create_marts(conn, slug, _dialogs()[:1], [])
    _clear(emulators)
    summary = _analyze(conn, slug, _config(emulators, max_output_tokens=40))
    assert summary.failed == 1 and summary.analyzed == 0
    assert len([r for r in _requests(emulators) if r["method"] == "POST"]) == 2
    status, score, _, error, *_ = _rows(conn, slug)["1"]
    assert status == "failed" and score is None and "MAX_TOKENS" in error


def test_budget_limits_dialogs_and_reports_what_was_left_out(
    emulators: Emulators, conn: psycopg.Connection
) -> None:
    slug = _slug()
    create_marts(conn, slug, _dialogs(), [])
    _clear(emulators)
    summary = _analyze(conn, slug, _config(emulators), TenantSettings(ai_max_dialogs=1))
    assert summary.analyzed == 1 and len(summary.left_out) == 2
    assert all("max 1 dialogs" in why for why in summary.left_out.values())
    statuses = sorted(v[0] for v in _rows(conn, slug).values())
    assert statuses == ["ok", "skipped", "skipped"]

    tokens = _analyze(conn, _reuse(conn, slug), _config(emulators), TenantSettings(ai_max_tokens=10))
    assert tokens.analyzed == 0 and len(tokens.left_out) == 3


def _reuse(conn: psycopg.Connection, slug: str) -> str:
    other = _slug()
    create_marts(conn, other, _dialogs(), [])
    return other


def test_settings_repr_never_shows_the_key() -> None:
    s = GeminiSettings.from_config({"api_key": "AIzaSECRET123456", "model": MODEL})
    assert "SECRET" not in repr(s) and "SECRET" not in str(s.__dict__)


def test_concurrency_is_sized_so_the_rpm_not_latency_is_the_brake() -> None:
    """15 s per call at 120 RPM needs 30 calls in flight; an explicit setting wins; capped at 32."""
    from synkro.analysis.gemini import GeminiSettings

    def sized(**kw: object) -> int:
        return GeminiSettings.from_config({"api_key": "k", "model": "m", **kw}).effective_concurrency()

    assert (sized(rpm=120), sized(rpm=10), sized(rpm=2000), sized(rpm=120, max_concurrency=1)) == (
        30,
        3,
        32,
        1,
    )


@pytest.mark.timeout(90)
def test_more_dialogs_than_the_rpm_window_holds_do_not_hang(
    emulators: Emulators, conn: psycopg.Connection
) -> None:
    """Each call gives its rate-limit slot back when the answer arrives, so a run with more dialogs
    than one window's worth waits for the window instead of blocking forever."""
    from synkro.analysis.gemini import GeminiAnalyzer
    from synkro.clients.ratelimit import RateLimiter

    slug = _slug()
    create_marts(conn, slug, _dialogs(), [])
    analyzer = GeminiAnalyzer(GeminiSettings.from_config(_config(emulators), rpm=1))
    analyzer.limiter = RateLimiter(rate=1, period=0.2, margin=1.0)  # one call per 0.2 s window
    summary = _analyze(conn, slug, _config(emulators), analyzer=analyzer)
    assert (summary.analyzed, summary.failed) == (3, 0)
    assert analyzer.limiter.acquired == 3
