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
    # the same wait counted only within the tenant's working hours (None when not computed)
    median_first_response_working_seconds: float | None = None
    left_waiting: int = 0


class Quality(BaseModel):
    analyzed: int = 0
    failed: int = 0
    not_analyzed: int = 0
    average: float | None = None
    minimum: int | None = None
    maximum: int | None = None
    stddev: float | None = None
    # Human corrections (synkro.analysis.corrections): scores above already use the human values.
    corrected_verdicts: int = 0
    corrected_dialogs: int = 0
    disputed_verdicts: int = 0


class ManagerRow(BaseModel):
    manager_name: str
    dialogs: int
    median_first_response_seconds: float | None
    left_waiting: int
    average_score: float | None
    median_first_response_working_seconds: float | None = None


class ManagerVsUsual(BaseModel):
    """A manager today against their own usual day: the medians, over the days with dialogs in
    the 4 weeks before, of their daily dialogs, median first response and average score
    (`synkro.trends.four_week_medians`). Only managers with such days get one."""

    manager_name: str
    dialogs: int
    usual_dialogs: float | None
    first_response_seconds: float | None
    usual_first_response_seconds: float | None
    score: float | None
    usual_score: float | None
    history_days: int


class DialogHighlight(BaseModel):
    dialog_id: str
    manager_name: str
    score: int | None
    ai_score: int | None = None  # the AI's overall when humans corrected the score
    risk_flags: list[str] = Field(default_factory=list)
    evidence: str = ""
    summary: str = ""
    recommendation: str = ""
    lead_id: int | None = None
    lead_url: str | None = None


class SourceFreshness(BaseModel):
    source: str
    last_load_at: datetime | None
    last_data_at: datetime | None
    stale: bool


class Unlinked(BaseModel):
    """Dialogs of the window whose messages count but that no deal (lead) was linked to: the
    chat's phone is no contact's number (`no_contact`, a CRM fix for the owner) or the contact
    has no lead (`no_lead`)."""

    dialogs: int = 0
    no_contact: int = 0
    no_lead: int = 0


class AISpend(BaseModel):
    cost_usd: float = 0.0
    input_tokens: int = 0  # includes cached_tokens
    output_tokens: int = 0
    thinking_tokens: int = 0
    cached_tokens: int = 0  # input served from Gemini's cache (billed at the cached rate)
    batch_dialogs: int = 0  # scored through the Batch API (half price)
    unpriced_dialogs: int = 0  # scored by a model the pricing table does not know: cost unknown
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
    against_usual: list[ManagerVsUsual] = Field(default_factory=list)
    riskiest: list[DialogHighlight] = Field(default_factory=list)
    best: DialogHighlight | None = None
    ai_spend: AISpend = Field(default_factory=AISpend)
    freshness: list[SourceFreshness] = Field(default_factory=list)
    unlinked: Unlinked = Field(default_factory=Unlinked)
    analysis_available: bool = True
    # the calendar response times were counted in, e.g. "пн–пт 09:00–18:00"; None = raw times only
    working_hours: str | None = None
    problems: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
