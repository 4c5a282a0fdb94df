"""dlt source for amoCRM: leads, contacts (with phones and emails), links, pipelines, statuses, users.

Tables follow the raw contract in docs/architecture.md. Design choices:
- Leads and contacts are each read once per run by a hidden raw resource; the contract tables
  are transformers over it (dlt forks the stream), so phones, emails and links cost no extra calls.
- Child tables (phones, emails, lead↔contact links) use merge `delete-insert` with the parent id
  as merge key: every re-read parent replaces its whole child set, and a parent that lost all its
  children emits one tombstone row (`hard_delete`) so the old ones are removed too.
- Deletions: `lead_deleted`/`contact_deleted` (and `*_restored`) events since the last run, and
  on a full run a reconciliation of loaded ids against the ids seen. Deleted rows are re-emitted
  from the warehouse with `is_deleted = true` (merge replaces whole rows); restored ones are
  re-read by id (a restore need not bump `updated_at`).
- Periodic reconciliation: the events API may be unavailable, events may be purged, and
  `updated_at` is client-writable (back-dated writes evade any watermark; amocrm.md §3.3–3.4).
  So when the last id scan of an entity (`reconciled_at` in its resource state) is older than
  `reconcile_every_days` (default 7), an incremental run also pages through all ids
  (`order[id]=asc`) and writes only the differences: rows missing from or stale in the warehouse,
  and ids that vanished (flagged deleted). A full run and the first run count as a scan.
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
from dlt_sources.amocrm.destination import loaded_rows, loaded_stamps, vanished_ids
from dlt_sources.amocrm.sync import IncrementalReader, full_scan, probe_updated_at_filter
from synkro.clients.amocrm import AmoCRMAccountError, AmoCRMClient, AmoCRMHTTPError
from synkro.clients.prefetch import prefetch

log = logging.getLogger(__name__)

DELETION_EVENTS = ("lead_deleted", "contact_deleted", "lead_restored", "contact_restored")
EVENTS_LIMIT = 100
DELETED_MARK = "__deleted__"
DEFAULT_RECONCILE_DAYS = 7.0
FIRST_CURSOR_SLACK = 86400

_CHILD_MERGE = {"disposition": "merge", "strategy": "delete-insert"}


class _RunContext:
    """Per-run memo: the filter probe and the deletion events are fetched at most once."""

    def __init__(self, client: AmoCRMClient, full: bool) -> None:
        self.client = client
        self.full = full
        self._filter: bool | None = None
        self._deleted: dict[str, dict[str, set[int]]] | None = None

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

    def deleted_ids(self, state: dict) -> dict[str, dict[str, set[int]]]:
        """Per entity (`lead`, `contact`): ids whose newest event since the saved cursor is a
        deletion (`deleted`) or a restore (`restored`)."""
        if self._deleted is not None:
            return self._deleted
        latest: dict[tuple[str, int], str] = {}
        cursor = state.get("events_cursor")
        started = int(time.time())
        if cursor is not None:
            params: dict[str, Any] = {f"filter[type][{i}]": t for i, t in enumerate(DELETION_EVENTS)}
            params["filter[created_at][from]"] = int(cursor)
            newest = int(cursor)
            events: list[dict] = []
            try:
                for page in self.client.paginate("/api/v4/events", "events", params, limit=EVENTS_LIMIT):
                    events.extend(page)
            except AmoCRMHTTPError as exc:
                # Events are unavailable to some integrations; reconciliation scans still find deletions.
                log.warning(
                    "amoCRM events API unavailable (HTTP %s); deletions found only by id scans", exc.status
                )
                events = []
            # Pages come newest first: replay every event oldest first, so a restore that
            # followed a deletion wins regardless of which page each landed on.
            for event in sorted(events, key=lambda e: (int(e.get("created_at") or 0), str(e.get("id")))):
                kind = str(event.get("type", ""))
                entity = "lead" if kind.startswith("lead") else "contact"
                latest[(entity, int(event.get("entity_id") or 0))] = kind
                newest = max(newest, int(event.get("created_at") or 0))
            state["events_cursor"] = newest
        else:
            # First run: the full scan sees only live rows; watch for deletions from now on. The day
            # of slack covers clock skew between this host and amoCRM: older deletion events name
            # ids that were never loaded, so re-reading them later changes nothing.
            state["events_cursor"] = started - FIRST_CURSOR_SLACK
        result: dict[str, dict[str, set[int]]] = {
            e: {"deleted": set(), "restored": set()} for e in ("lead", "contact")
        }
        for (entity, entity_id), kind in latest.items():
            result[entity]["deleted" if kind.endswith("_deleted") else "restored"].add(entity_id)
        self._deleted = result
        return result


def reconcile_due(state: dict, every_days: float | None, now: float | None = None) -> bool:
    """True when the entity's last id scan is older than `every_days` (never, if disabled)."""
    if not every_days or every_days <= 0:
        return False
    last = state.get("reconciled_at")
    now = time.time() if now is None else now
    return last is None or now - float(last) >= every_days * 86400


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
    reconcile_every_days: float | None = DEFAULT_RECONCILE_DAYS,
) -> Any:
    """All amoCRM resources of one account.

    `full=True` rescans and rewrites everything and reconciles deletions. Otherwise the load is
    incremental, plus an id scan (only differences written) every `reconcile_every_days`
    (None or 0 turns the periodic scan off).
    """
    run = _RunContext(client, full)

    def raw_entity(entity: str, table: str, params: dict[str, Any]) -> Iterator[list[dict]]:
        state = dlt.current.resource_state()
        had_rows = state.get("watermark") is not None
        reader = IncrementalReader(
            client,
            entity,
            state,
            params,
            full=full,
            filter_honoured=run.filter_honoured() if had_rows and not full else True,
            overlap_seconds=overlap_seconds,
        )
        started = time.time()
        # Fetch ahead while dlt processes the current page, so the rate limit is the only brake.
        yield from prefetch(reader.pages())
        seen = reader.seen_ids
        if seen is not None:
            state["reconciled_at"] = started
        elif detect_deletions and reconcile_due(state, reconcile_every_days, started):
            log.info(
                "amoCRM: periodic id scan of %s (last one over %s days ago)", entity, reconcile_every_days
            )
            seen = set()
            # Read the warehouse here: dlt's pipeline context is not visible in the prefetch thread.
            loaded = loaded_stamps(table)
            yield from prefetch(_reconcile_scan(entity, params, loaded, reader.emitted_ids, seen))
            state["reconciled_at"] = started
        if not detect_deletions:
            return
        events = run.deleted_ids(dlt.current.source_state())[entity.rstrip("s")]
        restored = events["restored"] - reader.emitted_ids - (seen or set())
        if restored:
            # Only rows still flagged: the inclusive cursor re-reads the newest event every run.
            restored = {int(r["id"]) for r in loaded_rows(table, restored) if r.get("is_deleted")}
        if restored:
            back = _fetch_by_id(entity, params, restored)
            if back:
                log.info("amoCRM: %d %s restored from the trash", len(back), entity)
                yield back
        gone = set(events["deleted"])
        if seen is not None and had_rows:
            gone |= vanished_ids(table, seen)
        if gone:
            marked = _deleted_rows(table, gone)
            if marked:
                log.info("amoCRM: marking %d %s deleted", len(marked), entity)
                yield marked

    def _reconcile_scan(
        entity: str,
        params: dict[str, Any],
        loaded: dict[int, tuple[int | None, bool]],
        emitted: set[int],
        seen: set[int],
    ) -> Iterator[list[dict]]:
        """Every id in id order; yield only rows the warehouse lacks, holds stale, or holds deleted."""
        for page in full_scan(client, entity, params):
            fresh = []
            for row in page:
                row_id = int(row["id"])
                seen.add(row_id)
                if row_id in emitted:
                    continue
                stamp = loaded.get(row_id)
                if stamp is None or stamp[1] or stamp[0] != int(row.get("updated_at") or 0):
                    fresh.append(row)
            if fresh:
                log.info("amoCRM: id scan found %d %s missing or stale", len(fresh), entity)
                yield fresh

    def _fetch_by_id(entity: str, params: dict[str, Any], ids: set[int]) -> list[dict]:
        rows_back = []
        for row_id in sorted(ids):
            body = client.get(f"/api/v4/{entity}/{row_id}", params or None)
            if body and body.get("id"):  # 204: deleted again or purged since
                rows_back.append(body)
        return rows_back

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
