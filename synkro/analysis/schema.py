"""The structured answer Gemini must return for one dialog.

Why flat: Gemini's response_schema handles small flat objects reliably; nested unions and refs can
fail with a 400 that names no field. Every field here is a plain scalar, enum or a list of small
objects, and the whole model is validated again on our side.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class RiskFlag(StrEnum):
    """The fixed list of problems a report highlights (never free text, so they can be counted)."""

    customer_waiting = "customer_waiting"
    price_objection_unresolved = "price_objection_unresolved"
    no_next_step = "no_next_step"
    rude_or_careless_tone = "rude_or_careless_tone"
    competitor_mentioned = "competitor_mentioned"
    customer_lost_interest = "customer_lost_interest"


class Sentiment(StrEnum):
    positive = "positive"
    neutral = "neutral"
    negative = "negative"


class CriterionScore(BaseModel):
    key: str = Field(description="Ключ критерия из рубрики")
    score: int = Field(ge=0, le=100, description="Оценка 0–100")
    evidence: str = Field(description="Дословная цитата из переписки, подтверждающая оценку")
    reason: str = Field(description="Одна строка: почему такая оценка")
    not_applicable: bool = Field(
        False, description="true только если критерий допускает N/A и к этому диалогу неприменим"
    )


class Objection(BaseModel):
    text: str = Field(description="Возражение клиента своими словами")
    handled: bool = Field(description="Менеджер отработал возражение")


class DialogAnalysis(BaseModel):
    """Gemini's verdict on one dialog; stored column by column in dialog_analyses.

    ``overall_score`` is the model's own total: kept for audit (``model_overall_score``) and never
    used — the stored overall is computed by ``synkro.analysis.scoring`` from the criteria.
    """

    overall_score: int = Field(ge=0, le=100)
    criteria: list[CriterionScore]
    objections: list[Objection]
    next_step_agreed: bool
    next_step_what: str
    next_step_when: str
    risk_flags: list[RiskFlag]
    sentiment: Sentiment
    summary: str
    recommendation: str
    confidence: int = Field(ge=0, le=100, description="Насколько ты уверен в этой оценке, 0–100")
