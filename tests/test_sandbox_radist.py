"""The Radist emulator over real HTTP with httpx: one test per documented quirk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sandbox.server import SandboxServer
from sandbox.state import SandboxState


@pytest.fixture
def radist(sandbox: SandboxServer, sandbox_faults: SandboxState) -> httpx.Client:
    info = sandbox.info()["radist"]
    headers = {"X-Api-Key": info["api_key"], "Accept": "application/json"}
    with httpx.Client(base_url=f"{info['base_url']}/companies/{info['company_id']}", headers=headers) as c:
        yield c


def _parse(created_at: str) -> datetime:
    moment = datetime.fromisoformat(created_at)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _all_chats(radist: httpx.Client, limit: int) -> tuple[list[dict], int]:
    chats: list[dict] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        body = radist.get("/messaging/chats/with_contacts/", params=params).json()
        pages += 1
        for contact in body["data"]:
            chats.extend({**chat, "contact_id": contact["contact_id"]} for chat in contact["chats"])
        cursor = body["response_metadata"].get("next_cursor")
        if not cursor:
            return chats, pages


def test_bad_key_is_401(sandbox: SandboxServer, sandbox_faults: SandboxState) -> None:
    info = sandbox.info()["radist"]
    response = httpx.get(f"{info['base_url']}/companies/", headers={"X-Api-Key": "wrong"})
    assert response.status_code == 401
    # The key is raw, not a Bearer token.
    bearer = httpx.get(
        f"{info['base_url']}/companies/", headers={"Authorization": f"Bearer {info['api_key']}"}
    )
    assert bearer.status_code == 401


def test_key_without_messaging_scope_is_403(sandbox: SandboxServer, sandbox_faults: SandboxState) -> None:
    info = sandbox.info()["radist"]
    key = sandbox.state.credentials.radist_api_key_no_messaging
    base = f"{info['base_url']}/companies/{info['company_id']}"
    with httpx.Client(headers={"X-Api-Key": key}) as client:
        assert client.get(f"{base}/messaging/chats/sources/").status_code == 403
        assert client.get(f"{base}/connections/").status_code == 200


def test_companies_list_resolves_company_id(sandbox: SandboxServer, sandbox_faults: SandboxState) -> None:
    info = sandbox.info()["radist"]
    body = httpx.get(
        f"{info['base_url']}/companies/",
        params={"limit": 100, "offset": 0},
        headers={"X-Api-Key": info["api_key"]},
    ).json()
    assert info["company_id"] in [c["id"] for c in body["companies"]]
    assert len(body["companies"]) >= 2  # one key may see several companies


def test_sources_is_a_bare_array(radist: httpx.Client) -> None:
    sources = radist.get("/messaging/chats/sources/").json()
    assert isinstance(sources, list)
    assert {"whatsapp", "waba"} <= {s["type"] for s in sources}
    assert all("connection_id" in s for s in sources)


def test_with_contacts_cursor_paging_covers_every_chat_once(
    radist: httpx.Client, sandbox: SandboxServer
) -> None:
    chats, pages = _all_chats(radist, limit=7)
    ids = [c["chat_id"] for c in chats]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(c.chat_id for c in sandbox.state.scenario.chats)
    assert pages > 2
    assert all("phone" in c and "source_chat_id" in c and "last_message" in c for c in chats)


def test_with_contacts_is_most_recently_active_first(radist: httpx.Client) -> None:
    data = radist.get("/messaging/chats/with_contacts/", params={"limit": 100}).json()["data"]
    stamps = [_parse(contact["last_chat_updated_at"]) for contact in data]
    assert stamps == sorted(stamps, reverse=True)


def test_bad_cursor_is_400(radist: httpx.Client) -> None:
    assert radist.get("/messaging/chats/with_contacts/", params={"cursor": "!!!"}).status_code == 400


def test_messages_bare_array_newest_first_and_backward_paging(
    radist: httpx.Client, sandbox: SandboxServer
) -> None:
    scenario = sandbox.state.scenario
    chat = max(scenario.chats, key=lambda c: c.n_messages)
    collected: list[dict] = []
    until: str | None = None
    while True:
        params: dict[str, str | int] = {"chat_id": chat.chat_id, "limit": 3}
        if until:
            params["until"] = until
        page = radist.get("/messaging/messages/", params=params).json()
        assert isinstance(page, list)
        stamps = [_parse(m["created_at"]) for m in page]
        assert stamps == sorted(stamps, reverse=True)
        collected.extend(page)
        if len(page) < 3:
            break
        until = (stamps[-1] - timedelta(milliseconds=1)).isoformat()
    ids = [m["message_id"] for m in collected]
    assert len(ids) == len(set(ids))
    assert ids[::-1] == [m.message_id for m in scenario.messages(chat.chat_id)]


def test_until_is_inclusive(radist: httpx.Client, sandbox: SandboxServer) -> None:
    chat = sandbox.state.scenario.chats[0]
    newest = radist.get("/messaging/messages/", params={"chat_id": chat.chat_id, "limit": 1}).json()[0]
    again = radist.get(
        "/messaging/messages/", params={"chat_id": chat.chat_id, "limit": 1, "until": newest["created_at"]}
    ).json()
    assert again[0]["message_id"] == newest["message_id"]


def test_text_lives_in_text_or_media_caption(radist: httpx.Client, sandbox: SandboxServer) -> None:
    media_chat = next(c for c in sandbox.state.scenario.chats if c.pattern == "good_media")
    messages = radist.get("/messaging/messages/", params={"chat_id": media_chat.chat_id}).json()
    kinds = {m["message_type"] for m in messages}
    assert {"text", "image", "file", "voice"} <= kinds
    for message in messages:
        assert message["direction"] in ("inbound", "outbound")
        if message["message_type"] == "text":
            assert message["text"]["text"]
        elif message["message_type"] in ("image", "file"):
            media = message[message["message_type"]]
            assert message["text"] is None and media["caption"] and media["name"]


def test_created_at_comes_in_several_iso_forms(radist: httpx.Client, sandbox: SandboxServer) -> None:
    spellings = set()
    for chat in sandbox.state.scenario.chats[:20]:
        for message in radist.get("/messaging/messages/", params={"chat_id": chat.chat_id}).json():
            value = message["created_at"]
            _parse(value)  # every spelling parses
            has_fraction = "." in value
            offset = "Z" if value.endswith("Z") else ("+" if value[-6] in "+-" else "naive")
            spellings.add((has_fraction, offset))
    assert len(spellings) >= 3


def test_unknown_chat_is_404_and_missing_chat_id_400(radist: httpx.Client) -> None:
    assert radist.get("/messaging/messages/", params={"chat_id": 1}).status_code == 404
    assert radist.get("/messaging/messages/").status_code == 400


def test_429_burst(radist: httpx.Client, sandbox_faults: SandboxState) -> None:
    sandbox_faults.set_faults("radist", burst_429=3)
    statuses = [radist.get("/messaging/chats/sources/").status_code for _ in range(4)]
    assert statuses == [429, 429, 429, 200]
