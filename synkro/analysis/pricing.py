"""Gemini prices in one place: versioned, dated, with the model ids each row covers.

Why one table with dates: the cost per scored dialog is a figure we publish, and Google changes
prices on announced days (``gemini-3.8-flash`` doubles on 2027-01-01) and retires models by
routing them to others. A row answers "what did one million tokens of this model cost on this
day"; a model no row covers costs ``None`` and the report says "cost unknown" rather than guess.

Rates per 1M tokens, from ../shared/docs/apis/gemini.md §2 (the pricing page as of 2026-10-07).
Thinking tokens are billed as output. Cached input tokens (implicit caching, §5: they are part of
``prompt_token_count``) cost ``CACHED_INPUT_SHARE`` of the input rate — the pricing page's
context-caching rate for Gemini 2.5 and later models. The Batch API bills ``BATCH_SHARE`` of
every rate (§8). Bump ``PRICING_VERSION`` whenever a row changes; it is stored with each cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

PRICING_VERSION = "2026-12-01"
CACHED_INPUT_SHARE = 0.10
BATCH_SHARE = 0.50

Mode = Literal["online", "batch"]


@dataclass(frozen=True)
class ModelPrice:
    """USD per 1M tokens for the model ids starting with ``prefix``, valid in [valid_from, valid_until)."""

    prefix: str
    input: float
    output: float
    valid_from: date | None = None
    valid_until: date | None = None
    # Pro models bill long prompts at a higher rate (> long_context_tokens prompt tokens).
    long_context_tokens: int | None = None
    long_input: float | None = None
    long_output: float | None = None
    note: str = ""

    def covers(self, model: str, day: date) -> bool:
        if not model.startswith(self.prefix):
            return False
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_until is None or day < self.valid_until

    @property
    def cached_input(self) -> float:
        return round(self.input * CACHED_INPUT_SHARE, 6)


PRICES: tuple[ModelPrice, ...] = (
    ModelPrice("gemini-3.8-flash", 0.75, 3.75, valid_until=date(2027, 1, 1), note="launch price"),
    ModelPrice("gemini-3.8-flash", 1.50, 7.50, valid_from=date(2027, 1, 1)),
    ModelPrice("gemini-3.6-flash", 1.50, 7.50),
    ModelPrice("gemini-3.5-flash-lite", 0.30, 2.50),
    ModelPrice("gemini-3.5-flash", 1.50, 9.00, note="deprecated, forwarded to 3.6 Flash"),
    ModelPrice("gemini-3.1-flash-lite", 0.25, 1.50),
    ModelPrice(
        "gemini-3.1-pro",
        2.00,
        12.00,
        long_context_tokens=200_000,
        long_input=4.00,
        long_output=18.00,
    ),
    ModelPrice("gemini-3-flash", 0.50, 3.00),
    ModelPrice("gemini-2.5-flash-lite", 0.10, 0.40),
    ModelPrice("gemini-2.5-flash", 0.30, 2.50, valid_until=date(2026, 12, 1)),
    ModelPrice("gemini-2.5-pro", 1.25, 10.00, valid_until=date(2026, 12, 1)),
)

# Retired model ids Google routes to another model from a day on (gemini.md §2): calls after that
# day are served, and billed, as the target.
ROUTES: dict[str, tuple[date, str]] = {
    "gemini-2.5-flash": (date(2026, 12, 1), "gemini-3.5-flash-lite"),
    "gemini-2.5-pro": (date(2026, 12, 1), "gemini-3.8-flash"),
}


@dataclass(frozen=True)
class Usage:
    """Tokens of one call as ``usage_metadata`` reports them (prompt includes the cached part)."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0  # candidates
    thinking_tokens: int = 0


@dataclass(frozen=True)
class PriceOverride:
    """A tenant's own contract rates (config ``price_input_per_million`` / ``..._output_...``)."""

    input: float
    output: float


def price_for(model: str, day: date | None = None) -> ModelPrice | None:
    """The row for ``model`` on ``day`` (UTC today by default): the longest covering prefix."""
    day = day or datetime.now(UTC).date()
    model = model.removeprefix("models/")
    route = ROUTES.get(model)
    if route is not None and day >= route[0]:
        model = route[1]
    rows = [p for p in PRICES if p.covers(model, day)]
    return max(rows, key=lambda p: len(p.prefix), default=None)


def cost_usd(
    model: str,
    usage: Usage,
    *,
    mode: Mode = "online",
    day: date | None = None,
    override: PriceOverride | None = None,
) -> float | None:
    """USD of one call, or None when no row (and no override) prices ``model``."""
    if override is not None:
        rate_in, rate_out = override.input, override.output
    else:
        row = price_for(model, day)
        if row is None:
            return None
        rate_in, rate_out = row.input, row.output
        if row.long_context_tokens is not None and usage.prompt_tokens > row.long_context_tokens:
            rate_in, rate_out = row.long_input or rate_in, row.long_output or rate_out
    cached = min(max(usage.cached_tokens, 0), usage.prompt_tokens)
    fresh = usage.prompt_tokens - cached
    total = (
        fresh * rate_in
        + cached * rate_in * CACHED_INPUT_SHARE
        + (usage.output_tokens + usage.thinking_tokens) * rate_out
    ) / 1_000_000
    if mode == "batch":
        total *= BATCH_SHARE
    return round(total, 6)


def price_table() -> list[dict[str, object]]:
    """The table as rows for docs, the CLI and the bench (one owner for how it is shown)."""
    return [
        {
            "models": f"{p.prefix}*",
            "input": p.input,
            "cached_input": p.cached_input,
            "output": p.output,
            "batch_input": round(p.input * BATCH_SHARE, 6),
            "batch_output": round(p.output * BATCH_SHARE, 6),
            "valid_from": p.valid_from.isoformat() if p.valid_from else "",
            "valid_until": p.valid_until.isoformat() if p.valid_until else "",
            "note": p.note,
        }
        for p in PRICES
    ] + [
        {"models": old, "routed_to": new, "valid_from": since.isoformat()}
        for old, (since, new) in ROUTES.items()
    ]
