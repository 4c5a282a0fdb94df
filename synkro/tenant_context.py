"""Everything a pipeline step needs to know about one tenant, resolved at run time.

Credentials are read from the control plane when a step runs — never from run config, files or
the environment — so nothing secret passes through Dagster. The tenant's warehouse is the
installation database unless its `supabase` config carries a `database_url`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from synkro.controlplane import ControlPlane, NotFoundError, Tenant, TenantSettings, open_controlplane


@dataclass
class TenantContext:
    cp: ControlPlane
    tenant: Tenant
    settings: TenantSettings

    @classmethod
    def load(cls, slug: str, cp: ControlPlane | None = None) -> TenantContext:
        cp = cp or open_controlplane()
        return cls(cp=cp, tenant=cp.tenants.get(slug), settings=cp.settings.get_settings(slug))

    @property
    def slug(self) -> str:
        return self.tenant.slug

    def config(self, kind: str) -> Any | None:
        """The tenant's integration config of `kind`, or None when it is not configured."""
        try:
            return self.cp.configs.get_config(self.slug, kind)
        except NotFoundError:
            return None

    def warehouse_url(self) -> str:
        """Where the tenant's data lives: its own Supabase Postgres, else the installation DB."""
        supabase = self.config("supabase")
        secret = getattr(supabase, "database_url", None) if supabase else None
        value = secret.get_secret_value() if secret is not None else None
        return value or self.cp.url
