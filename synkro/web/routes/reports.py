"""The tenant's reports: the list (window, status, sent time) and each report's full document.

The document is the HTML the report step rendered and stored (`reports.body`, made by
`synkro.report.render.html_document` — every dynamic string escaped there). It is served on its
own URL with a policy of its own: no script at all, its inline stylesheet allowed, sandboxed,
and framable only by our pages; the report page shows it in a sandboxed iframe. The portal's
own strict policy stays untouched for every other page.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.responses import Response

from synkro.controlplane import ControlPlane
from synkro.controlplane.reports import Report
from synkro.web.access import TenantAccess, controlplane, owned_by_tenant, require
from synkro.web.templating import render

router = APIRouter()

# The stored document's own policy: nothing runs, nothing loads, links may open a new tab.
DOCUMENT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; "
    "form-action 'none'; sandbox allow-popups allow-popups-to-escape-sandbox"
)
# Links in the document (amoCRM deals) open in a new tab instead of inside the frame.
BASE_TARGET = '<base target="_blank">'


def tenant_report(cp: ControlPlane, access: TenantAccess, report_id: int) -> Report:
    """The tenant's report, or 404 — also for a report of another tenant."""
    return owned_by_tenant(access, cp.reports.get_report, report_id)


def local_window(report: Report, zone) -> str:
    start, end = report.window_start.astimezone(zone), report.window_end.astimezone(zone)
    return f"{start:%d.%m.%Y %H:%M} → {end:%d.%m.%Y %H:%M}"


def file_name(report: Report, zone) -> str:
    start = report.window_start.astimezone(zone)
    return f"report-{report.tenant}-{start:%Y-%m-%d_%H%M}.html"


@router.get("/t/{slug}/reports")
def reports_page(request: Request, access: TenantAccess = Depends(require("viewer"))) -> Response:
    reports = controlplane(request).reports.list_reports(access.slug, limit=200)
    zone = access.tenant.zone
    return render(
        request,
        "reports.html",
        section="reports",
        reports=reports,
        windows={r.id: local_window(r, zone) for r in reports},
    )


@router.get("/t/{slug}/reports/{report_id}")
def report_page(
    request: Request, report_id: int, access: TenantAccess = Depends(require("viewer"))
) -> Response:
    report = tenant_report(controlplane(request), access, report_id)
    return render(
        request,
        "report.html",
        section="reports",
        report=report,
        window=local_window(report, access.tenant.zone),
        document_url=f"/t/{access.slug}/reports/{report.id}/document",
    )


@router.get("/t/{slug}/reports/{report_id}/document")
def report_document(
    request: Request,
    report_id: int,
    download: bool = False,
    access: TenantAccess = Depends(require("viewer")),
) -> Response:
    report = tenant_report(controlplane(request), access, report_id)
    if not report.body:
        raise HTTPException(status_code=404)
    body = report.body
    if "<head>" in body and "<base " not in body:
        body = body.replace("<head>", f"<head>{BASE_TARGET}", 1)
    disposition = "attachment" if download else "inline"
    return Response(
        body,
        media_type="text/html; charset=utf-8",
        headers={
            "content-security-policy": DOCUMENT_CSP,
            "x-frame-options": "SAMEORIGIN",
            "content-disposition": f'{disposition}; filename="{file_name(report, access.tenant.zone)}"',
        },
    )
