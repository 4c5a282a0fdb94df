"""The cascade: a stronger model re-scores only the dialogs where a better verdict pays.

Why: the bulk model (Flash-Lite) is cheap and good enough for most chats; a wrong verdict costs
most where the money is or where the first verdict is shaky. With ``ai_escalation_model`` set, a
dialog whose first verdict is ``ok`` is re-scored online by that model when

- its deal is open and priced at least ``ai_escalation_min_price`` (amoCRM price), or
- a ``fatal`` criterion of the rubric was missed (it capped the overall score), or
- the model said it was less sure than ``ai_escalation_min_confidence``.

Both verdicts are kept — the first goes to ``dialog_analysis_history`` when the second replaces it,
as every replaced verdict does — and the stronger model's is the current one, with the reason in
the ``escalation`` column. A second verdict that fails keeps the first. Escalations count against
the run's token budget and the month's AI budget like any other call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synkro.analysis.budget import Priority
from synkro.analysis.gemini import DialogResult

if TYPE_CHECKING:
    from synkro.controlplane.settings import TenantSettings


def escalation_reason(
    result: DialogResult, capped_by: list[str], priority: Priority, settings: TenantSettings
) -> str | None:
    """Why this first verdict goes to the stronger model, or None (the first reason that applies)."""
    if not settings.ai_escalation_model or result.status != "ok" or result.analysis is None:
        return None
    if result.model == settings.ai_escalation_model:
        return None
    min_price = settings.ai_escalation_min_price
    if min_price is not None and priority.open_deal and priority.price >= min_price:
        return f"open deal priced {priority.price:,.0f} ≥ {min_price:,.0f}".replace(",", " ")
    if capped_by:
        return "fatal criterion missed: " + ", ".join(capped_by)
    confidence = result.analysis.confidence
    if confidence < settings.ai_escalation_min_confidence:
        return f"model confidence {confidence} < {settings.ai_escalation_min_confidence}"
    return None
