"""Radist.Online API v2 emulator (read side), quirks included.

Follows ../shared/docs/apis/radist.md: raw `X-Api-Key` auth (401 for a bad key, 403 when the key
lacks the `messaging` scope), everything under `/companies/{id}/`, dialogs grouped by contact
with cursor paging in `response_metadata.next_cursor`, messages as a bare JSON array, newest
first, paged backwards with `until` (inclusive), text in `text.text` or in media captions or
`waba_interactive.body.text`, and `created_at` spelled in several ISO-8601 forms. Undocumented
details (error bodies, status field, attachment URLs) use the reference's stated assumptions.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox import faults
from sandbox.dialogs import Message
from sandbox.scenario import CONNECTIONS, Chat, Scenario
from sandbox.state import SandboxState

MSK = timezone(timedelta(hours=3))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_MESSAGES_LIMIT = 100
DEFAULT_CHATS_LIMIT = 100
MAX_LIMIT = 1000
SECOND_COMPANY = {"id": 163147, "name": "Синкро Мебель (архив)"}


def error(status: int, detail: str) -> Response:
    return JSONResponse({"detail": detail}, status_code=status)


def render_fault(status: int, kind: str, retry_after: float | None) -> Response:
    if kind == "rate_limited":
        return error(429, "Too Many Requests")
    if kind == "unpaid":
        return error(402, "Subscription is not paid")
    if kind == "blocked":
        return error(403, "Company is blocked")
    return error(status, "Internal Server Error" if status == 500 else "Service Unavailable")


def format_created_at(ts_ms: int, variant: int) -> str:
    """The spellings of `created_at` seen in the wild; every one denotes the same instant."""
    moment = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    if variant == 0:
        return moment.isoformat(timespec="microseconds")
    if variant == 1:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % 1000:03d}Z"
    if variant == 2:
        return moment.astimezone(MSK).isoformat(timespec="milliseconds")
    if variant == 3 and ts_ms % 1000 == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if variant == 4 and ts_ms % 1000 == 0:
        return moment.replace(tzinfo=None).isoformat(timespec="seconds")
    return moment.isoformat(timespec="milliseconds")


def parse_until(value: str) -> int:
    """`until` as epoch milliseconds; naive values are UTC, like Radist's own naive stamps."""
    moment = datetime.fromisoformat(value.strip().replace(" ", "+"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // timedelta(milliseconds=1)


_MEDIA_KEY = {"image": "image", "file": "file", "voice": "voice"}


def message_dict(msg: Message) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": msg.message_id,
        "direction": msg.direction,
        "message_type": "interactive" if msg.kind == "waba" else msg.kind,
        "created_at": format_created_at(msg.ts_ms, msg.time_format),
        "status": "read" if msg.direction == "inbound" else ("read", "delivered", "sent")[msg.ts_ms % 3],
        "text": None,
    }
    if msg.kind == "text":
        body["text"] = {"text": msg.text}
    elif msg.kind == "waba":
        body["waba_interactive"] = {"type": "button_reply", "body": {"text": msg.text}}
    else:
        media: dict[str, Any] = {
            "name": msg.media_name,
            "mime_type": msg.media_mime,
            "url": f"https://files.radist.example/{msg.message_id}/{msg.media_name}",
        }
        if msg.text:
            media["caption"] = msg.text
        body[_MEDIA_KEY[msg.kind]] = media
    return body


def _trailing_inbound(msgs: list[Message]) -> int:
    count = 0
    for msg in reversed(msgs):
        if msg.direction != "inbound":
            break
        count += 1
    return count


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    padded = cursor + "=" * (-len(cursor) % 4)
    text = base64.urlsafe_b64decode(padded.encode()).decode()
    if not text.startswith("offset:"):
        raise ValueError(cursor)
    return int(text[len("offset:") :])


class _Groups:
    """Radist contacts with their chats, most recently active first, per scenario version."""

    def __init__(self) -> None:
        self.version = -1
        self.groups: list[tuple[int, list[Chat]]] = []

    def get(self, sc: Scenario) -> list[tuple[int, list[Chat]]]:
        if self.version != sc.version:
            by_contact: dict[int, list[Chat]] = {}
            for chat in sc.chats:
                by_contact.setdefault(chat.radist_contact_id, []).append(chat)
            self.groups = sorted(by_contact.items(), key=lambda kv: (-max(c.end_ms for c in kv[1]), kv[0]))
            self.version = sc.version
        return self.groups


def _limit(request: Request, default: int) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    value = int(raw)
    if value < 1:
        raise ValueError("limit")
    return min(value, MAX_LIMIT)


def build_app(state: SandboxState) -> Starlette:
    creds = state.credentials
    scopes = {
        creds.radist_api_key: {"messaging", "connections"},
        creds.radist_api_key_no_messaging: {"connections"},
    }
    groups = _Groups()

    async def guard(request: Request, scope: str | None, company: bool = True) -> Response | None:
        fault = await faults.check(
            state, "radist", request, account=str(creds.radist_company_id), render=render_fault
        )
        if fault is not None:
            return fault
        key = request.headers.get("x-api-key")
        if not key or key not in scopes:
            return error(401, "Invalid or missing API key")
        if scope and scope not in scopes[key]:
            return error(403, f"API key lacks the '{scope}' scope")
        if company:
            company_id = request.path_params.get("company_id")
            if company_id not in (creds.radist_company_id, SECOND_COMPANY["id"]):
                return error(403, "Company is not available for this API key")
        return faults.account_status_response(state.faults["radist"], render_fault)

    def is_main_company(request: Request) -> bool:
        return request.path_params.get("company_id") == creds.radist_company_id

    async def companies(request: Request) -> Response:
        if (denied := await guard(request, None, company=False)) is not None:
            return denied
        items = [{"id": creds.radist_company_id, "name": "Синкро Мебель"}, dict(SECOND_COMPANY)]
        try:
            offset = int(request.query_params.get("offset", 0))
            limit = _limit(request, 100)
        except ValueError:
            return error(400, "Invalid limit or offset")
        return JSONResponse({"companies": items[offset : offset + limit]})

    async def connections(request: Request) -> Response:
        if (denied := await guard(request, "connections")) is not None:
            return denied
        items = (
            [{"id": cid, "type": ctype, "name": name, "active": True} for cid, ctype, name in CONNECTIONS]
            if is_main_company(request)
            else []
        )
        return JSONResponse({"connections": items})

    async def sources(request: Request) -> Response:
        if (denied := await guard(request, "messaging")) is not None:
            return denied
        if not is_main_company(request):
            return JSONResponse([])
        return JSONResponse(
            [
                {
                    "connection_id": cid,
                    "type": ctype,
                    "name": name,
                    "create_chat": {"by": ["phone", "contact_id"] if ctype != "telegram" else ["user_name"]},
                }
                for cid, ctype, name in CONNECTIONS
            ]
        )

    async def with_contacts(request: Request) -> Response:
        if (denied := await guard(request, "messaging")) is not None:
            return denied
        try:
            limit = _limit(request, DEFAULT_CHATS_LIMIT)
            cursor = request.query_params.get("cursor")
            offset = _decode_cursor(cursor) if cursor else 0
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return error(400, "Invalid cursor or limit")
        sc = state.scenario
        all_groups = groups.get(sc) if is_main_company(request) else []
        page = all_groups[offset : offset + limit]
        data = []
        for contact_id, chats in page:
            chat_items = []
            for chat in sorted(chats, key=lambda c: -c.end_ms):
                msgs = sc.messages(chat.chat_id)
                chat_items.append(
                    {
                        "chat_id": chat.chat_id,
                        "connection_id": chat.connection_id,
                        "phone": chat.phone,
                        "source_chat_id": chat.source_chat_id,
                        "name": chat.contact_name,
                        "unanswered_count": _trailing_inbound(msgs),
                        "last_message": message_dict(msgs[-1]),
                    }
                )
            newest = max(chats, key=lambda c: c.end_ms)
            data.append(
                {
                    "contact_id": contact_id,
                    "contact_name": sc.contact_names.get(contact_id, newest.contact_name),
                    "avatar_url": None,
                    "is_group": False,
                    "unanswered_count": sum(item["unanswered_count"] for item in chat_items),
                    "last_chat_updated_at": format_created_at(newest.end_ms, 1),
                    "chats": chat_items,
                }
            )
        more = offset + limit < len(all_groups)
        return JSONResponse(
            {
                "data": data,
                "response_metadata": {"next_cursor": _encode_cursor(offset + limit) if more else ""},
            }
        )

    async def messages(request: Request) -> Response:
        if (denied := await guard(request, "messaging")) is not None:
            return denied
        raw_chat = request.query_params.get("chat_id")
        if not raw_chat:
            return error(400, "chat_id is required")
        try:
            chat_id = int(raw_chat)
            limit = _limit(request, DEFAULT_MESSAGES_LIMIT)
            until_raw = request.query_params.get("until")
            until = parse_until(until_raw) if until_raw else None
        except ValueError:
            return error(400, "Invalid chat_id, limit or until")
        sc = state.scenario
        if not is_main_company(request) or sc.chat(chat_id) is None:
            return error(404, "Chat not found")
        msgs = sc.messages(chat_id)
        newest_first = [m for m in reversed(msgs) if until is None or m.ts_ms <= until][:limit]
        return JSONResponse([message_dict(m) for m in newest_first])

    prefix = "/companies/{company_id:int}"
    return Starlette(
        routes=[
            Route("/companies/", companies),
            Route(f"{prefix}/connections/", connections),
            Route(f"{prefix}/messaging/chats/sources/", sources),
            Route(f"{prefix}/messaging/chats/with_contacts/", with_contacts),
            Route(f"{prefix}/messaging/messages/", messages),
        ]
    )
