"""ORM classes over the control plane's Core tables, for sqladmin's views only.

The control plane itself stays on SQLAlchemy Core (`synkro/controlplane/tables.py`); sqladmin
needs mapped classes, so each class here maps an existing `Table` (`__table__ = tables.x`) and
adds the relationships the lists show (a grant's user and tenant, a run's tenant). Nothing
writes through these classes: every admin write goes through the repositories (`views.py`).

The sign-in tables (`web_sessions`, `login_failures`, `oauth_states`) are deliberately not
mapped: they hold token hashes and nonces, and the admin has no business showing them.
"""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase, relationship

from synkro.controlplane import tables


class Base(DeclarativeBase):
    metadata = tables.metadata


class Tenant(Base):
    __table__ = tables.tenants

    def __str__(self) -> str:
        return self.slug


class User(Base):
    __table__ = tables.users
    roles = relationship("UserRole", back_populates="user", lazy="selectin", viewonly=True)

    def __str__(self) -> str:
        return self.email


class UserRole(Base):
    __table__ = tables.user_roles
    user = relationship("User", back_populates="roles", lazy="selectin", viewonly=True)
    tenant = relationship("Tenant", lazy="selectin", viewonly=True)

    def __str__(self) -> str:
        where = self.tenant.slug if self.tenant is not None else "*"
        who = f" (amoCRM {self.amocrm_user_id})" if self.amocrm_user_id else ""
        return f"{self.role}@{where}{who}"


class IntegrationConfig(Base):
    __table__ = tables.integration_configs
    tenant = relationship("Tenant", lazy="selectin", viewonly=True)

    def __str__(self) -> str:
        return f"{self.tenant.slug if self.tenant else self.tenant_id}/{self.kind}"


class JobRun(Base):
    __table__ = tables.job_runs
    tenant = relationship("Tenant", lazy="selectin", viewonly=True)

    def __str__(self) -> str:
        return f"#{self.id} {self.job}"


class Report(Base):
    __table__ = tables.reports
    tenant = relationship("Tenant", lazy="selectin", viewonly=True)

    def __str__(self) -> str:
        return f"#{self.id} {self.report_type}"


class AuditEntry(Base):
    __table__ = tables.audit_log

    def __str__(self) -> str:
        return f"#{self.id} {self.action}"
