"""The rubric editor, `/t/{slug}/rubric`, for the tenant's admins (viewers and managers: 403).

What it guarantees, on the server whatever the browser sent:
- a save is refused, with the reason next to the field at fault and nothing written, unless every
  row is complete (key, title, description, weight 1–100, a known type), keys are unique and the
  weights sum to exactly 100;
- a save that passes records version N+1 through ``cp.rubrics.save`` (kept forever, who and
  when), which is what the next run scores with; runs re-score only the days they are asked to;
- it works without JavaScript: "add a row" is an ordinary submit that re-renders the form with
  one more row, "start from the built-in template" a link that loads the template into the form
  (neither saves anything); ``static/rubric.js`` adds rows in place and keeps the total live.
Rows left completely blank are dropped, which is how a row is removed without JavaScript.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from synkro.analysis.rubric import CRITERION_TYPES, DEFAULT_RUBRIC, Rubric
from synkro.controlplane.errors import BadInputError
from synkro.web.access import TenantAccess, controlplane, require
from synkro.web.templating import render

router = APIRouter()

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
FIELDS = ("key", "title", "description", "weight", "type")
MAX_ROWS = 30


@dataclass
class Row:
    key: str = ""
    title: str = ""
    description: str = ""
    weight: str = ""
    type: str = "scored"

    @property
    def blank(self) -> bool:
        return not (self.key or self.title or self.description or self.weight)

    @property
    def weight_value(self) -> int:
        try:
            return int(self.weight)
        except ValueError:
            return 0


@dataclass
class Draft:
    """The form as posted (or as loaded): rows, context, and the errors of a refused save."""

    rows: list[Row]
    business_context: str = ""
    name: str = ""
    errors: dict[tuple[int, str], str] = field(default_factory=dict)
    total_error: str | None = None

    @property
    def total(self) -> int:
        return sum(r.weight_value for r in self.rows)


def draft_of(rubric: Rubric) -> Draft:
    rows = [Row(c.key, c.title, c.description, str(c.weight), c.type) for c in rubric.criteria]
    return Draft(rows, rubric.business_context, rubric.name)


async def posted_draft(request: Request) -> tuple[Draft, str]:
    """The posted rows (same-named fields, in order), the business context and the button pressed."""
    form = await request.form()
    columns = {name: [str(v) for v in form.getlist(name)] for name in FIELDS}
    count = min(max((len(v) for v in columns.values()), default=0), MAX_ROWS)
    rows = []
    for i in range(count):
        values = {name: (columns[name][i].strip() if i < len(columns[name]) else "") for name in FIELDS}
        rows.append(Row(**values))
    draft = Draft(
        [r for r in rows if not r.blank],
        str(form.get("business_context", "")).strip(),
        str(form.get("name", "")).strip(),
    )
    return draft, str(form.get("action", "save"))


def check(draft: Draft) -> Rubric | None:
    """The rubric of a complete, valid draft; otherwise None with ``draft.errors`` filled."""
    seen: dict[str, int] = {}
    for i, row in enumerate(draft.rows):
        if not KEY_RE.match(row.key):
            draft.errors[(i, "key")] = "rubric.error.key"
        elif row.key in seen:
            draft.errors[(i, "key")] = "rubric.error.duplicate"
        seen.setdefault(row.key, i)
        if not row.title:
            draft.errors[(i, "title")] = "rubric.error.title"
        if not row.description:
            draft.errors[(i, "description")] = "rubric.error.description"
        if not row.weight.isdigit() or not 1 <= int(row.weight) <= 100:
            draft.errors[(i, "weight")] = "rubric.error.weight"
        if row.type not in CRITERION_TYPES:
            draft.errors[(i, "type")] = "rubric.error.type"
    if not draft.rows:
        draft.total_error = "rubric.error.empty"
    elif draft.total != 100:
        draft.total_error = "rubric.error.total"
    if len(draft.business_context) > 4000:
        draft.errors[(-1, "business_context")] = "rubric.error.context"
    if draft.errors or draft.total_error:
        return None
    return Rubric(
        name=draft.name or "custom",
        criteria=[
            {
                "key": r.key,
                "title": r.title,
                "description": r.description,
                "weight": int(r.weight),
                "type": r.type,
            }
            for r in draft.rows
        ],
        business_context=draft.business_context,
    )


def page(request: Request, access: TenantAccess, draft: Draft, *, status_code: int = 200) -> Response:
    cp = controlplane(request)
    number, _ = cp.rubrics.current(access.slug)
    saved = request.query_params.get("saved", "")
    return render(
        request,
        "rubric.html",
        status_code=status_code,
        section="rubric",
        draft=draft,
        types=CRITERION_TYPES,
        current_number=number,
        versions=cp.rubrics.versions(access.slug),
        saved=int(saved) if saved.isdigit() else None,
        timezone=access.tenant.timezone,
    )


@router.get("/t/{slug}/rubric")
def rubric_page(request: Request, access: TenantAccess = Depends(require("admin"))) -> Response:
    if request.query_params.get("template") == "builtin":
        return page(request, access, draft_of(DEFAULT_RUBRIC))
    _, rubric = controlplane(request).rubrics.current(access.slug)
    return page(request, access, draft_of(rubric))


@router.post("/t/{slug}/rubric")
async def save_rubric(request: Request, access: TenantAccess = Depends(require("admin"))) -> Response:
    draft, action = await posted_draft(request)
    if action == "add_row":
        draft.rows.append(Row())
        return page(request, access, draft)
    rubric = check(draft)
    if rubric is None:
        return page(request, access, draft, status_code=400)
    try:
        version = controlplane(request).rubrics.save(access.slug, rubric, actor=access.user.email)
    except BadInputError:  # the editor's checks mirror the model's; this is a safety net
        draft.total_error = "rubric.error.invalid"
        return page(request, access, draft, status_code=400)
    return RedirectResponse(f"/t/{access.slug}/rubric?saved={version.number}", status_code=303)
