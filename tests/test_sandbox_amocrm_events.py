"""Inserts and deletions written by `advance()`, seen through amoCRM's documented channels.

New rows appear in `updated_at` order; deleted ones vanish from lists and are visible only as
`lead_deleted`/`contact_deleted` events (amocrm.md §2.9, §3.3) and, for leads, in the trash
(`with=only_deleted`). Each test owns its sandbox because it changes the scenario.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.server import SandboxServer

NOW = 1_790_000_000.0


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(seed=77, scenario="small", now=NOW) as sb:
        sb.state.set_faults("amocrm", rate_limit_rps=None)
        yield sb


@pytest.fixture
def amo(server: SandboxServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {server.state.amo_long_lived_token}"}
    with httpx.Client(base_url=server.urls.amocrm, headers=headers) as client:
        yield client


def _all_ids(amo: httpx.Client, path: str, **params: str) -> list[int]:
    ids, page = [], 1
    while True:
        response = amo.get(path, params={"limit": 250, "page": page, **params})
        if response.status_code == 204:
            return ids
        rows = next(iter(response.json()["_embedded"].values()))
        ids += [row["id"] for row in rows]
        page += 1


def test_regenerate_adds_and_deletes_rows(server: SandboxServer, amo: httpx.Client) -> None:
    before_leads = set(_all_ids(amo, "/api/v4/leads"))
    before_contacts = set(_all_ids(amo, "/api/v4/contacts"))
    changed = httpx.post(f"{server.urls.control}/regenerate", json={"now": NOW + 3600}).json()
    assert changed["added_leads"] and changed["added_contacts"]
    assert len(changed["deleted_leads"]) == 1 and len(changed["deleted_contacts"]) == 1
    leads, contacts = set(_all_ids(amo, "/api/v4/leads")), set(_all_ids(amo, "/api/v4/contacts"))
    assert leads == (before_leads | set(changed["added_leads"])) - set(changed["deleted_leads"])
    assert contacts == (before_contacts | set(changed["added_contacts"])) - set(changed["deleted_contacts"])
    # The inserts are what an incremental `updated_at` cursor sees; the deletion is not.
    recent = _all_ids(
        amo, "/api/v4/leads", **{"filter[updated_at][from]": str(changed["updated_at"]), "with": "contacts"}
    )
    assert set(changed["added_leads"]) <= set(recent)
    assert not set(changed["deleted_leads"]) & set(recent)
    new = amo.get(f"/api/v4/leads/{changed['added_leads'][0]}", params={"with": "contacts"}).json()
    assert new["created_at"] == new["updated_at"] == changed["updated_at"]
    assert new["_embedded"]["contacts"][0]["id"] in changed["added_contacts"]
    assert amo.get(f"/api/v4/leads/{changed['deleted_leads'][0]}").status_code == 204
    # Opt-outs leave the old behaviour.
    opt_out = {"inserts": False, "deletions": False}
    quiet = httpx.post(f"{server.urls.control}/regenerate", json=opt_out).json()
    assert quiet["added_leads"] == quiet["deleted_leads"] == quiet["deleted_contacts"] == []


@pytest.mark.parametrize(
    "type_params",
    [
        {"filter[type]": "lead_deleted,contact_deleted"},
        {"filter[type][0]": "lead_deleted", "filter[type][1]": "contact_deleted"},
    ],
)
def test_deletion_events_by_type_with_string_ids(
    server: SandboxServer, amo: httpx.Client, type_params: dict[str, str]
) -> None:
    assert amo.get("/api/v4/events", params=type_params).status_code == 204  # nothing happened yet
    first = server.state.scenario.advance(now=NOW + 600)
    second = server.state.scenario.advance(now=NOW + 1200)
    response = amo.get("/api/v4/events", params={**type_params, "limit": 100})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/hal+json")
    body = response.json()
    events = body["_embedded"]["events"]
    assert "next" in body["_links"]
    assert {(e["type"], e["entity_id"]) for e in events} == {
        *(("lead_deleted", i) for i in first["deleted_leads"] + second["deleted_leads"]),
        *(("contact_deleted", i) for i in first["deleted_contacts"] + second["deleted_contacts"]),
    }
    assert all(isinstance(e["id"], str) and len(e["id"]) == 26 for e in events)
    assert [e["created_at"] for e in events] == sorted((e["created_at"] for e in events), reverse=True)
    assert {e["entity_type"] for e in events} == {"lead", "contact"}
    # A created_at cursor returns only what happened since.
    since = amo.get(
        "/api/v4/events", params={**type_params, "filter[created_at]": str(second["updated_at"])}
    ).json()["_embedded"]["events"]
    assert {e["entity_id"] for e in since} == set(second["deleted_leads"] + second["deleted_contacts"])
    # Page past the end is 204, like every amoCRM list.
    assert amo.get("/api/v4/events", params={**type_params, "page": 2, "limit": 100}).status_code == 204


def test_events_limit_and_paging(server: SandboxServer, amo: httpx.Client) -> None:
    for k in range(1, 6):
        server.state.scenario.advance(now=NOW + 600 * k)
    total = len(server.state.scenario.events)
    assert total > 5
    over = amo.get("/api/v4/events", params={"limit": 250}).json()["_embedded"]["events"]
    assert len(over) == min(50, total)  # over 100 falls back to the default, like other lists
    seen, page = [], 1
    while (response := amo.get("/api/v4/events", params={"limit": 4, "page": page})).status_code == 200:
        seen += [e["id"] for e in response.json()["_embedded"]["events"]]
        page += 1
    assert len(seen) == len(set(seen)) == total
    added = amo.get("/api/v4/events", params={"filter[type][]": "lead_added"}).json()["_embedded"]["events"]
    assert {e["type"] for e in added} == {"lead_added"}


def test_trash_lists_only_deleted_leads(server: SandboxServer, amo: httpx.Client) -> None:
    assert amo.get("/api/v4/leads", params={"with": "only_deleted"}).status_code == 204
    changed = server.state.scenario.advance(now=NOW + 600)
    body = amo.get("/api/v4/leads", params={"with": "only_deleted", "limit": 250}).json()
    rows = body["_embedded"]["leads"]
    assert [r["id"] for r in rows] == changed["deleted_leads"]
    assert rows[0]["is_deleted"] is True and rows[0]["updated_at"] == changed["updated_at"]
    normal = amo.get("/api/v4/leads", params={"limit": 250}).json()["_embedded"]["leads"]
    assert not any(r["is_deleted"] for r in normal)
