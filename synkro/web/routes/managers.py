"""Trends per manager: every manager's weeks at a glance, and one manager's weeks in full.

The figures are `synkro.trends.weekly` (the one rule for a week's dialogs, median first response,
left waiting, human-corrected average score, corrected and disputed verdicts and best dialogs),
read from the tenant's warehouse. The range ends with the week of the newest business day in the
marts (capped at the tenant's today), so a company whose loads stopped still sees its last weeks.

Who sees what: admins and viewers every manager and the unassigned dialogs; a manager only
themself — the list holds one row, and any other manager's page answers 404, like a page that
does not exist. The unassigned row's page is `/t/{slug}/managers/unassigned`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from markupsafe import Markup
from starlette.responses import Response

from synkro import trends
from synkro.tenant_context import TenantContext
from synkro.web.access import TenantAccess, controlplane, require
from synkro.web.charts import line_chart, sparkline
from synkro.web.i18n import translate
from synkro.web.templating import render, request_lang

router = APIRouter()

UNASSIGNED = "unassigned"
DEFAULT_WEEKS = 12
# The charts of one manager: (metric, message key of its name); the order is the page's.
METRICS = ("dialogs", "first_response", "score", "left_waiting")


@dataclass(frozen=True)
class Period:
    """The weeks a page shows: ``weeks`` ISO weeks ending with the week holding ``last_day``."""

    last_day: date | None
    weeks: int


def _warehouse(request: Request, access: TenantAccess) -> psycopg.Connection:
    cp = controlplane(request)
    tctx = TenantContext(cp=cp, tenant=access.tenant, settings=cp.settings.get_settings(access.slug))
    return psycopg.connect(tctx.warehouse_url())


def _period(conn: psycopg.Connection, access: TenantAccess, weeks: int) -> Period:
    today = datetime.now(access.tenant.zone).date()
    latest = trends.latest_day(conn, access.slug)
    return Period(min(latest, today) if latest else None, weeks)


def manager_key(manager_id: int | None) -> str:
    """The manager's segment in page URLs."""
    return UNASSIGNED if manager_id is None else str(manager_id)


def _parse_manager(value: str) -> int | None:
    if value == UNASSIGNED:
        return None
    if not value.isdigit() or len(value) > 18:
        raise HTTPException(status_code=404)
    return int(value)


def _visible(access: TenantAccess) -> int | trends._All | None:
    """Whose trends the user may read: a manager only their own amoCRM user."""
    return trends.ALL if access.at_least("viewer") else access.amocrm_user_id


