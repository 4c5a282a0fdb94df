"""Runtime settings per tenant: how and when its report is produced.

Stored as one validated JSON document: only values that differ from the defaults are written, so
improving a default later reaches every tenant that never overrode it. Times are wall-clock
`HH:MM` in the tenant's timezone (the tenant row holds the timezone).
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from synkro.controlplane.errors import BadInputError
from synkro.controlplane.rubrics import next_number, record_version, validated_rubric
from synkro.controlplane.tables import tenant_settings
from synkro.controlplane.tenants import validate_slug

if TYPE_CHECKING:
    from synkro.controlplane import ControlPlane

HHMM_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
WORKING_HOURS_RE = re.compile(r"^(([01]\d|2[0-3]):[0-5]\d)-(([01]\d|2[0-3]):[0-5]\d|24:00)$")
WEEKDAY_RANGE_RE = re.compile(r"^([1-7])(?:-([1-7]))?$")


class TenantSettings(BaseModel):
    """Defaults per the issue: business day ends 22:01, report runs 22:10, forced runs ≤3 days back."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    mode: Literal["amocrm_radist", "amocrm_only", "radist_only"] = Field(
        "amocrm_radist", description="Which sources are loaded"
    )
    day_boundary: str = Field("22:01", description="Business day ends at this local time")
    run_time: str = Field("22:10", description="Scheduled report run, local time")
    schedule_enabled: bool = Field(True, description="False: no scheduled runs; forced runs still work")
    min_dialogs: int = Field(
        1, ge=0, description="Fewer dialogs in the window: a short notice is sent instead of the report"
    )
    forced_lookback_days: int = Field(
        3, ge=1, le=31, description="A forced run may start at most this far back"
    )
    forced_max_window_hours: int = Field(24, ge=1, le=24 * 31, description="Longest window of a forced run")
    followup_window_minutes: int = Field(
        60,
        ge=1,
        le=24 * 60,
        description="A customer unanswered at the window's end is left waiting once this long has passed",
    )
    ai_max_dialogs: int = Field(300, ge=0, description="AI budget per run: dialogs scored")
    ai_max_tokens: int = Field(2_000_000, ge=0, description="AI budget per run: input+output tokens")
    ai_monthly_budget_usd: float | None = Field(
        None,
        ge=0,
        description="AI spend cap per calendar month in USD (analysis and bot); none = no cap",
    )
    ai_escalation_model: str | None = Field(
        None,
        description="Stronger Gemini model that re-scores the dialogs where it pays (off when unset)",
    )
    ai_escalation_min_price: float | None = Field(
        None, ge=0, description="Open deals priced at least this much are re-scored by the stronger model"
    )
    ai_escalation_min_confidence: int = Field(
        60, ge=0, le=100, description="A first verdict the model is less sure of than this is re-scored"
    )
    ai_batch: Literal["auto", "never", "always"] = Field(
        "auto",
        description="Gemini Batch API at half price: auto = scheduled runs only (forced runs stay online)",
    )
    ai_batch_max_wait_minutes: int = Field(
        90,
        ge=1,
        le=24 * 60,
        description="How long a run waits for its Gemini batch before scoring the rest online",
    )
    phone_region: str = Field("RU", description="Default region for numbers without a country code")
    language: str = Field("ru", description="Language of transcripts and of the LLM's verdict texts")
    gemini_rpm: int = Field(10, ge=1, le=10_000, description="Requests per minute to Gemini for this tenant")
    rubric: dict[str, Any] | None = Field(None, description="Custom scoring rubric; None = built-in template")
    rubric_version: int = Field(
        0, ge=0, description="Bumped on every rubric change (each score stores the rubric's content hash)"
    )
    mask_pii: bool = Field(True, description="Mask phones, emails, cards before text goes to the LLM")
    context_messages: int = Field(
        5, ge=0, le=50, description="Earlier messages of a dialog shown to the LLM before the window's own"
    )
    risky_dialogs_limit: int = Field(
        5, ge=0, le=50, description="At most this many riskiest dialogs in the report"
    )
    stale_after_hours: int = Field(
        26, ge=1, le=24 * 14, description="A source not loaded for longer is flagged stale in the report"
    )
    working_hours: str = Field(
        "09:00-18:00",
        description="Working hours HH:MM-HH:MM (end may be 24:00); response times also count within them",
    )
    working_days: str = Field(
        "1,2,3,4,5",
        description="ISO weekdays (1 = Monday … 7 = Sunday) with working hours, e.g. 1-5 or 1,2,3,4,5,6",
    )
    holidays: str = Field(
        "", description="Comma-separated YYYY-MM-DD dates without working hours (public holidays)"
    )

    @field_validator("day_boundary", "run_time")
    @classmethod
    def _check_time(cls, value: str) -> str:
        if not HHMM_RE.match(value):
            raise ValueError("must be a 24-hour local time HH:MM, e.g. 22:01")
        return value

    @field_validator("phone_region")
    @classmethod
    def _check_region(cls, value: str) -> str:
        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("must be an ISO 3166 region code known to phonenumbers, e.g. RU or KZ")
        return region

    @field_validator("language")
    @classmethod
    def _check_language(cls, value: str) -> str:
        if not re.match(r"^[a-z]{2}$", value):
            raise ValueError("must be a two-letter language code such as ru or en")
        return value

    @field_validator("working_hours")
    @classmethod
    def _check_working_hours(cls, value: str) -> str:
        match = WORKING_HOURS_RE.match(value.strip().replace(" ", ""))
        if not match:
            raise ValueError("must be local working hours HH:MM-HH:MM, e.g. 09:00-18:00 (end may be 24:00)")
        start, end = match.group(1), match.group(3)
        if end <= start:
            raise ValueError("the end must be later than the start on the same day, e.g. 09:00-18:00")
        return f"{start}-{end}"

    @field_validator("working_days")
    @classmethod
    def _check_working_days(cls, value: str) -> str:
        days: set[int] = set()
        for part in value.replace(" ", "").split(","):
            match = WEEKDAY_RANGE_RE.match(part)
            if not match:
                raise ValueError(
                    "must be ISO weekdays 1 (Monday) … 7 (Sunday), comma-separated or as a range: 1-5"
                )
            first, last = int(match.group(1)), int(match.group(2) or match.group(1))
            if last < first:
                raise ValueError(f"the range {part} runs backwards; write it as {last}-{first}")
            days.update(range(first, last + 1))
        return ",".join(str(d) for d in sorted(days))

    @field_validator("holidays")
    @classmethod
    def _check_holidays(cls, value: str) -> str:
        days: set[date] = set()
        for part in filter(None, (p.strip() for p in value.replace(";", ",").split(","))):
            try:
                days.add(date.fromisoformat(part))
            except ValueError:
                raise ValueError(f"{part!r} is not a date YYYY-MM-DD, e.g. 2026-01-01") from None
        return ",".join(d.isoformat() for d in sorted(days))

    def overrides(self) -> dict[str, Any]:
        """Only the values that differ from the defaults: what gets stored."""
        defaults = TenantSettings().model_dump(mode="json")
        return {k: v for k, v in self.model_dump(mode="json").items() if defaults.get(k) != v}


