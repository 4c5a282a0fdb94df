# ruff: noqa: RUF012  (sqladmin is configured through mutable class attributes, by design)
"""The admin's views: read-only sqladmin lists, and our own pages for every change.

Lists and detail pages come from sqladmin (`ReadOnlyView`: no create/edit/delete/export, so no
write path bypasses the repositories). Changes are `@expose`d pages on the same views, each a
POST carrying the CSRF token, each calling one control plane repository with the signed-in
super_admin as the audit actor:

    /admin/tenant/new                    cp.tenants.create
    /admin/tenant/status/{id}            cp.tenants.set_status
    /admin/user/new                      cp.users.add (+ cp.accounts.set_password)
    /admin/user/grant/{id}               cp.users.grant
    /admin/user/revoke/{id}              cp.users.revoke
    /admin/user/password/{id}            cp.accounts.set_password (ends the user's sessions)
    /admin/integration-config/secret     cp.configs.set_config (one secret field, write-only)

Configs are shown only as the repository's masked form (`••••1234`); the encrypted column is
neither listed nor shown in details, and a check's error text has the config's own secret
values masked out before display.
"""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup, escape
from sqladmin import ModelView, expose
from sqladmin.i18n import get_locale
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from synkro.controlplane import ControlPlane, ControlPlaneError
from synkro.controlplane.tables import CONFIG_KINDS, ROLES, TENANT_STATUSES
from synkro.controlplane.tenants import DEFAULT_TIMEZONE
from synkro.integrations.schemas import ConfigValidationError, UnknownKindError, model_for
from synkro.redact import for_tenant
from synkro.web.admin import models
from synkro.web.i18n import translate

REFUSED = (ControlPlaneError, ConfigValidationError, UnknownKindError)
BASE = "/admin"


class Label:
    """A label translated when shown: sqladmin reads labels once, at class creation."""

    def __init__(self, key: str):
        self.key = key

    def __str__(self) -> str:
        return translate(get_locale(), self.key)

    def __html__(self) -> str:
        return str(escape(str(self)))

    def __hash__(self) -> int:
        return hash(self.key)


def labels(*names: str) -> dict[str, Label]:
    return {name: Label(f"admin.col.{name}") for name in names}


def _cp(request: Request) -> ControlPlane:
    return request.app.state.cp


def _actor(request: Request) -> str:
    return request.state.user.email


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str) if value else ""


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z") if value else "—"


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value.strip() if isinstance(value, str) else "" for key, value in form.items()}


async def _refused(view: ModelView, request: Request, error: Exception, back: str) -> Response:
    return await view.templates.TemplateResponse(
        request, "admin/refused.html", {"error": str(error), "back": back}, status_code=400
    )


class ReadOnlyView(ModelView):
    """Lists and details only: every write goes through our pages and the repositories."""

    can_create = False
    can_edit = False
    can_delete = False
    can_export = False
    can_import = False
    page_size = 50
    page_size_options = [25, 50, 100]

    def is_accessible(self, request: Request) -> bool:
        user = getattr(request.state, "user", None)
        return user is not None and user.is_super_admin

    async def get_object_filepath(self, identifier: str, column_name: str):
        # sqladmin serves "file" columns at /{identity}/{pk}/{column}/download/; we have none,
        # and that route must not become a way to read a column the views leave out.
        raise HTTPException(status_code=404)

    def search_placeholder(self) -> str:
        return ", ".join(str(self._column_labels.get(name, name)) for name in self._search_fields)


# -- tenants ------------------------------------------------------------------------------------