class Words:
    """Formatting in the request's language: durations, scores, week labels."""

    def __init__(self, lang: str):
        self.lang = lang

    def t(self, key: str, **values: object) -> str:
        return translate(self.lang, key, **values)

    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return "—"
        s = round(seconds)
        if s < 60:
            return self.t("managers.duration.seconds", s=s)
        if s < 600 and s % 60:
            return self.t("managers.duration.minutes_seconds", m=s // 60, s=s % 60)
        if s < 3600:
            return self.t("managers.duration.minutes", m=s // 60)
        return self.t("managers.duration.hours", h=s // 3600, m=f"{s % 3600 // 60:02d}")

    @staticmethod
    def number(value: float | None) -> str:
        return "—" if value is None else f"{value:g}"

    @staticmethod
    def week_short(monday: date) -> str:
        return f"{monday:%d.%m}"

    @staticmethod
    def week_long(monday: date) -> str:
        return f"{monday:%d.%m} – {monday + timedelta(days=6):%d.%m.%Y}"

    def name(self, trend: trends.ManagerTrend) -> str:
        return self.t("managers.unassigned") if trend.manager_id is None else trend.manager_name


def _series(trend: trends.ManagerTrend, metric: str) -> list[float | None]:
    if metric == "dialogs":
        return [float(w.dialogs) for w in trend.weeks]
    if metric == "first_response":
        return [w.median_first_response_seconds for w in trend.weeks]
    if metric == "score":
        return [w.average_score for w in trend.weeks]
    return [float(w.left_waiting) for w in trend.weeks]


def _formatter(words: Words, metric: str):
    return words.duration if metric == "first_response" else words.number


def _sparks(words: Words, trend: trends.ManagerTrend) -> dict[str, Markup]:
    labels = [words.week_short(w.week_start) for w in trend.weeks]
    key = manager_key(trend.manager_id)
    return {
        metric: sparkline(
            f"spark-{key}-{metric}",
            labels,
            _series(trend, metric),
            title=words.t(
                "managers.chart.title", metric=words.t(f"managers.metric.{metric}"), name=words.name(trend)
            ),
            fmt=_formatter(words, metric),
            missing=words.t("managers.no_value"),
        )
        for metric in METRICS
    }


def _charts(words: Words, trend: trends.ManagerTrend) -> dict[str, Markup]:
    labels = [words.week_short(w.week_start) for w in trend.weeks]
    return {
        metric: line_chart(
            f"chart-{metric}",
            labels,
            _series(trend, metric),
            title=words.t(
                "managers.chart.title", metric=words.t(f"managers.metric.{metric}"), name=words.name(trend)
            ),
            x_label=words.t("managers.axis.week"),
            y_label=words.t(f"managers.axis.{metric}"),
            fmt=_formatter(words, metric),
            missing=words.t("managers.no_value"),
            width=400,
            height=190,
        )
        for metric in METRICS
    }


@router.get("/t/{slug}/managers")
def managers_page(
    request: Request,
    weeks: int = Query(DEFAULT_WEEKS, ge=4, le=52),
    access: TenantAccess = Depends(require("manager")),
) -> Response:
    words = Words(request_lang(request))
    visible = _visible(access)
    with _warehouse(request, access) as conn:
        period = _period(conn, access, weeks)
        found = (
            trends.weekly(conn, access.slug, last_day=period.last_day, weeks=weeks, manager=visible)
            if period.last_day
            else []
        )
    rows = [
        {
            "trend": t,
            "name": words.name(t),
            "key": manager_key(t.manager_id),
            "last": t.weeks[-1],
            "sparks": _sparks(words, t),
        }
        for t in found
    ]
    return render(
        request,
        "managers.html",
        section="managers",
        rows=rows,
        words=words,
        period=period,
        first_day=f"{found[0].weeks[0].week_start:%d.%m.%Y}" if found else "",
        last_day=f"{found[0].weeks[-1].week_start + timedelta(days=6):%d.%m.%Y}" if found else "",
    )


@router.get("/t/{slug}/managers/{manager}")
def manager_page(
    request: Request,
    manager: str,
    weeks: int = Query(DEFAULT_WEEKS, ge=4, le=52),
    access: TenantAccess = Depends(require("manager")),
) -> Response:
    manager_id = _parse_manager(manager)
    if not access.at_least("viewer") and (manager_id is None or manager_id != access.amocrm_user_id):
        raise HTTPException(status_code=404)
    words = Words(request_lang(request))
    with _warehouse(request, access) as conn:
        period = _period(conn, access, weeks)
        found = (
            trends.weekly(conn, access.slug, last_day=period.last_day, weeks=weeks, manager=manager_id)
            if period.last_day
            else []
        )
        if not found:
            # A known manager without dialogs in the range gets an empty page, not a 404.
            # So does the unassigned row and a manager's own page; an unknown id answers 404.
            name = trends.manager_name(conn, access.slug, manager_id) if manager_id is not None else None
            if manager_id is not None and name is None and manager_id != access.amocrm_user_id:
                raise HTTPException(status_code=404)
            empty = [
                trends.ManagerWeek(week_start=m)
                for m in trends.week_range(period.last_day or datetime.now(access.tenant.zone).date(), weeks)
            ]
            found = [trends.ManagerTrend(manager_id, name or str(manager_id), empty)]
    trend = found[0]
    weeks_newest_first = list(reversed(trend.weeks))
    return render(
        request,
        "manager.html",
        section="managers",
        trend=trend,
        manager_name=words.name(trend),
        words=words,
        weeks=[w for w in weeks_newest_first if w.dialogs],
        period_weeks=len(trend.weeks),
        charts=_charts(words, trend) if trend.dialogs else {},
        best=[(w, trend.best[w.week_start]) for w in weeks_newest_first if w.week_start in trend.best],
        metrics=METRICS,
    )
