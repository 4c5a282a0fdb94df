"""A tenant's people, managed by its admin: `/t/{slug}/users`.

Who may do what, checked here on the server whatever the form sent:
- the page and every action need `admin` in this tenant (or super_admin); another tenant's page
  answers 404 like any other;
- only this tenant's grants are listed and touched: a user appears when they hold a role *in this
  tenant*, and changing or removing acts on those grants only;
- the roles on offer are `admin`, `viewer` and `manager` (with their amoCRM user id): nobody
  becomes super_admin or gets a global role here;
- a password is set here only for someone whose every role is in this tenant (a tenant admin
  must not be able to take over an account that reaches other companies); super_admins may
  reset anyone's. A reset ends the user's sessions (`cp.accounts.set_password`);
- an admin does not change or remove their own grants here (no locking oneself out by a click).

Every change goes through `cp.users` / `cp.accounts` with the signed-in email as the audit actor.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from starlette.responses import RedirectResponse, Response

from synkro.controlplane import ControlPlane, ControlPlaneError
from synkro.controlplane.accounts import MIN_PASSWORD_LENGTH, validate_password
from synkro.controlplane.errors import BadInputError, NotFoundError
from synkro.controlplane.users import RoleGrant, User, validate_email
from synkro.web.access import TenantAccess, controlplane, require
from synkro.web.templating import render

router = APIRouter()

TENANT_ROLES = ("admin", "viewer", "manager")
NOTICES = ("added", "added_existing", "role", "removed", "password")


def members(cp: ControlPlane, slug: str) -> list[tuple[User, list[RoleGrant]]]:
    """Users holding a role in this tenant, each with only this tenant's grants."""
    found = []
    for user in cp.users.list(tenant=slug):
        grants = [g for g in user.roles if g.tenant == slug]
        if grants:
            found.append((user, grants))
    return found


def member(cp: ControlPlane, slug: str, user_id: int) -> tuple[User, list[RoleGrant]]:
    user = cp.users.get_by_id(user_id)
    grants = [g for g in user.roles if g.tenant == slug] if user else []
    if user is None or not grants:
        raise HTTPException(status_code=404)
    return user, grants


def page(
    request: Request,
    access: TenantAccess,
    *,
    status_code: int = 200,
    form: dict | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    row_error: tuple[int, str] | None = None,
) -> Response:
    notice = request.query_params.get("done")
    return render(
        request,
        "users.html",
        status_code=status_code,
        section="users",
        members=members(controlplane(request), access.slug),
        roles=TENANT_ROLES,
        form=form or {"email": "", "role": "viewer", "amocrm_user_id": ""},
        errors=errors or {},
        error=error,
        row_error=row_error,
        notice=notice if notice in NOTICES else None,
        min_password=MIN_PASSWORD_LENGTH,
    )


def _done(access: TenantAccess, notice: str) -> Response:
    return RedirectResponse(f"/t/{access.slug}/users?done={notice}", status_code=303)


def _role_and_amocrm(role: str, amocrm_user_id: str, errors: dict[str, str]) -> int | None:
    """The role must be one a tenant admin may grant; a manager needs their amoCRM user id."""
    if role not in TENANT_ROLES:
        errors["role"] = "users.error.role"
        return None
    if role != "manager":
        return None
    try:
        value = int(amocrm_user_id)
    except ValueError:
        value = 0
    if value <= 0:
        errors["amocrm_user_id"] = "users.error.amocrm"
        return None
    return value


def _may_set_password(access: TenantAccess, target: User) -> bool:
    if access.user.is_super_admin:
        return True
    return bool(target.roles) and all(g.tenant == access.slug for g in target.roles)


@router.get("/t/{slug}/users")
def users_page(request: Request, access: TenantAccess = Depends(require("admin"))) -> Response:
    return page(request, access)


@router.post("/t/{slug}/users")
def add_user(
    request: Request,
    email: str = Form(""),
    role: str = Form(""),
    amocrm_user_id: str = Form(""),
    password: str = Form(""),
    access: TenantAccess = Depends(require("admin")),
) -> Response:
    cp = controlplane(request)
    actor = access.user.email
    form = {"email": email.strip(), "role": role, "amocrm_user_id": amocrm_user_id.strip()}
    errors: dict[str, str] = {}
    try:
        email = validate_email(email)
    except BadInputError:
        errors["email"] = "users.error.email"
    amocrm = _role_and_amocrm(role, amocrm_user_id.strip(), errors)
    target = None
    if not errors:
        try:
            target = cp.users.get(email)
        except NotFoundError:
            target = None
        if target is not None and any(g.tenant == access.slug for g in target.roles):
            errors["email"] = "users.error.member"
    if target is None and not errors:
        try:
            validate_password(password)
        except BadInputError:
            errors["password"] = "users.error.password"
    if errors:
        return page(request, access, status_code=400, form=form, errors=errors)
    try:
        if target is None:
            cp.users.add(email, actor=actor)
            cp.accounts.set_password(email, password, actor=actor)
        cp.users.grant(email, role, access.slug, amocrm_user_id=amocrm, actor=actor)
    except ControlPlaneError as exc:
        return page(request, access, status_code=400, form=form, error=str(exc))
    # An account that already existed keeps its password: it may reach other companies too.
    return _done(access, "added" if target is None else "added_existing")


@router.post("/t/{slug}/users/{user_id}/role")
def change_role(
    request: Request,
    user_id: int,
    role: str = Form(""),
    amocrm_user_id: str = Form(""),
    access: TenantAccess = Depends(require("admin")),
) -> Response:
    cp = controlplane(request)
    target, grants = member(cp, access.slug, user_id)
    if target.id == access.user.id:
        return page(request, access, status_code=409, row_error=(user_id, "users.error.own"))
    errors: dict[str, str] = {}
    amocrm = _role_and_amocrm(role, amocrm_user_id.strip(), errors)
    if errors:
        return page(request, access, status_code=400, row_error=(user_id, next(iter(errors.values()))))
    actor = access.user.email
    try:
        cp.users.grant(target.email, role, access.slug, amocrm_user_id=amocrm, actor=actor)
        for grant in grants:
            if grant.role != role:
                cp.users.revoke(target.email, grant.role, access.slug, actor=actor)
    except ControlPlaneError as exc:
        return page(request, access, status_code=400, error=str(exc))
    return _done(access, "role")


@router.post("/t/{slug}/users/{user_id}/remove")
def remove_user(request: Request, user_id: int, access: TenantAccess = Depends(require("admin"))) -> Response:
    cp = controlplane(request)
    target, grants = member(cp, access.slug, user_id)
    if target.id == access.user.id:
        return page(request, access, status_code=409, row_error=(user_id, "users.error.own"))
    try:
        for grant in grants:
            cp.users.revoke(target.email, grant.role, access.slug, actor=access.user.email)
    except NotFoundError:
        pass  # removed meanwhile: the outcome asked for
    return _done(access, "removed")


@router.post("/t/{slug}/users/{user_id}/password")
def reset_password(
    request: Request,
    user_id: int,
    password: str = Form(""),
    access: TenantAccess = Depends(require("admin")),
) -> Response:
    cp = controlplane(request)
    target, _ = member(cp, access.slug, user_id)
    if not _may_set_password(access, target):
        return page(request, access, status_code=403, row_error=(user_id, "users.error.password_elsewhere"))
    try:
        validate_password(password)
    except BadInputError:
        return page(request, access, status_code=400, row_error=(user_id, "users.error.password"))
    cp.accounts.set_password(target.email, password, actor=access.user.email)
    return _done(access, "password")
