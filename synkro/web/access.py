"""Who is signed in, and what they may do in a tenant: every route asks here, on the server.

The rules, in one place:
- not signed in: pages redirect to `/login?next=…`, other requests answer 401;
- a tenant the user holds no role in answers 404, exactly as a tenant that does not exist, so a
  probe learns nothing about other companies;
- a role too weak for the action answers 403.

Roles rank `manager` < `viewer` < `admin` < `super_admin`; a `super_admin` may act in every tenant.
A `manager` reads only the dialogs of their own amoCRM user (`TenantAccess.amocrm_user_id`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request

from synkro.controlplane import ControlPlane, Tenant
from synkro.controlplane.errors import NotFoundError
from synkro.controlplane.users import User

T = TypeVar("T")
RANK = {"manager": 1, "viewer": 2, "admin": 3, "super_admin": 4}


class SignInRequired(Exception):
    """Raised for a request without a valid session; the app turns it into a redirect or a 401."""

    def __init__(self, next_path: str):
        self.next_path = next_path
        super().__init__(next_path)


@dataclass(frozen=True)
class TenantAccess:
    """The signed-in user's standing in one tenant."""

    user: User
    tenant: Tenant
    role: str
    amocrm_user_id: int | None = None

    def at_least(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]

    @property
    def slug(self) -> str:
        return self.tenant.slug


def controlplane(request: Request) -> ControlPlane:
    return request.app.state.cp


def optional_user(request: Request) -> User | None:
    """The user of the request's session cookie (cached on the request), or None."""
    if not hasattr(request.state, "user"):
        token = request.session.get("token") if "session" in request.scope else None
        request.state.user = controlplane(request).accounts.session_user(token) if token else None
    return request.state.user


def signed_in(request: Request) -> User:
    user = optional_user(request)
    if user is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(quote(path, safe="/?=&"))
    return user


def role_in(user: User, slug: str) -> tuple[str, int | None] | None:
    """The strongest role `user` holds in tenant `slug` (and a manager's amoCRM user), or None."""
    if user.is_super_admin:
        return "super_admin", None
    grants = user.grants_in(slug)
    if not grants:
        return None
    best = max(grants, key=lambda g: RANK[g.role])
    return best.role, best.amocrm_user_id


def tenant_access(request: Request, slug: str, need: str) -> TenantAccess:
    """The user's access to `slug`, or 404 (not theirs / not there) or 403 (role too weak)."""
    user = signed_in(request)
    held = role_in(user, slug)
    if held is None:
        raise HTTPException(status_code=404)
    try:
        tenant = controlplane(request).tenants.get(slug)
    except NotFoundError:
        raise HTTPException(status_code=404) from None
    access = TenantAccess(user, tenant, held[0], held[1])
    if not access.at_least(need):
        raise HTTPException(status_code=403)
    request.state.access = access
    return access


def require(need: str):
    """A route dependency: `access: TenantAccess = Depends(require("admin"))` for `/t/{slug}/…`."""

    def dependency(request: Request, slug: str) -> TenantAccess:
        return tenant_access(request, slug, need)

    return dependency


def owned_by_tenant(access: TenantAccess, fetch: Callable[[int], T], record_id: int) -> T:
    """A tenant's record (run, report, …) by id, or 404 — a record of another tenant included."""
    try:
        record = fetch(record_id)
    except NotFoundError:
        raise HTTPException(status_code=404) from None
    if record.tenant != access.slug:
        raise HTTPException(status_code=404)
    return record


def require_super_admin(user: User = Depends(signed_in)) -> User:
    if not user.is_super_admin:
        raise HTTPException(status_code=403)
    return user


def tenants_of(request: Request, user: User) -> list[Tenant]:
    """The tenants `user` may open, for the home page and the tenant switcher."""
    tenants = controlplane(request).tenants.list()
    if user.is_super_admin:
        return tenants
    return [t for t in tenants if user.grants_in(t.slug)]
