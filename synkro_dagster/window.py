"""The report window of a run: from run tags (forced runs, schedule) or the last closed day."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from synkro.orchestration import tags
from synkro.tenant_context import TenantContext
from synkro.windows import Window, last_closed_business_day


def run_window(context: dg.AssetExecutionContext, tctx: TenantContext) -> Window:
    run_tags = context.run.tags
    start = tags.parse_time(run_tags.get(tags.WINDOW_START))
    end = tags.parse_time(run_tags.get(tags.WINDOW_END))
    if start and end:
        return Window(start.astimezone(UTC), end.astimezone(UTC), run_tags.get(tags.WINDOW_LABEL, "forced"))
    return last_closed_business_day(datetime.now(UTC), tctx.tenant.timezone, tctx.settings.day_boundary)