class TenantView(ReadOnlyView, model=models.Tenant):
    name = Label("admin.tenant")
    name_plural = Label("admin.tenants")
    icon = "fa-solid fa-building"
    column_list = ["id", "slug", "name", "status", "timezone", "created_at"]
    column_details_list = ["id", "slug", "name", "status", "timezone", "created_at", "updated_at"]
    column_searchable_list = ["slug", "name"]
    column_sortable_list = ["id", "slug", "name", "status", "created_at"]
    column_default_sort = "slug"
    column_labels = labels("id", "slug", "name", "status", "timezone", "created_at", "updated_at")
    column_formatters = {
        "created_at": lambda m, a: _when(m.created_at),
        "updated_at": lambda m, a: _when(m.updated_at),
    }
    column_formatters_detail = column_formatters
    list_template = "admin/tenant_list.html"
    details_template = "admin/tenant_details.html"

    async def details_context(self, request: Request) -> dict[str, Any]:
        return {**await super().details_context(request), "statuses": TENANT_STATUSES}

    @expose("/new", methods=["GET", "POST"])
    async def new_tenant(self, request: Request) -> Response:
        values = {"slug": "", "name": "", "timezone": DEFAULT_TIMEZONE}
        error = None
        if request.method == "POST":
            values |= {k: v for k, v in (await _form(request)).items() if k in values}
            try:
                tenant = await run_in_threadpool(
                    _cp(request).tenants.create,
                    values["slug"],
                    values["name"],
                    values["timezone"] or DEFAULT_TIMEZONE,
                    actor=_actor(request),
                )
            except REFUSED as exc:
                error = str(exc)
            else:
                return RedirectResponse(f"{BASE}/tenant/details/{tenant.id}?done=created", status_code=303)
        return await self.templates.TemplateResponse(
            request,
            "admin/tenant_new.html",
            {"values": values, "error": error, "title": Label("admin.tenant.new")},
            status_code=400 if error else 200,
        )

    @expose("/status/{pk:int}", methods=["POST"])
    async def set_status(self, request: Request) -> Response:
        pk = request.path_params["pk"]
        back = f"{BASE}/tenant/details/{pk}"
        slug = await run_in_threadpool(_tenant_slug, _cp(request), pk)
        status = (await _form(request)).get("status", "")
        try:
            await run_in_threadpool(_cp(request).tenants.set_status, slug, status, actor=_actor(request))
        except REFUSED as exc:
            return await _refused(self, request, exc, back)
        return RedirectResponse(f"{back}?done=status", status_code=303)


def _tenant_slug(cp: ControlPlane, tenant_id: int) -> str:
    for tenant in cp.tenants.list():
        if tenant.id == tenant_id:
            return tenant.slug
    raise HTTPException(status_code=404)


# -- users and roles ----------------------------------------------------------------------------


class UserView(ReadOnlyView, model=models.User):
    name = Label("admin.user")
    name_plural = Label("admin.users")
    icon = "fa-solid fa-user"
    # Never `password_hash`: the list and details name their columns explicitly.
    column_list = ["id", "email", "name", "roles", "password_changed_at", "created_at"]
    column_details_list = ["id", "email", "name", "lang", "roles", "password_changed_at", "created_at"]
    column_searchable_list = ["email", "name"]
    column_sortable_list = ["id", "email", "created_at"]
    column_default_sort = "email"
    column_labels = labels("id", "email", "name", "lang", "roles", "password_changed_at", "created_at")
    column_formatters = {
        "created_at": lambda m, a: _when(m.created_at),
        "password_changed_at": lambda m, a: _when(m.password_changed_at),
    }
    column_formatters_detail = column_formatters
    list_template = "admin/user_list.html"
    details_template = "admin/user_details.html"

    async def details_context(self, request: Request) -> dict[str, Any]:
        tenants = await run_in_threadpool(_cp(request).tenants.list)
        return {**await super().details_context(request), "roles": ROLES, "tenants": tenants}

    @expose("/new", methods=["GET", "POST"])
    async def new_user(self, request: Request) -> Response:
        values = {"email": "", "name": ""}
        error = None
        if request.method == "POST":
            form = await _form(request)
            values |= {k: v for k, v in form.items() if k in values}
            try:
                user = await run_in_threadpool(
                    _add_user,
                    _cp(request),
                    values["email"],
                    values["name"],
                    form.get("password", ""),
                    _actor(request),
                )
            except REFUSED as exc:
                error = str(exc)
            else:
                return RedirectResponse(f"{BASE}/user/details/{user.id}?done=created", status_code=303)
        return await self.templates.TemplateResponse(
            request,
            "admin/user_new.html",
            {"values": values, "error": error, "title": Label("admin.user.new")},
            status_code=400 if error else 200,
        )

    @expose("/grant/{pk:int}", methods=["POST"])
    async def grant(self, request: Request) -> Response:
        pk = request.path_params["pk"]
        back = f"{BASE}/user/details/{pk}"
        email = await run_in_threadpool(_user_email, _cp(request), pk)
        form = await _form(request)
        try:
            amocrm = int(form["amocrm_user_id"]) if form.get("amocrm_user_id") else None
            await run_in_threadpool(
                lambda: _cp(request).users.grant(
                    email,
                    form.get("role", ""),
                    form.get("tenant") or None,
                    amocrm_user_id=amocrm,
                    actor=_actor(request),
                )
            )
        except ValueError as exc:  # REFUSED, and a non-numeric amoCRM user id
            return await _refused(self, request, exc, back)
        return RedirectResponse(f"{back}?done=granted", status_code=303)

    @expose("/revoke/{pk:int}", methods=["POST"])
    async def revoke(self, request: Request) -> Response:
        pk = request.path_params["pk"]
        back = f"{BASE}/user/details/{pk}"
        email = await run_in_threadpool(_user_email, _cp(request), pk)
        form = await _form(request)
        try:
            await run_in_threadpool(
                lambda: _cp(request).users.revoke(
                    email, form.get("role", ""), form.get("tenant") or None, actor=_actor(request)
                )
            )
        except REFUSED as exc:
            return await _refused(self, request, exc, back)
        return RedirectResponse(f"{back}?done=revoked", status_code=303)

    @expose("/password/{pk:int}", methods=["POST"])
    async def password(self, request: Request) -> Response:
        pk = request.path_params["pk"]
        back = f"{BASE}/user/details/{pk}"
        email = await run_in_threadpool(_user_email, _cp(request), pk)
        form = await request.form()
        password = form.get("password")
        try:
            await run_in_threadpool(
                lambda: _cp(request).accounts.set_password(
                    email, password if isinstance(password, str) else "", actor=_actor(request)
                )
            )
        except REFUSED as exc:
            return await _refused(self, request, exc, back)
        return RedirectResponse(f"{back}?done=password", status_code=303)


