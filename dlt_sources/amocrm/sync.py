"""How leads and contacts are read: full scans, keyset-style incremental scans, the filter probe.

Incremental reads follow docs/apis/amocrm.md §3.4:
- `filter[updated_at][from]` may be a paid add-on that the account silently ignores, so it is
  probed each run with a timestamp a day in the future (an honoured filter answers 204). When it
  is ignored we fall back to reading `order[updated_at]=desc` without a filter and stop once rows
  are older than the watermark minus the overlap, and log a warning.
- `updated_at` has one-second granularity and bulk edits stamp thousands of rows with the same
  second, and offset paging over a live ordering skips rows. So instead of `page=N` we re-issue
  page 1 with `from = max(updated_at) seen` (keyset), remembering the ids already read in that
  second, and drain a second that fills a whole page with `from = to = t` ordered by id.
- Each run starts `overlap` seconds before the watermark. Rows re-read in the overlap whose
  `updated_at` did not change since the last load are skipped using a small `recent` map kept
  in state, so a run after no change loads nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from synkro.clients.amocrm import MAX_LIMIT, AmoCRMClient

log = logging.getLogger(__name__)

PROBE_AHEAD_SECONDS = 86400


def probe_updated_at_filter(client: AmoCRMClient, entity: str = "leads") -> bool:
    """True when the account honours `filter[updated_at][from]` (a future `from` must give 204)."""
    future = int(time.time()) + PROBE_AHEAD_SECONDS
    body = client.get(f"/api/v4/{entity}", {"filter[updated_at][from]": future, "limit": 1})
    rows = ((body or {}).get("_embedded") or {}).get(entity) or []
    return not rows


def full_scan(client: AmoCRMClient, entity: str, params: dict[str, Any]) -> Iterator[list[dict]]:
    """Every row ordered by id (ids are stable under updates, so offset paging does not skip)."""
    yield from client.paginate(f"/api/v4/{entity}", entity, {**params, "order[id]": "asc"})


def _first_page(client: AmoCRMClient, entity: str, params: dict[str, Any]) -> list[dict]:
    body = client.get(f"/api/v4/{entity}", {**params, "limit": MAX_LIMIT, "page": 1})
    return ((body or {}).get("_embedded") or {}).get(entity) or []


def keyset_scan(
    client: AmoCRMClient, entity: str, params: dict[str, Any], since: int
) -> Iterator[list[dict]]:
    """Rows with `updated_at >= since`, oldest first, each at most once, none skipped."""
    cursor = since
    seen_at_cursor: set[int] = set()
    while True:
        rows = _first_page(
            client, entity, {**params, "filter[updated_at][from]": cursor, "order[updated_at]": "asc"}
        )
        fresh = [r for r in rows if not (r.get("updated_at") == cursor and r["id"] in seen_at_cursor)]
        if fresh:
            yield fresh
        if len(rows) < MAX_LIMIT:
            return
        stamps = [int(r.get("updated_at") or 0) for r in rows]
        newest, oldest = max(stamps), min(stamps)
        if newest == oldest:
            # A whole page in one second: drain that second by id, then move past it.
            drain = {
                **params,
                "filter[updated_at][from]": newest,
                "filter[updated_at][to]": newest,
                "order[id]": "asc",
            }
            already = {r["id"] for r in rows} | (seen_at_cursor if newest == cursor else set())
            for page in client.paginate(f"/api/v4/{entity}", entity, drain):
                rest = [r for r in page if r["id"] not in already]
                if rest:
                    yield rest
            cursor, seen_at_cursor = newest + 1, set()
        else:
            carry = seen_at_cursor if newest == cursor else set()
            cursor = newest
            seen_at_cursor = carry | {r["id"] for r in rows if int(r.get("updated_at") or 0) == newest}


def descending_scan(
    client: AmoCRMClient, entity: str, params: dict[str, Any], since: int
) -> Iterator[list[dict]]:
    """Fallback when filters are ignored: newest first, stop at the first row older than `since`."""
    for page in client.paginate(f"/api/v4/{entity}", entity, {**params, "order[updated_at]": "desc"}):
        keep = [r for r in page if int(r.get("updated_at") or 0) >= since]
        if keep:
            yield keep
        if len(keep) < len(page):
            return


class IncrementalReader:
    """Reads one entity for one run and maintains its slice of the pipeline state.

    State keys: `watermark` (max `updated_at` loaded), `recent` ({id: updated_at} of rows inside
    the overlap window, to skip unchanged re-reads).
    """

    def __init__(
        self,
        client: AmoCRMClient,
        entity: str,
        state: dict,
        params: dict[str, Any],
        *,
        full: bool,
        filter_honoured: bool,
        overlap_seconds: int,
    ) -> None:
        self.client = client
        self.entity = entity
        self.state = state
        self.params = params
        self.full = full
        self.filter_honoured = filter_honoured
        self.overlap = overlap_seconds
        self.seen_ids: set[int] | None = None
        self.emitted_ids: set[int] = set()

    def pages(self) -> Iterator[list[dict]]:
        watermark = self.state.get("watermark")
        recent: dict[str, int] = self.state.get("recent") or {}
        if self.full or watermark is None:
            self.seen_ids = set()
            source = full_scan(self.client, self.entity, self.params)
            recent = {}
        else:
            since = int(watermark) - self.overlap
            if self.filter_honoured:
                source = keyset_scan(self.client, self.entity, self.params, since)
            else:
                log.warning(
                    "amoCRM ignores filter[updated_at] for this account (paid add-on off?); "
                    "reading %s newest-first without a filter",
                    self.entity,
                )
                source = descending_scan(self.client, self.entity, self.params, since)
        new_watermark = int(watermark) if watermark is not None and not self.full else None
        new_recent: dict[str, int] = {}
        for page in source:
            changed = []
            for row in page:
                updated = int(row.get("updated_at") or 0)
                if self.seen_ids is not None:
                    self.seen_ids.add(int(row["id"]))
                if recent.get(str(row["id"])) == updated:
                    new_recent[str(row["id"])] = updated
                    continue
                new_recent[str(row["id"])] = updated
                changed.append(row)
                self.emitted_ids.add(int(row["id"]))
                if new_watermark is None or updated > new_watermark:
                    new_watermark = updated
            if changed:
                yield changed
            if len(new_recent) > 50_000 and new_watermark is not None:
                # Full scans run in id order; keep only what can still fall inside the overlap.
                floor = new_watermark - self.overlap
                new_recent = {k: v for k, v in new_recent.items() if v >= floor}
        if new_watermark is not None:
            floor = new_watermark - self.overlap
            keep = {**recent, **new_recent}
            self.state["watermark"] = new_watermark
            self.state["recent"] = {k: v for k, v in keep.items() if v >= floor}
