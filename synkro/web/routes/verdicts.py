"""Disputes and overrides of AI verdicts: `POST /t/{slug}/dialogs/{id}/criteria/{key}/{action}`.

Who may do what, checked here on the server whatever the form sent:
- the dialog must be one the reader may see (`synkro.web.routes.dialogs.scope_of`, the dialog
  pages' rule: a manager only their own), else **404** exactly like a missing dialog or criterion;
- the kind must be one the role may write (`corrections.KINDS_BY_ROLE`): a manager disputes
  (with a reason), a viewer or admin accepts (with the corrected score) or rejects (with a note)
  an open dispute, and overrides any criterion directly (score and note); otherwise **403**;
- the rest of the rules (score 0–100, notes, "answer an open dispute only") live in
  `synkro.analysis.corrections.record`, which refuses with a code and writes nothing.

Every correction is also written to the control-plane audit log as `verdict.<action>`. The answer
is always a redirect back to the dialog page, anchored at the criterion, carrying either
`verdict_done=<action>` or `verdict_error=<code>`; the page shows a message only for a code of
the fixed sets below (never a message key taken from the URL).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import psycopg
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from psycopg import sql
from starlette.responses import RedirectResponse, Response

from synkro.analysis import corrections
from synkro.analysis.corrections import KINDS, KINDS_BY_ROLE, CorrectionError
from synkro.analysis.rubric import rubric_from_settings
from synkro.tenant_context import TenantContext
from synkro.web.access import TenantAccess, controlplane, require
from synkro.web.routes.dialogs import scope_of
from synkro.web.templating import TEMPLATES

router = APIRouter()

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
# Codes the dialog page may show after a redirect; anything else in the URL is ignored.
ERROR_CODES = tuple(corrections.ERROR_CODES)
DONE_CODES = KINDS


def _url_code(request: Request, key: str) -> tuple[str | None, str | None]:
    """(done, error) codes from the redirect's query, when they concern criterion `key`."""
    params = request.query_params
    if params.get("verdict_key") != key:
        return None, None
    done = params.get("verdict_done")
    error = params.get("verdict_error")
    return (done if done in DONE_CODES else None), (error if error in ERROR_CODES else None)


def _kinds_for(role: str | None) -> frozenset[str]:
    return KINDS_BY_ROLE.get(role or "", frozenset())


# The criterion partial (dialogs/_criterion_actions.html) asks these; it is included by another page.
TEMPLATES.env.globals["verdict_notice"] = _url_code
TEMPLATES.env.globals["verdict_kinds"] = _kinds_for


@contextmanager
def tenant_warehouse(request: Request, access: TenantAccess) -> Iterator[psycopg.Connection]:
    cp = controlplane(request)
    context = TenantContext(cp=cp, tenant=access.tenant, settings=cp.settings.get_settings(access.slug))
    with psycopg.connect(context.warehouse_url()) as conn:
        yield conn


def _exists(conn: psycopg.Connection, qualified: str) -> bool:
    row = conn.execute("select to_regclass(%s)", (qualified,)).fetchone()
    return bool(row and row[0])


def visible(conn: psycopg.Connection, access: TenantAccess, dialog_id: str) -> bool:
    """Whether the reader may see the dialog: it exists and lies in their scope (the dialog pages' rule)."""
    marts = f"{access.slug}_marts"
    if not dialog_id.isdigit() or not _exists(conn, f'"{marts}"."fct_dialogs"'):
        return False
    condition, params = scope_of(access).condition("d")
    row = conn.execute(
        sql.SQL("select 1 from {} d where d.dialog_id = %(id)s and {}").format(
            sql.Identifier(marts, "fct_dialogs"), condition
        ),
        {"id": int(dialog_id), **params},
    ).fetchone()
    return row is not None


def current_verdict(conn: psycopg.Connection, slug: str, dialog_id: str, key: str) -> dict[str, Any] | None:
    """The AI's current score of one criterion (latest successful analysis), or None."""
    schema = f"{slug}_analysis"
    if not _exists(conn, f'"{schema}"."dialog_analyses"'):
        return None
    row = conn.execute(
        sql.SQL(
            "select rubric_version, criteria from {} where dialog_id = %s and status = 'ok' "
            "order by analyzed_at desc limit 1"
        ).format(sql.Identifier(schema, "dialog_analyses")),
        (dialog_id,),
    ).fetchone()
    if row is None:
        return None
    rubric_version, criteria = row
    for item in criteria if isinstance(criteria, list) else []:
        if isinstance(item, dict) and item.get("key") == key:
            return {"rubric_version": rubric_version, "ai_score": item.get("score")}
    return None


def _back(access: TenantAccess, dialog_id: str, key: str, **params: str) -> Response:
    query = urlencode({**params, "verdict_key": key})
    return RedirectResponse(f"/t/{access.slug}/dialogs/{dialog_id}?{query}#criterion-{key}", status_code=303)


def _score(raw: str) -> int | None:
    text = raw.strip()
    if not text:
        return None
    if not re.fullmatch(r"-?\d{1,4}", text):
        return -1  # refused by the rules below as "score"
    return int(text)


@router.post("/t/{slug}/dialogs/{dialog_id}/criteria/{key}/{action}")
def correct_verdict(
    request: Request,
    dialog_id: str,
    key: str,
    action: str,
    score: str = Form(""),
    note: str = Form(""),
    access: TenantAccess = Depends(require("manager")),
) -> Response:
    if action not in KINDS or not KEY_RE.fullmatch(key):
        raise HTTPException(status_code=404)
    cp = controlplane(request)
    with tenant_warehouse(request, access) as conn:
        target = (
            current_verdict(conn, access.slug, dialog_id, key) if visible(conn, access, dialog_id) else None
        )
        if target is None:
            raise HTTPException(status_code=404)
        if action not in _kinds_for(access.role):
            raise HTTPException(status_code=403)
        value = _score(score) if action in corrections.HUMAN_VALUE_KINDS else None
        try:
            saved = corrections.record(
                conn,
                access.slug,
                dialog_id,
                key,
                action,
                score=value,
                note=note,
                ai_score=target["ai_score"],
                rubric_version=target["rubric_version"],
                actor=access.user.email,
                actor_role=access.role,
            )
        except CorrectionError as refused:
            return _back(access, dialog_id, key, verdict_error=refused.code)
        rubric = rubric_from_settings(cp.settings.get_settings(access.slug).rubric)
        if rubric.version == target["rubric_version"]:  # lets SQL weigh this dialog's criteria
            corrections.remember_rubric(conn, access.slug, rubric)
    cp.audit.record(
        access.user.email,
        f"verdict.{action}",
        tenant=access.slug,
        details={
            "dialog_id": dialog_id,
            "criterion": key,
            "correction_id": saved.id,
            "score": saved.score,
            "ai_score": saved.ai_score,
            "rubric_version": saved.rubric_version,
            "role": access.role,
        },
    )
    return _back(access, dialog_id, key, verdict_done=action)
