"""A tenant's dialogs: the risk-ordered list with filters and CSV export, and one dialog's page.

Who sees what (server side, inside the SQL — `synkro.dialogs.scope`): viewers and admins see every
dialog of the tenant; a manager only the dialogs whose responsible amoCRM user is theirs, and a
colleague's dialog answers 404 exactly like a missing one. The page's id is
`fct_dialogs.dialog_id` (= the analysis' `dialog_id`, the Radist chat).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.responses import Response, StreamingResponse

from synkro.analysis.schema import RiskFlag, Sentiment
from synkro.db import connect
from synkro.dialogs import listing
from synkro.dialogs.csv_export import csv_chunks
from synkro.dialogs.detail import dialog_detail
from synkro.dialogs.scope import DialogScope
from synkro.tenant_context import TenantContext
from synkro.web.access import TenantAccess, controlplane, require
from synkro.web.i18n import translate
from synkro.web.templating import render, request_lang

router = APIRouter()

FLAGS = [f.value for f in RiskFlag]
SENTIMENTS = {s.value for s in Sentiment}


def scope_of(access: TenantAccess) -> DialogScope:
    """A manager reads only their own amoCRM user's dialogs; every stronger role reads all."""
    if access.role == "manager":
        return DialogScope.of_user(access.amocrm_user_id)
    return DialogScope.all_dialogs()


def tenant_context(request: Request, access: TenantAccess) -> TenantContext:
    cp = controlplane(request)
    return TenantContext(cp=cp, tenant=access.tenant, settings=cp.settings.get_settings(access.slug))


def amocrm_link_base(tctx: TenantContext) -> str | None:
    """The tenant's amoCRM address for card links, or None when amoCRM is not configured."""
    from synkro.clients.tenant_clients import amocrm_base_url

    config = tctx.config("amocrm")
    if config is None:
        return None
    try:
        return amocrm_base_url(config)
    except (AttributeError, TypeError):
        return None


def labels(lang: str) -> dict[str, Any]:
    """Template helpers that turn stored codes into words, never building a key from free text."""

    def flag(code: str) -> str:
        return translate(lang, f"dialog.flag.{code}") if code in FLAGS else str(code)

    def sentiment(code: str | None) -> str:
        return translate(lang, f"dialog.sentiment.{code}") if code in SENTIMENTS else (code or "—")

    def duration(seconds: float | None) -> str:
        if seconds is None:
            return "—"
        n = round(seconds)
        if n < 60:
            return translate(lang, "duration.seconds", n=n)
        if n < 3600:
            return translate(lang, "duration.minutes", n=n // 60)
        return translate(lang, "duration.hours", h=n // 3600, m=n % 3600 // 60)

    return {"flag_label": flag, "sentiment_label": sentiment, "duration": duration}


def _filters(request: Request) -> listing.DialogFilters:
    try:
        return listing.DialogFilters.from_query(request.query_params)
    except listing.FilterError as exc:
        lang = request_lang(request)
        raise HTTPException(
            status_code=400, detail=translate(lang, "dialogs.bad_filter", name=exc.name, reason=exc.reason)
        ) from None


@router.get("/t/{slug}/dialogs")
def dialogs_page(request: Request, access: TenantAccess = Depends(require("manager"))) -> Response:
    filters = _filters(request)
    tctx = tenant_context(request, access)
    scope = scope_of(access)
    with connect(tctx.warehouse_url()) as conn:
        ready = listing.marts_ready(conn, access.slug)
        page = (
            listing.dialog_page(conn, access.slug, filters, scope=scope, timezone=access.tenant.timezone)
            if ready
            else None
        )
        people = listing.managers(conn, access.slug, scope) if ready else []
    return render(
        request,
        "dialogs/list.html",
        section="dialogs",
        ready=ready,
        result=page,
        filters=filters,
        managers=people,
        flags=FLAGS,
        zone=access.tenant.timezone,
        own_only=access.role == "manager",
        **labels(request_lang(request)),
    )


@router.get("/t/{slug}/dialogs.csv")
def dialogs_csv(request: Request, access: TenantAccess = Depends(require("manager"))) -> Response:
    """The filtered list as CSV, streamed from a server-side cursor (same filters and scope)."""
    filters = _filters(request)
    tctx = tenant_context(request, access)
    url = tctx.warehouse_url()
    with connect(url) as probe:
        ready = listing.marts_ready(probe, access.slug)

    def chunks():
        with connect(url) as conn:
            # Before the first load there are no marts: the export is the header line, like the empty list.
            rows = (
                listing.all_rows(
                    conn, access.slug, filters, scope=scope_of(access), timezone=access.tenant.timezone
                )
                if ready
                else iter(())
            )
            yield from csv_chunks(
                rows,
                slug=access.slug,
                timezone=access.tenant.timezone,
                portal_url=request.app.state.config.public_url,
            )

    return StreamingResponse(
        chunks(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="dialogs-{access.slug}.csv"'},
    )


@router.get("/t/{slug}/dialogs/{dialog_id}")
def dialog_page(
    request: Request, dialog_id: str, access: TenantAccess = Depends(require("manager"))
) -> Response:
    tctx = tenant_context(request, access)
    with connect(tctx.warehouse_url()) as conn:
        detail = dialog_detail(
            conn,
            access.slug,
            dialog_id,
            scope=scope_of(access),
            settings=tctx.settings,
            timezone=access.tenant.timezone,
            amocrm_base_url=amocrm_link_base(tctx),
        )
    if detail is None:
        raise HTTPException(status_code=404)
    return render(
        request,
        "dialogs/page.html",
        section="dialogs",
        dialog=detail,
        verdicts=detail.verdicts,
        zone=access.tenant.timezone,
        **labels(request_lang(request)),
    )
