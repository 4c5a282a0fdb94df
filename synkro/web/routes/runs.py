"""Forced reports: start one for the last closed business day or a window, watch its steps live.

A run starts through the one run path, exactly as `synkro run` does
(`orchestration.launch.forced_report_window` for the window and its limits, `start_tenant_run`
for the disabled-tenant check, the dbt manifest, the local services — started when they are not
running — and the ledger row plus the Dagster run). The request never waits for the run: with
`wait=False` a tenant that already has a run gets a message pointing at it instead of a second
one queued behind it.

The run page shows one indicator per step of the chain (`ledger.step_progress`) and follows the
ledger row read-only over server-sent events: a state message whenever something changed, an
`end` message when the row is final. The row itself is closed by the run-status sensors.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import anyio
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from synkro.controlplane import ControlPlane
from synkro.controlplane.jobs import FINAL_STATUSES, JobRun
from synkro.orchestration import tags
from synkro.orchestration.ledger import FORCED_REPORT_JOB, step_progress
from synkro.redact import for_tenant
from synkro.web.access import TenantAccess, controlplane, owned_by_tenant, require
from synkro.web.i18n import catalog, translate
from synkro.web.templating import render, request_lang
from synkro.windows import Window, WindowError

router = APIRouter()

POLL_S = 0.5  # how often a watching page's stream reads the ledger
STREAM_LIMIT_S = 3 * 3600  # a stream ends after this even if the row never closes
LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # the value format of <input type=datetime-local>


def tenant_run(cp: ControlPlane, access: TenantAccess, run_id: int) -> JobRun:
    """The tenant's job run, or 404 — also for a run of another tenant."""
    return owned_by_tenant(access, cp.jobs.get_run, run_id)


def report_id_of(events: list[Any]) -> int | None:
    """The report the run built (the report step's line carries its id)."""
    for event in reversed(events):
        if event.step == "report" and event.data.get("report_id"):
            return int(event.data["report_id"])
    return None


def run_state(cp: ControlPlane, slug: str, run_id: int, lang: str) -> dict[str, Any]:
    """What the run page shows of a row, in one JSON-able dict (the page and the stream share it)."""
    row = cp.jobs.get_run(run_id)
    events = cp.jobs.list_events(run_id, tenant=slug)
    redactor = for_tenant(cp, slug)
    report_id = report_id_of(events)
    return {
        "status": row.status,
        "status_label": translate(lang, f"run.status.{row.status}"),
        "finished": row.status in FINAL_STATUSES,
        "duration": duration(row, lang),
        "error": redactor(row.error) or None,
        "report_url": f"/t/{slug}/reports/{report_id}" if report_id else None,
        "steps": [
            {
                "step": p.step,
                "status": p.status,
                "label": translate(lang, f"runs.step_status.{p.status}"),
                "summary": redactor(p.summary),
            }
            for p in step_progress(row, events)
        ],
    }


