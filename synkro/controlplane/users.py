"""Users and roles. `super_admin` is global; `admin`, `viewer` and `manager` are per tenant.

`admin` runs the tenant (settings, users, runs); `viewer` reads every report and dialog; `manager`
sees only the dialogs whose responsible amoCRM user is theirs (`amocrm_user_id` on the grant).

A user may hold roles in several tenants. Emails are stored lowercased so that the same person is
never two users.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from synkro.controlplane.errors import AlreadyExistsError, BadInputError, NotFoundError
from synkro.controlplane.tables import ROLES, tenants, user_roles, users
from synkro.controlplane.tenants import validate_slug

if TYPE_CHECKING:
    from synkro.controlplane import ControlPlane

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def validate_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise BadInputError(f"invalid email address {email!r}")
    return email


def validate_role(role: str, tenant: str | None) -> str:
    if role not in ROLES:
        raise BadInputError(f"invalid role {role!r}; expected one of: {', '.join(ROLES)}")
    if role == "super_admin" and tenant is not None:
        raise BadInputError("super_admin is a global role; grant it without --tenant")
    if role == "manager" and tenant is None:
        raise BadInputError("manager is a per-tenant role; grant it with --tenant SLUG")
    return role


def validate_amocrm_user_id(role: str, amocrm_user_id: int | None) -> int | None:
    """A manager sees the dialogs of one amoCRM user: the id is required for them, refused otherwise."""
    if role == "manager":
        if amocrm_user_id is None:
            raise BadInputError("a manager needs --amocrm-user-id: the amoCRM user whose dialogs they see")
        if amocrm_user_id <= 0:
            raise BadInputError(f"invalid amoCRM user id {amocrm_user_id!r}; expected a positive number")
        return amocrm_user_id
    if amocrm_user_id is not None:
        raise BadInputError("--amocrm-user-id applies only to the manager role")
    return None


@dataclass(frozen=True)
class RoleGrant:
    role: str
    tenant: str | None  # None = global
    amocrm_user_id: int | None = None  # manager: whose dialogs

    def __str__(self) -> str:
        who = f" (amoCRM user {self.amocrm_user_id})" if self.amocrm_user_id else ""
        return f"{self.role}@{self.tenant}{who}" if self.tenant else f"{self.role} (global)"


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str | None
    created_at: datetime
    roles: list[RoleGrant] = field(default_factory=list)
    has_password: bool = False
    lang: str | None = None

    @property
    def is_super_admin(self) -> bool:
        return any(g.role == "super_admin" for g in self.roles)

    def grants_in(self, tenant: str) -> list[RoleGrant]:
        """The roles this user holds in `tenant` (global admin/viewer grants count in every tenant)."""
        return [g for g in self.roles if g.tenant == tenant or (g.tenant is None and g.role != "super_admin")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "has_password": self.has_password,
            "lang": self.lang,
            "roles": [
                {"role": g.role, "tenant": g.tenant}
                | ({"amocrm_user_id": g.amocrm_user_id} if g.amocrm_user_id else {})
                for g in self.roles
            ],
        }


class UserRepository:
    def __init__(self, cp: ControlPlane):
        self._cp = cp

    def add(self, email: str, name: str | None = None, *, actor: str | None = None) -> User:
        email = validate_email(email)
        try:
            with self._cp.engine.begin() as conn:
                conn.execute(insert(users).values(email=email, name=name))
                self._cp.audit.record(actor, "user.add", None, {"email": email}, conn=conn)
        except IntegrityError:
            raise AlreadyExistsError(f"user {email!r} already exists") from None
        return self.get(email)

    def get(self, email: str) -> User:
        email = validate_email(email)
        with self._cp.engine.connect() as conn:
            user_id = conn.execute(select(users.c.id).where(users.c.email == email)).scalar()
        found = self.get_by_id(user_id) if user_id is not None else None
        if found is None:
            raise NotFoundError(f"user {email!r} not found")
        return found

    def _ids(self, conn, email: str, tenant: str | None) -> tuple[int, int | None]:
        user_id = conn.execute(select(users.c.id).where(users.c.email == email)).scalar()
        if user_id is None:
            raise NotFoundError(f"user {email!r} not found (add it with `synkro user add`)")
        tenant_id = self._cp.tenants.id_of(conn, tenant) if tenant is not None else None
        return user_id, tenant_id

    def grant(
        self,
        email: str,
        role: str,
        tenant: str | None = None,
        *,
        amocrm_user_id: int | None = None,
        actor: str | None = None,
    ) -> User:
        """Grant (or, for a manager, re-point) a role; granting what is held already changes nothing."""
        email = validate_email(email)
        validate_role(role, tenant)
        amocrm_user_id = validate_amocrm_user_id(role, amocrm_user_id)
        if tenant is not None:
            validate_slug(tenant)
        with self._cp.engine.begin() as conn:
            user_id, tenant_id = self._ids(conn, email, tenant)
            existing = conn.execute(
                select(user_roles.c.id, user_roles.c.amocrm_user_id).where(
                    user_roles.c.user_id == user_id,
                    user_roles.c.role == role,
                    user_roles.c.tenant_id.is_(None)
                    if tenant_id is None
                    else user_roles.c.tenant_id == tenant_id,
                )
            ).first()
            details = {"email": email, "role": role}
            if amocrm_user_id is not None:
                details["amocrm_user_id"] = amocrm_user_id
            if existing is None:
                conn.execute(
                    insert(user_roles).values(
                        user_id=user_id, role=role, tenant_id=tenant_id, amocrm_user_id=amocrm_user_id
                    )
                )
                self._cp.audit.record(actor, "user.grant", tenant, details, conn=conn)
            elif existing.amocrm_user_id != amocrm_user_id:
                conn.execute(
                    update(user_roles)
                    .where(user_roles.c.id == existing.id)
                    .values(amocrm_user_id=amocrm_user_id)
                )
                self._cp.audit.record(actor, "user.grant", tenant, details, conn=conn)
        return self.get(email)

    def revoke(self, email: str, role: str, tenant: str | None = None, *, actor: str | None = None) -> User:
        email = validate_email(email)
        validate_role(role, tenant)
        with self._cp.engine.begin() as conn:
            user_id, tenant_id = self._ids(conn, email, tenant)
            result = conn.execute(
                delete(user_roles)
                .where(
                    user_roles.c.user_id == user_id,
                    user_roles.c.role == role,
                    user_roles.c.tenant_id.is_(None)
                    if tenant_id is None
                    else user_roles.c.tenant_id == tenant_id,
                )
                .returning(user_roles.c.id)
            )
            if result.first() is None:
                where = f" in tenant {tenant!r}" if tenant else " globally"
                raise NotFoundError(f"user {email!r} does not hold role {role!r}{where}")
            self._cp.audit.record(actor, "user.revoke", tenant, {"email": email, "role": role}, conn=conn)
        return self.get(email)

    def list(self, tenant: str | None = None) -> list[User]:
        """All users with their roles; with `tenant`, only users holding a role in it (or globally)."""
        with self._cp.engine.connect() as conn:
            tenant_id = self._cp.tenants.id_of(conn, tenant) if tenant is not None else None
            found, tenant_ids = self._load(conn, None)
        if tenant_id is None:
            return found
        return [u for u in found if {tenant_id, None} & tenant_ids.get(u.id, set())]

    def get_by_id(self, user_id: int) -> User | None:
        """One user by id (the portal's session lookup: one query per request, not a full list)."""
        with self._cp.engine.connect() as conn:
            found, _ = self._load(conn, user_id)
        return found[0] if found else None

    def _load(self, conn, user_id: int | None) -> tuple[list[User], dict[int, set[int | None]]]:
        """Users (all, or one) with their grants, and each user's tenant ids (None = global)."""
        user_query = select(users).order_by(users.c.email)
        grant_query = (
            select(
                user_roles.c.user_id,
                user_roles.c.role,
                user_roles.c.tenant_id,
                user_roles.c.amocrm_user_id,
                tenants.c.slug,
            )
            .outerjoin(tenants, tenants.c.id == user_roles.c.tenant_id)
            .order_by(user_roles.c.role, tenants.c.slug)
        )
        if user_id is not None:
            user_query = user_query.where(users.c.id == user_id)
            grant_query = grant_query.where(user_roles.c.user_id == user_id)
        user_rows = conn.execute(user_query).all()
        grant_rows = conn.execute(grant_query).all()
        grants: dict[int, list[RoleGrant]] = {}
        tenant_ids: dict[int, set[int | None]] = {}
        for row in grant_rows:
            grants.setdefault(row.user_id, []).append(RoleGrant(row.role, row.slug, row.amocrm_user_id))
            tenant_ids.setdefault(row.user_id, set()).add(row.tenant_id)
        found = [
            User(
                row.id,
                row.email,
                row.name,
                row.created_at,
                grants.get(row.id, []),
                has_password=row.password_hash is not None,
                lang=row.lang,
            )
            for row in user_rows
        ]
        return found, tenant_ids
