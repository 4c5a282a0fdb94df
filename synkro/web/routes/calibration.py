"""`/t/{slug}/calibration`: per criterion, how often and how far humans changed the AI's score.

For admins and viewers (the people who answer disputes); a manager gets 403. The figures come
from `synkro.calibration`; examples link to the dialog pages.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from synkro.analysis.rubric import rubric_from_settings
from synkro.calibration import calibration
from synkro.web.access import TenantAccess, controlplane, require
from synkro.web.routes.verdicts import tenant_warehouse
from synkro.web.templating import render

router = APIRouter()


@router.get("/t/{slug}/calibration")
def calibration_page(request: Request, access: TenantAccess = Depends(require("viewer"))) -> Response:
    rubric = rubric_from_settings(controlplane(request).settings.get_settings(access.slug).rubric)
    with tenant_warehouse(request, access) as conn:
        rows = calibration(conn, access.slug, rubric)
    return render(
        request,
        "calibration.html",
        section="calibration",
        rows=rows,
        any_correction=any(r.human or r.disputes for r in rows),
    )
