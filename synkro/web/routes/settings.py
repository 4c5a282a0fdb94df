"""The settings wizard: one step per integration, each saved, then checked live; and the runtime settings.

`/t/{slug}/settings/{kind}` (admins only) shows the steps in the seed's order (supabase, amocrm,
radist, gemini, telegram) with each one's status, and the step's form. The form's field names are
the config field names of the README, and saving goes through `cp.configs.set_config` — the same
pydantic models and audit as `synkro config set` — with the version the form was read at, so a
concurrent change is refused instead of overwritten. Secrets are write-only: inputs are never
filled, an empty one keeps the stored value, and the page shows at most `••••1234`.

**Check** runs `synkro.checks.run_check` (the code of `synkro check`, which saves the status) in
a worker thread. With JavaScript the page POSTs with `fetch` and reads an NDJSON stream: one
object per check line, sent as the check adds it (`CheckOptions.on_line`), each carrying the line
rendered by the same template the full page uses, then a final object with the whole result.
Without JavaScript the same POST answers the full page with every line.

Lists the user picks from (Radist companies and connections, Gemini models) are asked of the
services live with the stored key, never written into the code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import zoneinfo
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response, StreamingResponse

from synkro.checks import KINDS, CheckLine, CheckOptions, CheckResult, run_check
from synkro.controlplane import TenantSettings
from synkro.controlplane.configs import ConfigRecord
from synkro.controlplane.errors import BadInputError, ConcurrentUpdateError
from synkro.controlplane.tenants import validate_timezone
from synkro.integrations.schemas import ConfigValidationError, model_for
from synkro.secrets import mask
from synkro.tenant_context import TenantContext
from synkro.web.access import TenantAccess, controlplane, require
from synkro.web.i18n import translate
from synkro.web.templating import TEMPLATES, csrf_token, render, request_lang

router = APIRouter()

NDJSON = "application/x-ndjson"
LIVE_LIST_TIMEOUT = 15.0  # seconds for a live list (companies, models) while the page renders


@dataclass(frozen=True)
class FormField:
    """One input of a step; `name` is the config field name (README's table)."""

    name: str
    widget: str = "text"  # text | url | secret | company | connections | model

    @property
    def secret(self) -> bool:
        return self.widget == "secret"


FIELDS: dict[str, tuple[FormField, ...]] = {
    "supabase": (
        FormField("url", "url"),
        FormField("database_url", "secret"),
        FormField("anon_key", "secret"),
        FormField("service_role_key", "secret"),
    ),
    "amocrm": (
        FormField("subdomain"),
        FormField("base_url", "url"),
        FormField("oauth_url", "url"),  # shown only where the model has it (the Connect amoCRM work)
        FormField("client_id"),
        FormField("client_secret", "secret"),
        FormField("redirect_uri", "url"),
        FormField("long_lived_token", "secret"),
    ),
    "radist": (
        FormField("api_key", "secret"),
        FormField("company_id", "company"),
        FormField("connection_ids", "connections"),
        FormField("base_url", "url"),
    ),
    "gemini": (
        FormField("api_key", "secret"),
        FormField("model", "model"),
        FormField("api_version"),
        FormField("base_url", "url"),
    ),
    "telegram": (
        FormField("bot_token", "secret"),
        FormField("chat_id"),
        FormField("base_url", "url"),
    ),
}
# Secrets the step shows (masked) but does not take as input: amoCRM's OAuth pair comes from Connect.
SHOWN_SECRETS = {"amocrm": ("access_token", "refresh_token")}

# Runtime settings on /t/{slug}/settings: (name, widget). `rubric` (a JSON document) stays on the CLI.
SETTINGS_FIELDS: tuple[tuple[str, str], ...] = (
    ("day_boundary", "time"),
    ("run_time", "time"),
    ("schedule_enabled", "bool"),
    ("mode", "mode"),
    ("min_dialogs", "number"),
    ("ai_max_dialogs", "number"),
    ("ai_max_tokens", "number"),
    ("gemini_rpm", "number"),
    ("forced_lookback_days", "number"),
    ("forced_max_window_hours", "number"),
    ("followup_window_minutes", "number"),
    ("working_hours", "text"),
    ("working_days", "text"),
    ("holidays", "text"),
    ("context_messages", "number"),
    ("risky_dialogs_limit", "number"),
    ("stale_after_hours", "number"),
    ("phone_region", "text"),
    ("language", "text"),
    ("mask_pii", "bool"),
    ("ai_monthly_budget_usd", "optional_number"),
    ("ai_batch", "choice"),
    ("ai_batch_max_wait_minutes", "number"),
    ("ai_escalation_model", "optional_text"),
    ("ai_escalation_min_price", "optional_number"),
    ("ai_escalation_min_confidence", "number"),
)
MODES = ("amocrm_radist", "amocrm_only", "radist_only")
# Options of the `choice` widget, each labelled by `settings.choice.<name>.<option>`.
CHOICES: dict[str, tuple[str, ...]] = {"ai_batch": ("auto", "never", "always")}
# Fields an empty input clears (the setting is then off / unlimited).
OPTIONAL_WIDGETS = ("optional_number", "optional_text")


def _kind_or_404(kind: str) -> str:
    if kind not in KINDS:
        raise HTTPException(status_code=404)
    return kind


def status_of(record: ConfigRecord | None) -> str:
    """not configured / saved / checked OK / failing, as `_config_status.html` tells them apart."""
    if record is None:
        return "none"
    return {"ok": "ok", "error": "error"}.get(record.status, "saved")


def line_status(line: CheckLine) -> str:
    return {True: "ok", None: "warn", False: "fail"}[line.ok]


# -- reading the stored config for the form -----------------------------------------------------


def public_values(record: ConfigRecord | None) -> dict[str, str]:
    """What the form is filled with: the stored public fields as text (defaults stay placeholders)."""
    if record is None:
        return {}
    values: dict[str, str] = {}
    for name, value in record.config.public_dict().items():
        if isinstance(value, list):
            values[name] = ", ".join(str(v) for v in value)
        else:
            values[name] = str(value)
    return values


def stored_masks(record: ConfigRecord | None) -> dict[str, str]:
    """`••••1234` for every stored secret: the most the page ever shows of one."""
    if record is None:
        return {}
    return {name: mask(value) for name, value in record.config.secret_dict().items()}


def placeholders(kind: str, redirect_uri: str) -> dict[str, str]:
    """Defaults the model applies when a field is left empty, shown as placeholders."""
    model = model_for(kind)
    shown: dict[str, str] = {}
    for name, info in model.model_fields.items():
        if info.default not in (None, [], "") and not callable(info.default):
            shown[name] = str(info.default)
    if getattr(model, "default_base_url", None):
        shown["base_url"] = model.default_base_url
    if kind == "amocrm":
        shown["base_url"] = "https://{subdomain}.amocrm.ru"
        shown["redirect_uri"] = redirect_uri
    return shown


# -- live lists ---------------------------------------------------------------------------------


def radist_choices(record: ConfigRecord | None) -> dict[str, Any]:
    """Companies the stored key sees and, with a company chosen, its chat sources (connections)."""
    if record is None:
        return {}
    from synkro.clients.radist import RadistClient, RadistError

    config = record.config
    key = config.secret_dict().get("api_key", "")
    base = config.effective_base_url
    out: dict[str, Any] = {}
    try:
        with RadistClient(base, key, config.company_id, timeout=LIVE_LIST_TIMEOUT, max_attempts=1) as client:
            out["companies"] = [
                {"id": int(c["id"]), "name": c.get("name") or ""}
                for c in client.companies()
                if c.get("id") is not None
            ]
            if config.company_id is not None:
                labels: dict[int, dict] = {}
                # The `connections` scope is optional: chat sources carry the ids, this only names them.
                with contextlib.suppress(RadistError):
                    labels = {int(c["id"]): c for c in client.connections() if c.get("id") is not None}
                out["connections"] = [
                    {
                        "id": int(s["connection_id"]),
                        "type": str(s.get("type") or ""),
                        "name": str((labels.get(int(s["connection_id"])) or {}).get("name") or ""),
                    }
                    for s in client.sources()
                    if s.get("connection_id") is not None
                ]
    except RadistError as exc:
        out["error"] = str(exc)
    return out


def gemini_choices(record: ConfigRecord | None) -> dict[str, Any]:
    """Models of the stored key that support generateContent, listed live."""
    if record is None:
        return {}
    from synkro.analysis.gemini import GeminiFatalError, list_models

    try:
        return {"models": list_models(record.config)}
    except GeminiFatalError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # network trouble: the page still works, with a text field
        return {"error": f"{type(exc).__name__}: {exc}"}


# -- pages --------------------------------------------------------------------------------------


def step_page(
    request: Request,
    access: TenantAccess,
    kind: str,
    *,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    general_errors: list[str] | None = None,
    notice: tuple[str, str] | None = None,
    result: CheckResult | None = None,
    sql: str | None = None,
) -> Response:
    cp = controlplane(request)
    records = {k: cp.configs.find_record(access.slug, k) for k in KINDS}
    record = records[kind]
    redirect_uri = request.app.state.config.amocrm_redirect_uri
    shown = public_values(record) if values is None else values
    if kind == "amocrm" and not shown.get("redirect_uri") and values is None:
        shown = {**shown, "redirect_uri": redirect_uri}
    choices: dict[str, Any] = {}
    if kind == "radist":
        choices = radist_choices(record)
    elif kind == "gemini":
        choices = gemini_choices(record)
    known = model_for(kind).model_fields
    return render(
        request,
        "settings_step.html",
        status_code=status_code,
        section="settings",
        kinds=KINDS,
        kind=kind,
        records=records,
        record=record,
        step_status={k: status_of(r) for k, r in records.items()},
        fields=[f for f in FIELDS[kind] if f.name in known],
        values=shown,
        masks=stored_masks(record),
        shown_secrets=SHOWN_SECRETS.get(kind, ()),
        placeholders=placeholders(kind, redirect_uri),
        errors=errors or {},
        general_errors=general_errors or [],
        notice=notice,
        result=result,
        choices=choices,
        sql=sql,
        version=record.version if record else 0,
        redirect_uri=redirect_uri,
        amocrm_expires=_expiry(record),
        line_status=line_status,
    )


def _expiry(record: ConfigRecord | None) -> datetime | None:
    expires = getattr(record.config, "expires_at", None) if record else None
    return datetime.fromtimestamp(expires, UTC) if expires else None


@router.get("/t/{slug}/settings/{kind}")
def step(
    request: Request, kind: str, sql: int = 0, access: TenantAccess = Depends(require("admin"))
) -> Response:
    kind = _kind_or_404(kind)
    script = None
    if kind == "supabase" and sql:
        from synkro.supabase_setup import setup_sql

        script = setup_sql(access.slug)
    return step_page(request, access, kind, sql=script)


@router.get("/t/{slug}/settings/supabase/sql")
def supabase_sql(request: Request, access: TenantAccess = Depends(require("admin"))) -> Response:
    """The tenant's one-time Supabase SQL as a file (`synkro supabase sql SLUG`)."""
    from synkro.supabase_setup import setup_sql

    return Response(
        setup_sql(access.slug),
        media_type="application/sql; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="synkro-{access.slug}-supabase.sql"'},
    )


# -- saving a step ------------------------------------------------------------------------------


def _form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def form_patch(
    kind: str, form: FormData, record: ConfigRecord | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """(patch for set_config, the typed public values to show again). Secrets are never shown again."""
    stored_public = record.config.public_dict() if record else {}
    stored_secret = set(record.config.secret_dict()) if record else set()
    patch: dict[str, Any] = {}
    typed: dict[str, str] = {}
    clear = set(form.getlist("clear"))
    known = model_for(kind).model_fields
    for f in FIELDS[kind]:
        if f.name not in known:
            continue
        if f.secret:
            value = _form_text(form, f.name)
            if value:
                patch[f.name] = value
            elif f.name in clear and f.name in stored_secret:
                patch[f.name] = None
            continue
        if f.widget == "connections":
            parts = [
                part.strip()
                for raw in form.getlist(f.name)
                if isinstance(raw, str)
                for part in raw.split(",")
                if part.strip()
            ]
            typed[f.name] = ", ".join(parts)
            if parts:
                patch[f.name] = parts
            elif stored_public.get(f.name):
                patch[f.name] = None
            continue
        value = _form_text(form, f.name)
        typed[f.name] = value
        if value:
            patch[f.name] = value
        elif f.name in stored_public:
            patch[f.name] = None  # emptied: back to the default
    for name in SHOWN_SECRETS.get(kind, ()):
        if name in clear and name in stored_secret:
            patch[name] = None
    return patch, typed


def field_errors(kind: str, problems: list[tuple[str, str]]) -> tuple[dict[str, list[str]], list[str]]:
    """Problems by form field; those naming no field of the form go above it."""
    names = {f.name for f in FIELDS[kind]}
    by_field: dict[str, list[str]] = {}
    general: list[str] = []
    for field, message in problems:
        named = [part.strip().split(".")[0] for part in field.split(",")]
        shown = [name for name in named if name in names]
        for name in shown:
            by_field.setdefault(name, []).append(message)
        if not shown:
            general.append(f"{field}: {message}")
    return by_field, general


@router.post("/t/{slug}/settings/{kind}")
async def save_step(
    request: Request, kind: str, access: TenantAccess = Depends(require("admin"))
) -> Response:
    kind = _kind_or_404(kind)
    form = await request.form()
    return await asyncio.to_thread(_save_step, request, access, kind, form)


def _save_step(request: Request, access: TenantAccess, kind: str, form: FormData) -> Response:
    cp = controlplane(request)
    record = cp.configs.find_record(access.slug, kind)
    try:
        version = int(_form_text(form, "version") or "0")
    except ValueError:
        raise HTTPException(status_code=400, detail="version") from None
    patch, typed = form_patch(kind, form, record)
    try:
        cp.configs.set_config(access.slug, kind, patch, actor=access.user.email, expected_version=version)
    except ConfigValidationError as exc:
        errors, general = field_errors(kind, exc.problems)
        return step_page(
            request,
            access,
            kind,
            status_code=400,
            values=typed,
            errors=errors,
            general_errors=general,
            notice=("fail", "settings.not_saved"),
        )
    except ConcurrentUpdateError:
        return step_page(request, access, kind, status_code=409, notice=("fail", "settings.conflict"))
    return step_page(request, access, kind, notice=("ok", "settings.saved"))


# -- checking a step ----------------------------------------------------------------------------


def check_options(kind: str, form: FormData) -> CheckOptions:
    action = _form_text(form, "action")
    return CheckOptions(
        sample=3 if kind == "amocrm" else 0,
        send_test=kind == "telegram" and action == "send_test",
    )


def _tenant_context(request: Request, access: TenantAccess) -> TenantContext:
    cp = controlplane(request)
    return TenantContext(cp=cp, tenant=access.tenant, settings=cp.settings.get_settings(access.slug))


def fragment(request: Request, name: str, **context: Any) -> str:
    """A template rendered to text with the page's context: one look for a line, live or not."""
    lang = request_lang(request)
    base = {
        "request": request,
        "lang": lang,
        "t": lambda key, **values: translate(lang, key, **values),
        "access": getattr(request.state, "access", None),
        "csrf_token": lambda: csrf_token(request),
    }
    return TEMPLATES.get_template(name).render(base | context)


@router.post("/t/{slug}/settings/{kind}/check")
async def check_step(
    request: Request, kind: str, access: TenantAccess = Depends(require("admin"))
) -> Response:
    kind = _kind_or_404(kind)
    form = await request.form()
    cp = controlplane(request)
    if await asyncio.to_thread(cp.configs.find_record, access.slug, kind) is None:
        return await asyncio.to_thread(
            step_page, request, access, kind, status_code=409, notice=("fail", "settings.check_unsaved")
        )
    options = check_options(kind, form)
    if NDJSON in request.headers.get("accept", ""):
        request_lang(request)  # resolved now, while the request's session is at hand
        return StreamingResponse(
            _stream_check(request, access, kind, options),
            media_type=NDJSON,
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    def work() -> CheckResult:
        return run_check(_tenant_context(request, access), kind, options)

    result = await asyncio.to_thread(work)
    return await asyncio.to_thread(step_page, request, access, kind, result=result)


def _event(payload: dict[str, Any]) -> bytes:
    return (json.dumps(payload, ensure_ascii=False) + "\n").encode()


async def _stream_check(
    request: Request, access: TenantAccess, kind: str, options: CheckOptions
) -> AsyncIterator[bytes]:
    """Lines as the check thread adds them, then the whole result (the last word on every line:
    a check may still amend a line it added, e.g. amoCRM's refresh-token line after a refresh)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[CheckLine | None] = asyncio.Queue()

    def on_line(line: CheckLine) -> None:  # called in the check's thread
        copy = CheckLine(line.name, line.ok, line.detail)
        loop.call_soon_threadsafe(queue.put_nowait, copy)

    options = CheckOptions(sample=options.sample, send_test=options.send_test, on_line=on_line)

    def work() -> CheckResult:
        return run_check(_tenant_context(request, access), kind, options)

    future = loop.run_in_executor(None, work)
    future.add_done_callback(lambda _: queue.put_nowait(None))
    yield _event({"type": "start", "kind": kind})
    while (line := await queue.get()) is not None:
        html = fragment(request, "settings_check_line.html", line=line, status=line_status(line))
        yield _event({"type": "line", "status": line_status(line), "name": line.name, "html": html})
    try:
        result = future.result()
    except Exception as exc:  # run_check turns check errors into lines; this is the DB failing
        result = CheckResult(kind)
        result.add("check", False, type(exc).__name__)
    record = await asyncio.to_thread(controlplane(request).configs.find_record, access.slug, kind)
    html = fragment(request, "settings_check_results.html", result=result, kind=kind, line_status=line_status)
    badge = fragment(request, "_config_status.html", record=record)
    yield _event({"type": "done", "ok": result.ok, "html": html, "status_html": badge})


# -- runtime settings ---------------------------------------------------------------------------


def _shown(value: Any) -> Any:
    """A whole-number float as typed (300000, not 300000.0)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def settings_values(settings: TenantSettings, timezone: str) -> dict[str, Any]:
    values: dict[str, Any] = {name: _shown(getattr(settings, name)) for name, _ in SETTINGS_FIELDS}
    values["timezone"] = timezone
    return values


def runtime_page(
    request: Request,
    access: TenantAccess,
    *,
    status_code: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    notice: tuple[str, str] | None = None,
) -> Response:
    cp = controlplane(request)
    records = {k: cp.configs.find_record(access.slug, k) for k in KINDS}
    current = cp.settings.get_settings(access.slug)
    defaults = TenantSettings()
    return render(
        request,
        "settings_runtime.html",
        status_code=status_code,
        section="settings",
        kinds=KINDS,
        kind=None,
        records=records,
        step_status={k: status_of(r) for k, r in records.items()},
        values=values or settings_values(current, access.tenant.timezone),
        defaults={name: getattr(defaults, name) for name, _ in SETTINGS_FIELDS},
        settings_fields=SETTINGS_FIELDS,
        modes=MODES,
        choices=CHOICES,
        timezones=sorted(zoneinfo.available_timezones()),
        errors=errors or {},
        notice=notice,
        rubric_version=current.rubric_version,
        custom_rubric=current.rubric is not None,
    )


@router.get("/t/{slug}/settings")
def runtime(request: Request, access: TenantAccess = Depends(require("admin"))) -> Response:
    return runtime_page(request, access)


def settings_changes(form: FormData) -> tuple[dict[str, Any], dict[str, Any]]:
    """(changes for update_settings, the typed values to show again)."""
    changes: dict[str, Any] = {}
    typed: dict[str, Any] = {}
    for name, widget in SETTINGS_FIELDS:
        if widget == "bool":
            value: Any = form.get(name) in ("on", "true", "1")
            typed[name] = value
        else:
            value = _form_text(form, name)
            typed[name] = value
            if widget == "text":
                value = value.upper() if name == "phone_region" else value.lower()
            if widget in OPTIONAL_WIDGETS and not value:
                value = None
        changes[name] = value
    typed["timezone"] = _form_text(form, "timezone")
    return changes, typed


@router.post("/t/{slug}/settings")
async def save_runtime(request: Request, access: TenantAccess = Depends(require("admin"))) -> Response:
    form = await request.form()
    return await asyncio.to_thread(_save_runtime, request, access, form)


def _save_runtime(request: Request, access: TenantAccess, form: FormData) -> Response:
    cp = controlplane(request)
    changes, typed = settings_changes(form)
    errors: dict[str, list[str]] = {}
    timezone = typed["timezone"]
    try:
        validate_timezone(timezone)
    except BadInputError:
        errors["timezone"] = [translate(request_lang(request), "settings.bad_timezone")]
    current = cp.settings.get_settings(access.slug)
    try:  # the repository's own model, to name each bad field before anything is written
        TenantSettings.model_validate(current.model_dump(mode="json") | changes)
    except ValidationError as exc:
        for item in exc.errors(include_input=False, include_url=False):
            name = str(item["loc"][0]) if item["loc"] else "(settings)"
            errors.setdefault(name, []).append(str(item["msg"]).removeprefix("Value error, "))
    if errors:
        return runtime_page(
            request,
            access,
            status_code=400,
            values=typed,
            errors=errors,
            notice=("fail", "settings.not_saved"),
        )
    changed = {
        name: value for name, value in changes.items() if getattr(current, name) != _coerced(name, value)
    }
    try:
        if changed:
            cp.settings.update_settings(access.slug, actor=access.user.email, **changed)
        if timezone != access.tenant.timezone:
            cp.tenants.update(access.slug, timezone=timezone, actor=access.user.email)
    except BadInputError as exc:  # validated above; a race with another writer lands here
        return runtime_page(
            request,
            access,
            status_code=400,
            values=typed,
            errors={"(settings)": [str(exc)]},
            notice=("fail", "settings.not_saved"),
        )
    access = TenantAccess(access.user, cp.tenants.get(access.slug), access.role, access.amocrm_user_id)
    request.state.access = access
    return runtime_page(request, access, notice=("ok", "settings.runtime_saved"))


def _coerced(name: str, value: Any) -> Any:
    return getattr(TenantSettings.model_validate({name: value}), name)
