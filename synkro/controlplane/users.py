"""Users and roles. `super_admin` is global; `admin` and `viewer` are per tenant or global.

A user may hold roles in several tenants. Emails are stored lowercased so that the same person is
never two users.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select
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
    return role


@dataclass(frozen=True)
class RoleGrant:
    role: str
    tenant: str | None  # None = global

    def __str__(self) -> str:
        return f"{self.role}@{self.tenant}" if self.tenant else f"{self.role} (global)"


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str | None
    created_at: datetime
    roles: list[RoleGrant] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "roles": [{"role": g.role, "tenant": g.tenant} for g in self.roles],
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
        found = [u for u in self.list() if u.email == email]
        if not found:
            raise NotFoundError(f"user {email!r} not found")
        return found[0]

    def _ids(self, conn, email: str, tenant: str | None) -> tuple[int, int | None]:
        user_id = conn.execute(select(users.c.id).where(users.c.email == email)).scalar()
        if user_id is None:
            raise NotFoundError(f"user {email!r} not found (add it with `synkro user add`)")
        tenant_id = self._cp.tenants.id_of(conn, tenant) if tenant is not None else None
        return user_id, tenant_id

    def grant(self, email: str, role: str, tenant: str | None = None, *, actor: str | None = None) -> User:
        email = validate_email(email)
        validate_role(role, tenant)
        if tenant is not None:
            validate_slug(tenant)
        with self._cp.engine.begin() as conn:
            user_id, tenant_id = self._ids(conn, email, tenant)
            exists = conn.execute(
                select(user_roles.c.id).where(
                    user_roles.c.user_id == user_id,
                    user_roles.c.role == role,
                    user_roles.c.tenant_id.is_(None)
                    if tenant_id is None
                    else user_roles.c.tenant_id == tenant_id,
                )
            ).first()
            if exists is None:
                conn.execute(insert(user_roles).values(user_id=user_id, role=role, tenant_id=tenant_id))
                self._cp.audit.record(actor, "user.grant", tenant, {"email": email, "role": role}, conn=conn)
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
            user_rows = conn.execute(select(users).order_by(users.c.email)).all()
            grant_rows = conn.execute(
                select(user_roles.c.user_id, user_roles.c.role, user_roles.c.tenant_id, tenants.c.slug)
                .outerjoin(tenants, tenants.c.id == user_roles.c.tenant_id)
                .order_by(user_roles.c.role, tenants.c.slug)
            ).all()
        grants: dict[int, list[RoleGrant]] = {}
        tenant_ids: dict[int, set[int | None]] = {}
        for row in grant_rows:
            grants.setdefault(row.user_id, []).append(RoleGrant(row.role, row.slug))
            tenant_ids.setdefault(row.user_id, set()).add(row.tenant_id)
        result = []
        for row in user_rows:
            if tenant_id is not None and not ({tenant_id, None} & tenant_ids.get(row.id, set())):
                continue
            result.append(User(row.id, row.email, row.name, row.created_at, grants.get(row.id, [])))
        return result