def _add_user(cp: ControlPlane, email: str, name: str, password: str, actor: str):
    from synkro.controlplane.accounts import validate_password
    from synkro.controlplane.users import validate_email

    validate_email(email)
    if password:
        validate_password(password)  # before anything is written
    user = cp.users.add(email, name or None, actor=actor)
    if password:
        cp.accounts.set_password(email, password, actor=actor)
    return user


def _user_email(cp: ControlPlane, user_id: int) -> str:
    user = cp.users.get_by_id(user_id)
    if user is None:
        raise HTTPException(status_code=404)
    return user.email


class UserRoleView(ReadOnlyView, model=models.UserRole):
    name = Label("admin.grant")
    name_plural = Label("admin.grants")
    icon = "fa-solid fa-key"
    column_list = ["id", "user", "role", "tenant", "amocrm_user_id", "granted_at"]
    column_details_list = column_list
    column_sortable_list = ["id", "role", "granted_at"]
    column_default_sort = ("id", True)
    column_labels = labels("id", "user", "role", "tenant", "amocrm_user_id", "granted_at")
    column_formatters = {"granted_at": lambda m, a: _when(m.granted_at)}


# -- integration configs ------------------------------------------------------------------------


def _record(cp: ControlPlane, row: models.IntegrationConfig):
    """The repository's record of a row (decrypted for masking only), or None if unreadable."""
    try:
        return cp.configs.find_record(row.tenant.slug, row.kind)
    except Exception:  # a key that cannot decrypt it, a stored document that no longer validates
        return None


def masked_fields(row: models.IntegrationConfig, _attr: str, request: Request) -> Markup:
    record = _record(request.app.state.cp, row)
    if record is None:
        return Markup('<span class="text-danger">{}</span>').format(
            translate(get_locale(), "admin.config.unreadable")
        )
    lines = [
        Markup("<div><code>{}</code> {}</div>").format(name, "—" if value is None else value)
        for name, value in record.config.masked_dict().items()
        if value not in (None, "", [], {})
    ]
    return Markup("").join(lines)


def masked_error(row: models.IntegrationConfig, _attr: str, request: Request) -> str:
    """The last check's error through the tenant's redactor (rows stored before it existed too)."""
    return for_tenant(request.app.state.cp, row.tenant.slug)(row.last_error)


class IntegrationConfigView(ReadOnlyView, model=models.IntegrationConfig):
    name = Label("admin.config")
    name_plural = Label("admin.configs")
    icon = "fa-solid fa-plug"
    # `public` and `secrets_encrypted` are never listed: `fields` is the repository's masked view.
    column_list = ["id", "tenant", "kind", "fields", "status", "last_checked_at", "updated_at", "version"]
    column_details_list = [
        "id",
        "tenant",
        "kind",
        "fields",
        "status",
        "last_error",
        "last_checked_at",
        "updated_at",
        "version",
    ]
    column_sortable_list = ["id", "kind", "status", "updated_at"]
    column_default_sort = ("id", False)
    column_labels = labels(
        "id", "tenant", "kind", "fields", "status", "last_error", "last_checked_at", "updated_at", "version"
    )
    column_formatters = {
        "fields": masked_fields,
        "last_checked_at": lambda m, a: _when(m.last_checked_at),
        "updated_at": lambda m, a: _when(m.updated_at),
    }
    column_formatters_detail = column_formatters | {"last_error": masked_error}
    list_template = "admin/config_list.html"
    details_template = "admin/config_details.html"

    async def details_context(self, request: Request) -> dict[str, Any]:
        return {**await super().details_context(request), "secret_fields": secret_fields()}

    @expose("/secret", methods=["GET", "POST"])
    async def secret(self, request: Request) -> Response:
        """Set one secret field of a tenant's config: write-only, the value is never shown back."""
        cp = _cp(request)
        values = {"tenant": request.query_params.get("tenant", ""), "field": ""}
        error = None
        if request.method == "POST":
            form = await request.form()
            values = {key: str(form.get(key) or "").strip() for key in values}
            secret = form.get("value")
            kind, _, field = values["field"].partition(":")
            try:
                if field not in secret_fields().get(kind, ()):
                    raise UnknownKindError(values["field"])
                if not isinstance(secret, str) or not secret:
                    raise ConfigValidationError(kind, [(field, "required")])
                record = await run_in_threadpool(
                    lambda: cp.configs.set_config(
                        values["tenant"], kind, {field: secret}, actor=_actor(request)
                    )
                )
                config_id = await run_in_threadpool(_config_id, cp, record.tenant, record.kind)
            except REFUSED as exc:
                error = str(exc)
            else:
                return RedirectResponse(
                    f"{BASE}/integration-config/details/{config_id}?done=secret", status_code=303
                )
        tenants = await run_in_threadpool(cp.tenants.list)
        return await self.templates.TemplateResponse(
            request,
            "admin/config_secret.html",
            {
                "values": values,
                "error": error,
                "tenants": tenants,
                "secret_fields": secret_fields(),
                "title": Label("admin.config.secret"),
            },
            status_code=400 if error else 200,
        )