def settings_problems(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        field = ".".join(str(p) for p in item["loc"]) or "(settings)"
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = f"unknown setting (known: {', '.join(TenantSettings.model_fields)})"
        parts.append(f"{field}: {message}")
    return "invalid settings: " + "; ".join(parts)


class SettingsRepository:
    def __init__(self, cp: ControlPlane):
        self._cp = cp

    def get_settings(self, slug: str) -> TenantSettings:
        validate_slug(slug)
        with self._cp.engine.connect() as conn:
            tenant_id = self._cp.tenants.id_of(conn, slug)
            stored = conn.execute(
                select(tenant_settings.c.settings).where(tenant_settings.c.tenant_id == tenant_id)
            ).scalar()
        return TenantSettings.model_validate(stored or {})

    def update_settings(self, slug: str, actor: str | None = None, **changes: Any) -> TenantSettings:
        """Validate and save changes; a changed `rubric` is validated, bumps `rubric_version` and is
        recorded as that numbered version (``synkro.controlplane.rubrics``) in the same transaction."""
        validate_slug(slug)
        if not changes:
            return self.get_settings(slug)
        if "rubric_version" in changes:
            raise BadInputError("rubric_version: set automatically when the rubric changes")
        with self._cp.engine.begin() as conn:
            tenant_id = self._cp.tenants.id_of(conn, slug)
            stored = conn.execute(
                select(tenant_settings.c.settings)
                .where(tenant_settings.c.tenant_id == tenant_id)
                .with_for_update()
            ).scalar()
            current = TenantSettings.model_validate(stored or {})
            data = current.model_dump(mode="json") | changes
            new_rubric = None
            if "rubric" in changes:
                new_rubric = validated_rubric(changes["rubric"])
                data["rubric"] = None if changes["rubric"] is None else new_rubric.model_dump(mode="json")
                if data["rubric"] == current.rubric:
                    new_rubric = None  # the same rubric again: no new version
                else:
                    data["rubric_version"] = next_number(conn, tenant_id, current.rubric_version)
            try:
                new = TenantSettings.model_validate(data)
            except ValidationError as exc:
                raise BadInputError(settings_problems(exc)) from None
            if new_rubric is not None:
                record_version(conn, tenant_id, new.rubric_version, new_rubric, actor)
            conn.execute(
                pg_insert(tenant_settings)
                .values(tenant_id=tenant_id, settings=new.overrides())
                .on_conflict_do_update(
                    index_elements=[tenant_settings.c.tenant_id],
                    set_={
                        "settings": new.overrides(),
                        "version": tenant_settings.c.version + 1,
                        "updated_at": func.now(),
                    },
                )
            )
            shown = {k: ("<rubric>" if k == "rubric" else v) for k, v in changes.items()}
            self._cp.audit.record(actor, "settings.update", slug, {"changes": shown}, conn=conn)
        return new
