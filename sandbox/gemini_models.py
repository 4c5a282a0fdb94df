"""The Gemini model catalogue the emulator serves, with the lifecycle quirks of the real lineup.

Per ../shared/docs/apis/gemini.md §2 (late 2026): Gemini 3.x Flash models are current; the
``-latest`` aliases and ``-preview`` models exist only on ``v1beta``; ``gemini-3.5-flash`` is
deprecated and forwarded to 3.6 Flash; ``gemini-2.5-flash``/``-pro`` are retired on 2026-12-01 and from
then on routed to other models; ``gemini-2.0-flash(-lite)`` were shut down on 2026-06-01 and answer 404.
Listing shows the served models (retired-but-routed ones included, shut-down ones not) plus
non-text variants (TTS, embeddings) that a model picker must filter out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

GENERATE_METHODS = ("generateContent", "countTokens", "createCachedContent", "batchGenerateContent")


@dataclass(frozen=True)
class GeminiModel:
    """One model ID and how the API treats it today."""

    model_id: str
    display_name: str
    version: str
    description: str
    input_limit: int = 1_048_576
    output_limit: int = 65_536
    methods: tuple[str, ...] = GENERATE_METHODS
    thinking: bool = True
    # Default thought tokens when the request sets no thinking config (MINIMAL=0 … HIGH).
    default_thinking_level: str = "MEDIUM"
    # Gemini 2.5 models take thinkingBudget; thinkingLevel is a Gemini 3 setting.
    accepts_thinking_level: bool = True
    v1beta_only: bool = False
    # Requests are answered by this model (modelVersion shows it) from `routed_from` on.
    routed_to: str | None = None
    routed_from: date | None = None
    shut_down_on: date | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def is_shut_down(self, today: date) -> bool:
        return self.shut_down_on is not None and today >= self.shut_down_on

    def serving_model(self, today: date) -> str:
        """The model ID that really answers (``modelVersion`` in responses)."""
        if self.routed_to and (self.routed_from is None or today >= self.routed_from):
            return self.routed_to
        return self.model_id

    def resource(self) -> dict[str, Any]:
        """The REST ``Model`` resource, as ``models.list``/``models.get`` return it."""
        body: dict[str, Any] = {
            "name": f"models/{self.model_id}",
            "version": self.version,
            "displayName": self.display_name,
            "description": self.description,
            "inputTokenLimit": self.input_limit,
            "outputTokenLimit": self.output_limit,
            "supportedGenerationMethods": list(self.methods),
        }
        if "generateContent" in self.methods:
            body.update({"temperature": 1.0, "topP": 0.95, "topK": 64, "maxTemperature": 2.0})
        if self.thinking:
            body["thinking"] = True
        return body


def _flash(model_id: str, version: str, name: str, **kw: Any) -> GeminiModel:
    return GeminiModel(
        model_id, name, version, kw.pop("description", f"{name}: fast multimodal model."), **kw
    )


CATALOGUE: tuple[GeminiModel, ...] = (
    _flash("gemini-3.8-flash", "3.8", "Gemini 3.8 Flash", description="Newest Flash model (2026-09-02)."),
    _flash("gemini-3.7-flash", "3.7", "Gemini 3.7 Flash"),
    _flash(
        "gemini-3.6-flash", "3.6", "Gemini 3.6 Flash", description="Previous-generation Flash (2026-07-21)."
    ),
    _flash(
        "gemini-3.5-flash",
        "3.5",
        "Gemini 3.5 Flash",
        description="Deprecated: requests are forwarded to Gemini 3.6 Flash.",
        routed_to="gemini-3.6-flash",
    ),
    _flash("gemini-3.5-flash-lite", "3.5", "Gemini 3.5 Flash-Lite", default_thinking_level="MINIMAL"),
    _flash("gemini-3.1-flash-lite", "3.1", "Gemini 3.1 Flash-Lite", default_thinking_level="MINIMAL"),
    _flash(
        "gemini-3.1-pro-preview",
        "3.1",
        "Gemini 3.1 Pro Preview",
        default_thinking_level="HIGH",
        v1beta_only=True,
    ),
    _flash("gemini-3-flash-preview", "3.0", "Gemini 3 Flash Preview", v1beta_only=True),
    _flash(
        "gemini-flash-latest",
        "3.8",
        "Gemini Flash Latest",
        description="Alias that points to the newest Flash model.",
        v1beta_only=True,
        routed_to="gemini-3.8-flash",
    ),
    _flash(
        "gemini-flash-lite-latest",
        "3.5",
        "Gemini Flash-Lite Latest",
        description="Alias that points to the newest Flash-Lite model.",
        v1beta_only=True,
        routed_to="gemini-3.5-flash-lite",
        default_thinking_level="MINIMAL",
    ),
    _flash(
        "gemini-2.5-flash-lite",
        "2.5",
        "Gemini 2.5 Flash-Lite",
        description="Legacy, available until further notice.",
        accepts_thinking_level=False,
        default_thinking_level="MINIMAL",
    ),
    _flash(
        "gemini-2.5-flash",
        "2.5",
        "Gemini 2.5 Flash",
        description="Retired on 2026-12-01; requests are routed to gemini-3.5-flash-lite.",
        accepts_thinking_level=False,
        routed_to="gemini-3.5-flash-lite",
        routed_from=date(2026, 12, 1),
    ),
    _flash(
        "gemini-2.5-pro",
        "2.5",
        "Gemini 2.5 Pro",
        description="Retired on 2026-12-01; requests are routed to gemini-3.8-flash.",
        accepts_thinking_level=False,
        default_thinking_level="HIGH",
        routed_to="gemini-3.8-flash",
        routed_from=date(2026, 12, 1),
    ),
    _flash("gemini-2.0-flash", "2.0", "Gemini 2.0 Flash", shut_down_on=date(2026, 6, 1), thinking=False),
    _flash(
        "gemini-2.0-flash-lite", "2.0", "Gemini 2.0 Flash-Lite", shut_down_on=date(2026, 6, 1), thinking=False
    ),
    GeminiModel(
        "gemini-3.8-flash-preview-tts",
        "Gemini 3.8 Flash Preview TTS",
        "3.8",
        "Text-to-speech variant (audio output only).",
        output_limit=16_384,
        methods=("generateContent", "countTokens"),
        thinking=False,
    ),
    GeminiModel(
        "gemini-embedding-001",
        "Gemini Embedding 001",
        "001",
        "Text embeddings.",
        input_limit=2048,
        output_limit=1,
        methods=("embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"),
        thinking=False,
    ),
)

BY_ID: dict[str, GeminiModel] = {m.model_id: m for m in CATALOGUE}


def today_utc() -> date:
    return datetime.now(UTC).date()


def find_model(model_id: str, api_version: str, today: date) -> GeminiModel | None:
    """The model as the API sees it, or None when it answers 404 (unknown, shut down, wrong version)."""
    model = BY_ID.get(model_id.removeprefix("models/"))
    if model is None or model.is_shut_down(today):
        return None
    if model.v1beta_only and api_version != "v1beta":
        return None
    return model


def listed_models(api_version: str, today: date) -> list[GeminiModel]:
    """What ``GET /{version}/models`` shows: everything served on that version, in catalogue order."""
    return [m for m in CATALOGUE if find_model(m.model_id, api_version, today) is not None]