def secret_fields() -> dict[str, list[str]]:
    return {kind: sorted(model_for(kind).secret_fields()) for kind in CONFIG_KINDS}


def _config_id(cp: ControlPlane, slug: str, kind: str) -> int:
    from sqlalchemy import select

    from synkro.controlplane.tables import integration_configs, tenants

    with cp.engine.connect() as conn:
        return conn.execute(
            select(integration_configs.c.id)
            .join(tenants, tenants.c.id == integration_configs.c.tenant_id)
            .where(tenants.c.slug == slug, integration_configs.c.kind == kind)
        ).scalar_one()


# -- runs, reports, audit -----------------------------------------------------------------------


class JobRunView(ReadOnlyView, model=models.JobRun):
    name = Label("admin.run")
    name_plural = Label("admin.runs")
    icon = "fa-solid fa-play"
    column_list = [
        "id",
        "tenant",
        "job",
        "trigger",
        "status",
        "step",
        "window_start",
        "created_at",
        "finished_at",
    ]
    column_details_list = [
        "id",
        "tenant",
        "job",
        "trigger",
        "status",
        "step",
        "progress",
        "window_start",
        "window_end",
        "attempt",
        "dagster_run_id",
        "error",
        "details",
        "created_at",
        "started_at",
        "finished_at",
    ]
    column_sortable_list = ["id", "status", "created_at"]
    column_default_sort = ("id", True)
    column_labels = labels(*column_details_list)
    column_formatters = {
        name: (lambda attr: lambda m, a: _when(getattr(m, attr)))(name)
        for name in ("window_start", "window_end", "created_at", "started_at", "finished_at")
    } | {"details": lambda m, a: _json(m.details)}
    column_formatters_detail = column_formatters


class ReportView(ReadOnlyView, model=models.Report):
    name = Label("admin.report")
    name_plural = Label("admin.reports")
    icon = "fa-solid fa-file-lines"
    # The report document itself opens in the tenant's reports page (`open`).
    column_list = ["id", "tenant", "report_type", "window_start", "status", "sent_at", "open"]
    column_details_list = [
        "id",
        "tenant",
        "report_type",
        "window_start",
        "window_end",
        "status",
        "summary",
        "job_run_id",
        "error",
        "delivery",
        "created_at",
        "sent_at",
        "open",
    ]
    column_sortable_list = ["id", "status", "window_start"]
    column_default_sort = ("id", True)
    column_labels = labels(*column_details_list)
    column_formatters = {
        name: (lambda attr: lambda m, a: _when(getattr(m, attr)))(name)
        for name in ("window_start", "window_end", "created_at", "sent_at")
    } | {
        "delivery": lambda m, a: _json(m.delivery),
        "open": lambda m, a: Markup('<a href="/t/{}/reports/{}">↗</a>').format(m.tenant.slug, m.id),
    }
    column_formatters_detail = column_formatters


class AuditView(ReadOnlyView, model=models.AuditEntry):
    name = Label("admin.audit")
    name_plural = Label("admin.audit")
    icon = "fa-solid fa-clipboard-list"
    column_list = ["id", "at", "actor", "tenant", "action", "details"]
    column_details_list = column_list
    column_searchable_list = ["actor", "tenant", "action"]
    column_sortable_list = ["id", "at", "actor", "action"]
    column_default_sort = ("id", True)
    column_labels = labels(*column_list)
    column_formatters = {"at": lambda m, a: _when(m.at), "details": lambda m, a: _json(m.details)}
    column_formatters_detail = column_formatters


VIEWS = [TenantView, UserView, UserRoleView, IntegrationConfigView, JobRunView, ReportView, AuditView]
