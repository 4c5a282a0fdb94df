"""The report as data: what the owner reads, independent of how it is rendered.

Why a model: the same report is rendered to Telegram HTML, a full HTML document and plain text,
stored in the control plane (`reports.body`) and compared with SQL in tests.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ReportWindow(BaseModel):
    """The business day (or forced range) a report covers; ``start``/``end`` are UTC instants."""

    start: datetime
    end: datetime
    timezone: str = "Europe/Moscow"
    label: str = ""


class Headline(BaseModel):
    dialogs: int = 0
    new_leads: int | None = None
    messages_in: int = 0
    messages_out: int = 0
    median_first_response_seconds: float | None = None
    left_waiting: int = 0


class Quality(BaseModel):
    analyzed: int = 0
    failed: int = 0
    not_analyzed: int = 0
    average: float | None = None
    minimum: int | None = None
    maximum: int | None = None
    stddev: float | None = None


class ManagerRow(BaseModel):
    manager_name: str
    dialogs: int
    median_first_response_seconds: float | None
    left_waiting: int
    average_score: float | None


class DialogHighlight(BaseModel):
    dialog_id: str
    manager_name: str
    score: int | None
    risk_flags: list[str] = Field(default_factory=list)
    evidence: str = ""
    summary: str = ""
    recommendation: str = ""
    lead_id: int | None = None
    lead_url: str | None = None
    dialog_url: str | None = None  # the portal's dialog page (synkro.links.dialog_url)


class SourceFreshness(BaseModel):
    source: str
    last_load_at: datetime | None
    last_data_at: datetime | None
    stale: bool


class AISpend(BaseModel):
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0
    model: str | None = None


class Report(BaseModel):
    tenant_slug: str
    window: ReportWindow
    generated_at: datetime
    kind: str = "full"  # full | notice
    language: str = "ru"
    headline: Headline = Field(default_factory=Headline)
    quality: Quality = Field(default_factory=Quality)
    managers: list[ManagerRow] = Field(default_factory=list)
    riskiest: list[DialogHighlight] = Field(default_factory=list)
    best: DialogHighlight | None = None
    ai_spend: AISpend = Field(default_factory=AISpend)
    freshness: list[SourceFreshness] = Field(default_factory=list)
    analysis_available: bool = True
    problems: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