def duration(row: JobRun, lang: str) -> str:
    begun = row.started_at or row.created_at
    if row.finished_at is None or begun is None:
        return "—"
    seconds = max(0, int((row.finished_at - begun).total_seconds()))
    if seconds < 60:
        return translate(lang, "runs.duration.seconds", s=seconds)
    if seconds < 3600:
        return translate(lang, "runs.duration.minutes", m=seconds // 60, s=f"{seconds % 60:02d}")
    return translate(lang, "runs.duration.hours", h=seconds // 3600, m=f"{seconds % 3600 // 60:02d}")


def local_window(start: datetime | None, end: datetime | None, zone: Any) -> str:
    """`30.11.2026 22:01 → 01.12.2026 22:01` in the tenant's zone, or a dash."""
    if start is None or end is None:
        return "—"
    return f"{start.astimezone(zone):%d.%m.%Y %H:%M} → {end.astimezone(zone):%d.%m.%Y %H:%M}"


def job_label(job: str, lang: str) -> str:
    key = f"runs.job.{job}"
    return translate(lang, key) if key in catalog() else job


def _default_form(window: Window | None, zone: Any) -> dict[str, str]:
    if window is None:
        return {"mode": "day", "start": "", "end": ""}
    return {
        "mode": "day",
        "start": window.start.astimezone(zone).strftime(LOCAL_INPUT),
        "end": window.end.astimezone(zone).strftime(LOCAL_INPUT),
    }


def _runs_page(
    request: Request,
    access: TenantAccess,
    *,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, tuple[str, dict[str, Any]]] | None = None,
    alert: dict[str, Any] | None = None,
) -> Response:
    from synkro.orchestration.launch import forced_report_window

    cp = controlplane(request)
    lang = request_lang(request)
    runs = cp.jobs.list_runs(access.slug, limit=50)
    active = next((r for r in runs if r.status not in FINAL_STATUSES), None)
    settings = cp.settings.get_settings(access.slug)
    last_day = forced_report_window(cp, access.slug, None, None)
    return render(
        request,
        "runs.html",
        status_code=status_code,
        section="runs",
        runs=runs,
        active=active,
        last_day=last_day,
        settings=settings,
        form=form or _default_form(last_day, access.tenant.zone),
        errors=errors or {},
        alert=alert,
        durations={r.id: duration(r, lang) for r in runs},
        job_label=lambda job: job_label(job, lang),
        window_text=lambda start, end: local_window(start, end, access.tenant.zone),
    )


@router.get("/t/{slug}/runs")
def runs_page(request: Request, access: TenantAccess = Depends(require("viewer"))) -> Response:
    return _runs_page(request, access)


def _active_alert(cp: ControlPlane, access: TenantAccess, exc: Any) -> dict[str, Any]:
    """The message for a tenant that already has a run, with the way to it."""
    from synkro.orchestration.launch import describe

    run = exc.runs[0]
    explicit = run.tags.get(tags.JOB_RUN_ID)
    row = cp.jobs.get_run(int(explicit)) if explicit else cp.jobs.find_run(f"dagster:{run.run_id}")
    if row is not None and row.tenant == access.slug:
        return {
            "key": "runs.start.active",
            "values": {"id": row.id},
            "link": f"/t/{access.slug}/runs/{row.id}",
        }
    return {"key": "runs.start.active_other", "values": {"what": describe(run)}, "link": None}


@router.post("/t/{slug}/runs")
def start_run(
    request: Request,
    access: TenantAccess = Depends(require("admin")),
    mode: str = Form("day"),
    start: str = Form(""),
    end: str = Form(""),
) -> Response:
    from synkro.modeling.manifest import ManifestError
    from synkro.orchestration.launch import (
        ActiveRunError,
        TenantDisabledError,
        forced_report_window,
        start_tenant_run,
    )
    from synkro.orchestration.services import ServiceError

    if mode not in ("day", "window"):
        raise HTTPException(status_code=400, detail="mode: expected day or window")
    cp = controlplane(request)
    form = {"mode": mode, "start": start, "end": end}
    try:
        if mode == "window" and not start.strip() and not end.strip():
            raise WindowError("incomplete", "give both --from and --to", "start")
        bounds = (start, end) if mode == "window" else (None, None)
        window = forced_report_window(cp, access.slug, *bounds)
    except WindowError as exc:
        errors = {exc.field or "start": (f"runs.window.{exc.code}", exc.values)}
        return _runs_page(request, access, status_code=400, form=form, errors=errors)
    try:
        launched = start_tenant_run(
            cp,
            access.slug,
            FORCED_REPORT_JOB,
            trigger="manual",
            launched_by=access.user.email,
            window=window,
            wait=False,
        )
    except ActiveRunError as exc:
        return _runs_page(request, access, status_code=409, form=form, alert=_active_alert(cp, access, exc))
    except TenantDisabledError:
        alert = {"key": "runs.start.disabled", "values": {}, "link": None}
        return _runs_page(request, access, status_code=409, form=form, alert=alert)
    except (ServiceError, ManifestError) as exc:
        alert = {"key": "runs.start.services_failed", "values": {"detail": str(exc)}, "link": None}
        return _runs_page(request, access, status_code=503, form=form, alert=alert)
    row = launched.job_run
    cp.audit.record(
        access.user.email,
        "run.start",
        access.slug,
        {
            "job_run_id": row.id,
            "job": FORCED_REPORT_JOB,
            "window_start": window.start.isoformat(),
            "window_end": window.end.isoformat(),
        },
    )
    return RedirectResponse(f"/t/{access.slug}/runs/{row.id}", status_code=303)


@router.get("/t/{slug}/runs/{run_id}")
def run_page(request: Request, run_id: int, access: TenantAccess = Depends(require("viewer"))) -> Response:
    cp = controlplane(request)
    row = tenant_run(cp, access, run_id)
    lang = request_lang(request)
    return render(
        request,
        "run.html",
        section="runs",
        run=row,
        state=run_state(cp, access.slug, row.id, lang),
        launched_by=row.details.get("launched_by") or "—",
        job_label=lambda job: job_label(job, lang),
        window_text=lambda start, end: local_window(start, end, access.tenant.zone),
    )


@router.get("/t/{slug}/runs/{run_id}/events")
async def run_events(
    request: Request, run_id: int, access: TenantAccess = Depends(require("viewer"))
) -> Response:
    """Server-sent events: `state` (the run_state JSON) on every change, `end` once it is final."""
    cp = controlplane(request)
    row = await run_in_threadpool(tenant_run, cp, access, run_id)
    lang = request_lang(request)

    async def stream():
        last: dict[str, Any] | None = None
        began = time.monotonic()
        while True:
            state = await run_in_threadpool(run_state, cp, access.slug, row.id, lang)
            if state != last:
                yield {"event": "state", "data": json.dumps(state, ensure_ascii=False)}
                last = state
            if state["finished"] or time.monotonic() - began > STREAM_LIMIT_S:
                yield {"event": "end", "data": "end"}
                return
            await anyio.sleep(POLL_S)

    return EventSourceResponse(stream(), ping=15)
