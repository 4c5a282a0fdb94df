"""The Gemini emulator driven by the real google-genai client, one test per documented quirk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Literal

import httpx
import pytest
from google import genai
from google.genai import errors, types
from pydantic import BaseModel, Field

from sandbox.gemini import GeminiStore, store
from sandbox.server import SandboxServer

GOOD = """Оцени диалог.
[29.11 10:14] клиент: Здравствуйте, сколько стоит установка?
[29.11 10:20] менеджер: Добрый день! Какая у вас площадь и когда нужно?
[29.11 10:22] клиент: 40 метров, до пятницы
[29.11 10:25] менеджер: Поняли. Установка стоит 12 000 руб. Удобно ли начать в среду?
[29.11 10:30] клиент: Дороговато, у конкурентов дешевле
[29.11 10:33] менеджер: Понимаю. Могу предложить скидку 10% и рассрочку.
[29.11 10:40] клиент: Хорошо, подходит
[29.11 10:42] менеджер: Отлично, договорились: отправлю счёт сегодня, созвонимся завтра в 11.
"""
BAD = """Оцени диалог.
[29.11 10:14] клиент: Сколько стоит установка?
[29.11 15:20] менеджер: 12000
[29.11 15:25] клиент: Дорого. Подумаю
[29.11 18:31] менеджер: не знаю, сами смотрите
[29.11 18:40] клиент: А доставка есть?
"""


class Criterion(BaseModel):
    name: Literal[
        "greeting", "response_speed", "questions_answered", "objection_handling", "next_step", "tone"
    ]
    score: int = Field(ge=0, le=10)
    evidence: str
    reason: str


class Verdict(BaseModel):
    overall_score: int = Field(ge=0, le=100)
    criteria: list[Criterion]
    sentiment: Literal["positive", "neutral", "negative"]
    next_step: str | None = None
    risk_flags: list[str]
    objections: list[str]
    summary: str
    recommendation: str


@pytest.fixture
def gemini(sandbox: SandboxServer, sandbox_faults) -> Iterator[SandboxServer]:
    """The sandbox with a fresh Gemini store (queued errors, key states, date) for each test."""
    sandbox.state.service_data["gemini"] = GeminiStore()
    yield sandbox
    sandbox.state.service_data["gemini"] = GeminiStore()


_CLIENTS: dict[tuple[str, str, str], genai.Client] = {}


def client(sb: SandboxServer, key: str | None = None, version: str = "v1beta") -> genai.Client:
    """A cached client: a temporary genai.Client closes its HTTP client when garbage-collected mid-call."""
    api_key = key or sb.info()["gemini"]["api_key"]
    cache_key = (sb.urls.gemini, api_key, version)
    if cache_key not in _CLIENTS:
        _CLIENTS[cache_key] = genai.Client(
            api_key=api_key, http_options=types.HttpOptions(base_url=sb.urls.gemini, api_version=version)
        )
    return _CLIENTS[cache_key]


def verdict(sb: SandboxServer, dialog: str, model: str = "gemini-3.8-flash") -> types.GenerateContentResponse:
    return client(sb).models.generate_content(
        model=model,
        contents=dialog,
        config=types.GenerateContentConfig(response_mime_type="application/json", response_schema=Verdict),
    )


def test_info_base_url_keeps_path_prefix(gemini: SandboxServer) -> None:
    assert gemini.info()["gemini"]["base_url"] == gemini.urls.gemini
    verdict(gemini, GOOD)
    paths = [r["path"] for r in store(gemini.state).requests]
    assert paths == ["/gemini/v1beta/models/gemini-3.8-flash:generateContent"]


def test_structured_output_validates_and_follows_the_dialog(gemini: SandboxServer) -> None:
    good = verdict(gemini, GOOD).parsed
    bad = verdict(gemini, BAD).parsed
    assert isinstance(good, Verdict) and isinstance(bad, Verdict)
    # Predictable by the documented rules: the good dialog is flawless, the bad one scores 20.
    assert good.overall_score == 100
    assert bad.overall_score == 20
    assert good.sentiment == "positive" and bad.sentiment == "negative"
    assert "договорились" in (good.next_step or "") and bad.next_step is None
    assert "unanswered_question" in bad.risk_flags and "rude_tone" in bad.risk_flags
    assert bad.objections == ["Дорого. Подумаю"]
    scores = {c.name: c.score for c in bad.criteria}
    assert scores == {
        "greeting": 3,
        "response_speed": 3,
        "questions_answered": 0,
        "objection_handling": 0,
        "next_step": 2,
        "tone": 5,
    }
    lines = {line.strip() for line in BAD.splitlines()}
    assert all(c.evidence in lines for c in bad.criteria)


def test_response_json_schema_is_honoured(gemini: SandboxServer) -> None:
    response = client(gemini).models.generate_content(
        model="gemini-3.8-flash",
        contents=BAD,
        config=types.GenerateContentConfig(
            response_mime_type="application/json", response_json_schema=Verdict.model_json_schema()
        ),
    )
    parsed = Verdict.model_validate_json(response.text)
    assert parsed.overall_score == 20


def test_usage_metadata_counts_prompt_chars_over_four_and_thoughts(gemini: SandboxServer) -> None:
    response = client(gemini).models.generate_content(
        model="gemini-3.8-flash",
        contents="x" * 400,
        config=types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_level="LOW")),
    )
    usage = response.usage_metadata
    assert usage.prompt_token_count == 100
    assert usage.thoughts_token_count == 48
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count + 48
    minimal = client(gemini).models.generate_content(
        model="gemini-3.8-flash",
        contents="hi",
        config=types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_level="MINIMAL")),
    )
    assert not minimal.usage_metadata.thoughts_token_count


def test_max_tokens_truncates_json_and_thoughts_use_the_budget(gemini: SandboxServer) -> None:
    response = client(gemini).models.generate_content(
        model="gemini-3.8-flash",
        contents=GOOD,
        config=types.GenerateContentConfig(
            response_mime_type="application/json",
            response_schema=Verdict,
            max_output_tokens=250,
            thinking_config=types.ThinkingConfig(thinking_level="MEDIUM"),
        ),
    )
    assert response.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert response.usage_metadata.thoughts_token_count == 192
    with pytest.raises(ValueError):
        json.loads(response.text)
    starved = client(gemini).models.generate_content(
        model="gemini-3.8-flash",
        contents=GOOD,
        config=types.GenerateContentConfig(
            max_output_tokens=100, thinking_config=types.ThinkingConfig(thinking_level="HIGH")
        ),
    )
    assert starved.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert starved.text is None


def test_count_tokens(gemini: SandboxServer) -> None:
    result = client(gemini).models.count_tokens(model="gemini-3.8-flash", contents="a" * 81)
    assert result.total_tokens == 21


def test_bad_key_is_400_api_key_invalid(gemini: SandboxServer) -> None:
    with pytest.raises(errors.ClientError) as caught:
        client(gemini, key="not-a-key").models.generate_content(model="gemini-3.8-flash", contents="hi")
    assert caught.value.code == 400
    assert caught.value.status == "INVALID_ARGUMENT"
    reasons = [d.get("reason") for d in caught.value.details["error"]["details"]]
    assert "API_KEY_INVALID" in reasons


def test_missing_key_is_403_and_query_key_works(gemini: SandboxServer) -> None:
    url = f"{gemini.urls.gemini}/v1beta/models/gemini-3.8-flash:countTokens"
    body = {"contents": [{"role": "user", "parts": [{"text": "abcd"}]}]}
    missing = httpx.post(url, json=body)
    assert missing.status_code == 403
    assert missing.json()["error"]["status"] == "PERMISSION_DENIED"
    with_query = httpx.post(url, params={"key": gemini.info()["gemini"]["api_key"]}, json=body)
    assert with_query.status_code == 200 and with_query.json()["totalTokens"] == 1


def test_denied_and_depleted_keys(gemini: SandboxServer) -> None:
    for key, code in (("denied-key-0001", 403), ("depleted-key-0002", 402)):
        state = "denied" if code == 403 else "depleted"
        httpx.post(f"{gemini.urls.control}/gemini/keys", json={"key": key, "state": state}).raise_for_status()
        with pytest.raises(errors.ClientError) as caught:
            client(gemini, key=key).models.generate_content(model="gemini-3.8-flash", contents="hi")
        assert caught.value.code == code


def test_429_carries_retry_info_and_quota_id(gemini: SandboxServer) -> None:
    control = f"{gemini.urls.control}/gemini/errors"
    httpx.post(control, json={"code": 429, "retry_delay_s": 7}).raise_for_status()
    httpx.post(control, json={"code": 429, "quota": "day"}).raise_for_status()
    seen = []
    for _ in range(2):
        with pytest.raises(errors.ClientError) as caught:
            client(gemini).models.generate_content(model="gemini-3.8-flash", contents="hi")
        assert caught.value.code == 429 and caught.value.status == "RESOURCE_EXHAUSTED"
        seen.append({d["@type"].rsplit(".", 1)[-1]: d for d in caught.value.details["error"]["details"]})
    assert seen[0]["RetryInfo"]["retryDelay"] == "7s"
    assert "PerMinute" in seen[0]["QuotaFailure"]["violations"][0]["quotaId"]
    assert "PerDay" in seen[1]["QuotaFailure"]["violations"][0]["quotaId"]
    assert client(gemini).models.generate_content(model="gemini-3.8-flash", contents="hi").text


def test_fault_burst_429_uses_google_shape(gemini: SandboxServer, sandbox_faults) -> None:
    sandbox_faults.set_faults("gemini", burst_429=1)
    with pytest.raises(errors.ClientError) as caught:
        client(gemini).models.generate_content(model="gemini-3.8-flash", contents="hi")
    details = caught.value.details["error"]["details"]
    assert any(d.get("retryDelay") == "1s" for d in details)


def test_503_unavailable_is_a_server_error(gemini: SandboxServer) -> None:
    httpx.post(f"{gemini.urls.control}/gemini/errors", json={"code": 503}).raise_for_status()
    with pytest.raises(errors.ServerError) as caught:
        client(gemini).models.generate_content(model="gemini-3.8-flash", contents="hi")
    assert caught.value.code == 503 and caught.value.status == "UNAVAILABLE"


def test_shut_down_model_is_404(gemini: SandboxServer) -> None:
    with pytest.raises(errors.ClientError) as caught:
        client(gemini).models.generate_content(model="gemini-2.0-flash", contents="hi")
    assert caught.value.code == 404 and caught.value.status == "NOT_FOUND"


def test_preview_and_latest_exist_only_on_v1beta(gemini: SandboxServer) -> None:
    assert client(gemini, version="v1").models.generate_content(model="gemini-3.8-flash", contents="hi").text
    for model in ("gemini-3.1-pro-preview", "gemini-flash-latest"):
        with pytest.raises(errors.ClientError) as caught:
            client(gemini, version="v1").models.generate_content(model=model, contents="hi")
        assert caught.value.code == 404
    latest = client(gemini).models.generate_content(model="gemini-flash-latest", contents="hi")
    assert latest.model_version == "gemini-3.8-flash"


def test_retired_2_5_flash_is_routed_from_december(gemini: SandboxServer) -> None:
    today = f"{gemini.urls.control}/gemini/today"
    httpx.post(today, json={"today": "2026-11-30"}).raise_for_status()
    before = client(gemini).models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert before.model_version == "gemini-2.5-flash"
    httpx.post(today, json={"today": "2026-12-01"}).raise_for_status()
    after = client(gemini).models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert after.model_version == "gemini-3.5-flash-lite"


def test_thinking_level_is_rejected_by_2_5_models(gemini: SandboxServer) -> None:
    with pytest.raises(errors.ClientError) as caught:
        client(gemini).models.generate_content(
            model="gemini-2.5-flash-lite",
            contents="hi",
            config=types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_level="LOW")),
        )
    assert caught.value.code == 400


def test_list_models_pages_and_shows_methods(gemini: SandboxServer) -> None:
    first = httpx.get(
        f"{gemini.urls.gemini}/v1beta/models",
        params={"pageSize": 4},
        headers={"x-goog-api-key": gemini.info()["gemini"]["api_key"]},
    ).json()
    assert len(first["models"]) == 4 and first["nextPageToken"]
    models = {m.name: m for m in client(gemini).models.list(config={"page_size": 4})}
    assert "models/gemini-2.5-flash" in models  # retired but still listed
    assert "models/gemini-2.0-flash" not in models  # shut down
    assert "generateContent" in models["models/gemini-3.8-flash"].supported_actions
    assert "generateContent" not in models["models/gemini-embedding-001"].supported_actions
    assert len(models) > 4


def test_request_bodies_are_logged_with_masked_key(gemini: SandboxServer) -> None:
    verdict(gemini, "[29.11 10:14] клиент: мой номер [телефон]")
    logged = httpx.get(f"{gemini.urls.control}/gemini/requests").json()["requests"]
    assert logged[-1]["body"]["contents"][0]["parts"][0]["text"].endswith("[телефон]")
    key = gemini.info()["gemini"]["api_key"]
    assert logged[-1]["api_key"] == "••••" + key[-4:]
    assert key not in json.dumps(logged)
