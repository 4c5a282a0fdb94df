"""A tenant's front page: its integrations' status, the latest report and runs, and the way on."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from synkro.checks import KINDS
from synkro.web.access import TenantAccess, controlplane, require
from synkro.web.templating import render

router = APIRouter()


@router.get("/t/{slug}")
def overview(request: Request, access: TenantAccess = Depends(require("manager"))) -> Response:
    cp = controlplane(request)
    records = {kind: cp.configs.find_record(access.slug, kind) for kind in KINDS}
    reports = cp.reports.list_reports(access.slug, limit=5) if access.at_least("viewer") else []
    runs = cp.jobs.list_runs(access.slug, limit=5) if access.at_least("viewer") else []
    return render(request, "tenant.html", records=records, reports=reports, runs=runs, kinds=KINDS)
