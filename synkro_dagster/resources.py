"""Dagster resources. They hold no secrets: credentials are resolved from the control plane
when a step runs, so nothing sensitive appears in run config or event metadata."""

from __future__ import annotations

import dagster as dg

from synkro.tenant_context import TenantContext


class SynkroResource(dg.ConfigurableResource):
    """Entry to the control plane (DATABASE_URL or the embedded server, read at run time)."""

    def tenant(self, slug: str) -> TenantContext:
        return TenantContext.load(slug)
