"""Tenants: the client companies one installation serves. The slug names their schemas forever."""

from __future__ import annotations

import logging
import zoneinfo
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy import Connection, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from synkro import tenancy
from synkro.controlplane.errors import AlreadyExistsError, BadInputError, NotFoundError
from synkro.controlplane.tables import TENANT_STATUSES, tenant_settings, tenants

if TYPE_CHECKING:
    from synkro.controlplane import ControlPlane

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Europe/Moscow"


def validate_slug(slug: str) -> str:
    """The slug rule is synkro.tenancy's (its one owner); kept here for the control plane's callers."""
    return tenancy.validate_slug(slug)


@lru_cache(maxsize=1)
def _known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(name: str) -> str:
    """IANA names only (e.g. Europe/Moscow, Asia/Almaty): offsets like +03:00 break on DST changes."""
    if not isinstance(name, str) or name not in _known_timezones():
        raise BadInputError(
            f"invalid timezone {name!r}: use an IANA name such as Europe/Moscow or Asia/Almaty"
        )
    return name


def tenant_schemas(slug: str) -> list[str]:
    """Every schema a tenant may own (synkro.tenancy builds the names)."""
    return tenancy.tenant_schemas(slug)


@dataclass(frozen=True)
class Tenant:
    id: int
    slug: str
    name: str
    status: str
    timezone: str
    created_at: datetime
    updated_at: datetime

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["updated_at"] = self.updated_at.isoformat()
        return data


class TenantRepository:
    def __init__(self, cp: ControlPlane):
        self._cp = cp

    def _row(self, conn: Connection, slug: str, *, lock: bool = False) -> Tenant:
        query = select(tenants).where(tenants.c.slug == slug)
        if lock:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise NotFoundError(f"tenant {slug!r} not found")
        return Tenant(**row._mapping)

    def id_of(self, conn: Connection, slug: str) -> int:
        validate_slug(slug)
        return self._row(conn, slug).id

    def create(
        self, slug: str, name: str, timezone: str = DEFAULT_TIMEZONE, *, actor: str | None = None
    ) -> Tenant:
        tenancy.validate_new_slug(slug)
        validate_timezone(timezone)
        if not name or not name.strip():
            raise BadInputError("tenant name must not be empty")
        try:
            with self._cp.engine.begin() as conn:
                # New slugs cannot meet each other's names; a tenant of the old rule (with '_') can.
                existing = conn.execute(select(tenants.c.slug)).scalars().all()
                shared = tenancy.colliding_names(slug, existing)
                if shared:
                    raise BadInputError(
                        f"tenant slug {slug!r} would share the schema(s) {', '.join(sorted(shared))} "
                        "with an existing tenant; choose another"
                    )
                row = conn.execute(
                    insert(tenants)
                    .values(slug=slug, name=name.strip(), timezone=timezone)
                    .returning(*tenants.c)
                ).one()
                conn.execute(insert(tenant_settings).values(tenant_id=row.id, settings={}))
                self._cp.audit.record(
                    actor, "tenant.create", slug, {"name": name.strip(), "timezone": timezone}, conn=conn
                )
        except IntegrityError:
            raise AlreadyExistsError(f"tenant {slug!r} already exists") from None
        return Tenant(**row._mapping)

    def get(self, slug: str) -> Tenant:
        validate_slug(slug)
        with self._cp.engine.connect() as conn:
            return self._row(conn, slug)

    def find(self, slug: str) -> Tenant | None:
        try:
            return self.get(slug)
        except NotFoundError:
            return None

    def list(self, status: str | None = None) -> list[Tenant]:
        query = select(tenants).order_by(tenants.c.slug)
        if status is not None:
            query = query.where(tenants.c.status == status)
        with self._cp.engine.connect() as conn:
            return [Tenant(**row._mapping) for row in conn.execute(query)]

    def update(
        self,
        slug: str,
        *,
        name: str | None = None,
        timezone: str | None = None,
        actor: str | None = None,
    ) -> Tenant:
        """Change name or timezone (the slug itself is immutable)."""
        validate_slug(slug)
        changes: dict[str, Any] = {}
        if name is not None:
            if not name.strip():
                raise BadInputError("tenant name must not be empty")
            changes["name"] = name.strip()
        if timezone is not None:
            changes["timezone"] = validate_timezone(timezone)
        if not changes:
            return self.get(slug)
        with self._cp.engine.begin() as conn:
            before = self._row(conn, slug, lock=True)
            row = conn.execute(
                update(tenants)
                .where(tenants.c.id == before.id)
                .values(**changes, updated_at=func.now())
                .returning(*tenants.c)
            ).one()
            self._cp.audit.record(actor, "tenant.update", slug, changes, conn=conn)
        return Tenant(**row._mapping)

    def set_status(self, slug: str, status: str, *, actor: str | None = None) -> Tenant:
        validate_slug(slug)
        if status not in TENANT_STATUSES:
            raise BadInputError(
                f"invalid tenant status {status!r}; expected one of: {', '.join(TENANT_STATUSES)}"
            )
        with self._cp.engine.begin() as conn:
            before = self._row(conn, slug, lock=True)
            row = conn.execute(
                update(tenants)
                .where(tenants.c.id == before.id)
                .values(status=status, updated_at=func.now())
                .returning(*tenants.c)
            ).one()
            self._cp.audit.record(
                actor, "tenant.set_status", slug, {"from": before.status, "to": status}, conn=conn
            )
        return Tenant(**row._mapping)

    def delete(self, slug: str, *, actor: str | None = None) -> list[str]:
        """Drop the tenant's schemas and every control-plane row it owns; the audit trail stays.

        When the tenant keeps its data in its own Supabase database, the schemas are dropped there
        as well (best effort: an unreachable database is reported in the returned warnings).
        """
        validate_slug(slug)
        warnings: list[str] = []
        external_dsn = self._external_dsn(slug, warnings)
        schemas = tenant_schemas(slug)
        with self._cp.engine.begin() as conn:
            tenant = self._row(conn, slug, lock=True)
            for schema in schemas:
                conn.execute(text(f'drop schema if exists "{schema}" cascade'))
            conn.execute(delete(tenants).where(tenants.c.id == tenant.id))
            if external_dsn:
                try:
                    with psycopg.connect(external_dsn, connect_timeout=10, autocommit=True) as ext:
                        for schema in schemas:
                            ext.execute(f'drop schema if exists "{schema}" cascade')
                except psycopg.Error as exc:
                    warnings.append(
                        f"could not drop schemas in the tenant's Supabase database ({type(exc).__name__})"
                    )
            self._cp.audit.record(
                actor, "tenant.delete", slug, {"dropped_schemas": schemas, "warnings": warnings}, conn=conn
            )
        from synkro.modeling.dbt_state import remove_tenant_state

        remove_tenant_state(slug)  # local dbt parse state and run dirs of the tenant
        return warnings

    def _external_dsn(self, slug: str, warnings: list[str]) -> str | None:
        from synkro.secrets import SecretKeyError

        try:
            config = self._cp.configs.find_config(slug, "supabase")
        except SecretKeyError:
            warnings.append("supabase config could not be decrypted; its database was not cleaned")
            return None
        if config is None or getattr(config, "database_url", None) is None:
            return None
        dsn = config.database_url.get_secret_value()
        return None if _same_database(dsn, self._cp.url) else dsn


def _same_database(a: str, b: str) -> bool:
    from urllib.parse import urlsplit

    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.hostname, pa.port or 5432, pa.path) == (pb.hostname, pb.port or 5432, pb.path)
