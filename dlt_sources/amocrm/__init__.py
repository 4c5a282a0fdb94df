"""dlt source for amoCRM: leads, contacts (with phones and emails), links, pipelines, statuses, users.

Tables follow the raw contract in docs/architecture.md. Design choices:
- Leads and contacts are each read once per run by a hidden raw resource; the contract tables
  are transformers over it (dlt forks the stream), so phones, emails and links cost no extra calls.
- Child tables (phones, emails, lead↔contact links) use merge `delete-insert` with the parent id
  as merge key: every re-read parent replaces its whole child set, and a parent that lost all its
  children emits one tombstone row (`hard_delete`) so the old ones are removed too.
- Deletions: `lead_deleted`/`contact_deleted` (and `*_restored`) events since the last run, and
  on a full run a reconciliation of loaded ids against the ids seen. Deleted rows are re-emitted
  from the warehouse with `is_deleted = true` (merge replaces whole rows).
- Pipelines/statuses/users are small: read in full each run, loaded only when they changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import dlt

from dlt_sources.amocrm import rows
from dlt_sources.amocrm.destination import live_ids, loaded_rows
from dlt_sources.amocrm.sync import IncrementalReader, probe_updated_at_filter
from synkro.clients.amocrm import AmoCRMAccountError, AmoCRMClient, AmoCRMHTTPError
from synkro.clients.prefetch import prefetch

log = logging.getLogger(__name__)

DELETION_EVENTS = ("lead_deleted", "contact_deleted", "lead_restored", "contact_restored")
EVENTS_LIMIT = 100
DELETED_MARK = "__deleted__"

_CHILD_MERGE = {"disposition": "merge", "strategy": "delete-insert"}


class _RunContext:
    """Per-run memo: the filter probe and the deletion events are fetched at most once."""

    def __init__(self, client: AmoCRMClient, full: bool) -> None:
        self.client = client
        self.full = full
        self._filter: bool | None = None
        self._deleted: dict[str, set[int]] | None = None

    def filter_honoured(self) -> bool:
        if self._filter is None:
            self._filter = probe_updated_at_filter(self.client)
            if not self._filter:
                log.warning(
                    "amoCRM account ignores filter[updated_at] "
                    "(probe with a future timestamp returned rows); "
                    "incremental loads fall back to scanning"
                )
        return self._filter

    def deleted_ids(self, state: dict) -> dict[str, set[int]]:
        """Ids deleted (and not restored since) per entity, from events after the saved cursor."""
        if self._deleted is not None:
            return self._deleted
        deleted: dict[str, set[int]] = {"lead": set(), "contact": set()}
        cursor = state.get("events_cursor")
        started = int(time.time())
        if cursor is not None:
            params: dict[str, Any] = {f"filter[type][{i}]": t for i, t in enumerate(DELETION_EVENTS)}
            params["filter[created_at][from]"] = int(cursor)
            newest = int(cursor)
            try:
                for page in self.client.paginate("/api/v4/events", "events", params, limit=EVENTS_LIMIT):
                    for event in sorted(page, key=lambda e: int(e.get("created_at") or 0)):
                        kind = str(event.get("type", ""))
                        entity = "lead" if kind.startswith("lead") else "contact"
                        entity_id = int(event.get("entity_id") or 0)
                        if kind.endswith("_deleted"):
                            deleted[entity].add(entity_id)
                        else:
                            deleted[entity].discard(entity_id)
                        newest = max(newest, int(event.get("created_at") or 0))
            except AmoCRMHTTPError as exc:
                # Events are unavailable to some integrations; full runs still reconcile by id.
                log.warning(
                    "amoCRM events API unavailable (HTTP %s); deletions found only by full runs", exc.status
                )
            state["events_cursor"] = newest
        else:
            # First run: the full scan sees only live rows; watch for deletions from now on.
            state["events_cursor"] = started - 60
        self._deleted = deleted
        return deleted


def _deleted_rows(table: str, ids: set[int]) -> list[dict]:
    """Rows already in the warehouse for `ids`, flagged deleted (unknown ids are skipped)."""
    out = []
    for row in loaded_rows(table, ids):
        if not row.get("is_deleted"):
            out.append({**row, "is_deleted": True, DELETED_MARK: True})
    return out


@dlt.source(name="amocrm", max_table_nesting=0)
def amocrm_source(
    client: AmoCRMClient,
    region: str = "RU",
    full: bool = False,
    overlap_seconds: int = 600,
    detect_deletions: bool = True,
) -> Any:
    """All amoCRM resources of one account. `full=True` rescans everything and reconciles deletions."""
    run = _RunContext(client, full)

    def raw_entity(entity: str, table: str, params: dict[str, Any]) -> Iterator[list[dict]]:
        state = dlt.current.resource_state()
        reader = IncrementalReader(
            client,
            entity,
            state,
            params,
            full=full,
            filter_honoured=run.filter_honoured()
            if state.get("watermark") is not None and not full
            else True,
            overlap_seconds=overlap_seconds,
        )
        had_rows = state.get("watermark") is not None
        # Fetch ahead while dlt processes the current page, so the rate limit is the only brake.
        yield from prefetch(reader.pages())
        if not detect_deletions:
            return
        source_state = dlt.current.source_state()
        gone = set(run.deleted_ids(source_state)[entity.rstrip("s")])
        if reader.seen_ids is not None and had_rows:
            gone |= live_ids(table) - reader.seen_ids
        if gone:
            marked = _deleted_rows(table, gone)
            if marked:
                log.info("amoCRM: marking %d %s deleted", len(marked), entity)
                yield marked

    @dlt.resource(name="amocrm_leads_api", selected=False)
    def leads_api() -> Iterator[list[dict]]:
        yield from raw_entity("leads", "amocrm_leads", {"with": "contacts"})

    @dlt.resource(name="amocrm_contacts_api", selected=False)
    def contacts_api() -> Iterator[list[dict]]:
        yield from raw_entity("contacts", "amocrm_contacts", {})

    @dlt.transformer(
        name="amocrm_leads",
        data_from=leads_api,
        primary_key="id",
        write_disposition="merge",
        columns=rows.LEAD_COLUMNS,
    )
    def amocrm_leads(page: list[dict]) -> Iterator[list[dict]]:
        yield [_strip(r) if r.get(DELETED_MARK) else rows.lead_row(r) for r in page]

    @dlt.transformer(
        name="amocrm_lead_contacts",
        data_from=leads_api,
        primary_key=("lead_id", "contact_id"),
        merge_key="lead_id",
        write_disposition=_CHILD_MERGE,
        columns=rows.LINK_COLUMNS,
    )
    def amocrm_lead_contacts(page: list[dict]) -> Iterator[list[dict]]:
        yield [link for r in page if not r.get(DELETED_MARK) for link in rows.lead_contact_rows(r)]

    @dlt.transformer(
        name="amocrm_contacts",
        data_from=contacts_api,
        primary_key="id",
        write_disposition="merge",
        columns=rows.CONTACT_COLUMNS,
    )
    def amocrm_contacts(page: list[dict]) -> Iterator[list[dict]]:
        yield [_strip(r) if r.get(DELETED_MARK) else rows.contact_row(r) for r in page]

    @dlt.transformer(
        name="amocrm_contact_phones",
        data_from=contacts_api,
        primary_key=("contact_id", "position"),
        merge_key="contact_id",
        write_disposition=_CHILD_MERGE,
        columns=rows.PHONE_COLUMNS,
    )
    def amocrm_contact_phones(page: list[dict]) -> Iterator[list[dict]]:
        yield [p for r in page if not r.get(DELETED_MARK) for p in rows.contact_phone_rows(r, region)]

    @dlt.transformer(
        name="amocrm_contact_emails",
        data_from=contacts_api,
        primary_key=("contact_id", "position"),
        merge_key="contact_id",
        write_disposition=_CHILD_MERGE,
        columns=rows.EMAIL_COLUMNS,
    )
    def amocrm_contact_emails(page: list[dict]) -> Iterator[list[dict]]:
        yield [e for r in page if not r.get(DELETED_MARK) for e in rows.contact_email_rows(r)]

    @dlt.resource(name="amocrm_pipelines_api", selected=False)
    def pipelines_api() -> Iterator[list[dict]]:
        body = client.get("/api/v4/leads/pipelines") or {}
        pipelines = (body.get("_embedded") or {}).get("pipelines") or []
        if _changed_since_last_run(
            "pipelines", [(rows.pipeline_row(p), rows.status_rows(p)) for p in pipelines]
        ):
            yield pipelines

    @dlt.transformer(
        name="amocrm_pipelines",
        data_from=pipelines_api,
        primary_key="id",
        write_disposition="merge",
        columns=rows.PIPELINE_COLUMNS,
    )
    def amocrm_pipelines(page: list[dict]) -> Iterator[list[dict]]:
        yield [rows.pipeline_row(p) for p in page]

    @dlt.transformer(
        name="amocrm_statuses",
        data_from=pipelines_api,
        primary_key=("pipeline_id", "id"),
        merge_key="pipeline_id",
        write_disposition=_CHILD_MERGE,
        columns=rows.STATUS_COLUMNS,
    )
    def amocrm_statuses(page: list[dict]) -> Iterator[list[dict]]:
        yield [s for p in page for s in rows.status_rows(p)]

    @dlt.resource(name="amocrm_users", primary_key="id", write_disposition="merge", columns=rows.USER_COLUMNS)
    def amocrm_users() -> Iterator[list[dict]]:
        try:
            users = [rows.user_row(u) for page in client.paginate("/api/v4/users", "users") for u in page]
        except AmoCRMAccountError as exc:
            if exc.status != 403:
                raise
            # /users needs admin rights; everything else still loads, the check command reports it.
            log.warning("amoCRM /users refused (403): the token's user is not an admin; users not loaded")
            return
        if _changed_since_last_run("users", users):
            yield users

    return (
        leads_api,
        contacts_api,
        pipelines_api,
        amocrm_leads,
        amocrm_lead_contacts,
        amocrm_contacts,
        amocrm_contact_phones,
        amocrm_contact_emails,
        amocrm_pipelines,
        amocrm_statuses,
        amocrm_users,
    )


def _changed_since_last_run(key: str, payload: Any) -> bool:
    """Small reference lists are re-read every run but re-loaded only when their content changed."""
    state = dlt.current.source_state().setdefault("fingerprints", {})
    mark = hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    if state.get(key) == mark:
        return False
    state[key] = mark
    return True


def _strip(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != DELETED_MARK}
