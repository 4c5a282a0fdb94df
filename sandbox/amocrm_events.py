"""`GET /api/v4/events` of the amoCRM emulator: how deletions become visible (amocrm.md §2.9, §3.3).

Deleted contacts have no `only_deleted` list, so a loader learns of them only from
`contact_deleted` events, typically asked for as `filter[type]=lead_deleted,contact_deleted`
(or `filter[type][]=…`, `filter[type][0]=…`) with a `filter[created_at]` cursor. Documented
behaviour kept here: string ids, `limit` at most 100 (larger values fall back to the default 50,
the same rule as other lists), HAL pages that always carry `_links.next`, 204 when nothing
matches. Undocumented choices: newest events first; a bare `filter[created_at]=ts` is inclusive
(`>= ts`), like `[from]`/`[to]`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from sandbox.scenario import Event

MAX_EVENTS_LIMIT = 100
DEFAULT_LIMIT = 50


class EventQuery:
    """The filters of one events request, or `error` when a value does not parse."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self.items = items
        self.page, self.limit = 1, DEFAULT_LIMIT
        self.types: set[str] = set()
        self.entities: set[str] = set()
        self.entity_ids: set[int] = set()
        self.ids: set[str] = set()
        self.created_by: set[int] = set()
        self.created_from: int | None = None
        self.created_to: int | None = None
        self.error: str | None = None
        for key, value in items:
            try:
                self._read(key, value)
            except ValueError:
                self.error = f"invalid value for {key}"

    def _read(self, key: str, value: str) -> None:
        parts = [v.strip() for v in value.split(",") if v.strip()]
        name = key.split("]", 1)[0] + "]" if key.startswith("filter[") else key
        if key == "page":
            self.page = max(1, int(value))
        elif key == "limit":
            limit = int(value)
            self.limit = DEFAULT_LIMIT if limit > MAX_EVENTS_LIMIT or limit < 1 else limit
        elif name == "filter[type]":
            self.types.update(parts)
        elif name == "filter[entity]":
            self.entities.update(parts)
        elif name == "filter[entity_id]":
            self.entity_ids.update(int(v) for v in parts)
        elif name == "filter[id]":
            self.ids.update(parts)
        elif name == "filter[created_by]":
            self.created_by.update(int(v) for v in parts)
        elif key == "filter[created_at][to]":
            self.created_to = int(value)
        elif key in ("filter[created_at]", "filter[created_at][from]"):
            self.created_from = int(value)

    def matches(self, event: Event) -> bool:
        return (
            (not self.types or event.type in self.types)
            and (not self.entities or event.entity_type in self.entities)
            and (not self.entity_ids or event.entity_id in self.entity_ids)
            and (not self.ids or event.id in self.ids)
            and (not self.created_by or event.created_by in self.created_by)
            and (self.created_from is None or event.created_at >= self.created_from)
            and (self.created_to is None or event.created_at <= self.created_to)
        )

    def href(self, base: str, page: int) -> str:
        params = [(k, v) for k, v in self.items if k != "page"] + [("page", str(page))]
        return f"{base}/api/v4/events?{urlencode(params, safe='[]')}"


def event_dict(event: Event, base: str, account_id: int) -> dict[str, Any]:
    plural = {"lead": "leads", "contact": "contacts"}.get(event.entity_type, event.entity_type)
    return {
        "id": event.id,
        "type": event.type,
        "entity_id": event.entity_id,
        "entity_type": event.entity_type,
        "created_by": event.created_by,
        "created_at": event.created_at,
        "value_after": [],
        "value_before": [],
        "account_id": account_id,
        "_links": {"self": {"href": f"{base}/api/v4/events/{event.id}"}},
        "_embedded": {
            "entity": {
                "id": event.entity_id,
                "_links": {"self": {"href": f"{base}/api/v4/{plural}/{event.entity_id}"}},
            }
        },
    }


def events_page(events: list[Event], q: EventQuery, base: str, account_id: int) -> bytes | None:
    """The HAL page body, or None for 204 (nothing matches, or past the end)."""
    selected = sorted((e for e in events if q.matches(e)), key=lambda e: (e.created_at, e.id), reverse=True)
    chunk = selected[(q.page - 1) * q.limit : q.page * q.limit]
    if not chunk:
        return None
    links: dict[str, Any] = {
        "self": {"href": q.href(base, q.page)},
        "next": {"href": q.href(base, q.page + 1)},
    }
    if q.page > 1:
        links["first"] = {"href": q.href(base, 1)}
        links["prev"] = {"href": q.href(base, q.page - 1)}
    body = {
        "_page": q.page,
        "_links": links,
        "_embedded": {"events": [event_dict(e, base, account_id) for e in chunk]},
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
