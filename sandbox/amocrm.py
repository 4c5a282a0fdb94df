"""amoCRM API v4 emulator (read side plus OAuth), quirks included.

Follows ../shared/docs/apis/amocrm.md: HAL pages with `_links.next` on every full *and* short
page of leads/contacts (the list has no totals), `204 No Content` with an empty body for empty
results and pages past the end, `limit` > 250 silently falling back to 50, `custom_fields_values`
null when empty, statuses 142/143 in every pipeline, single-use refresh tokens whose reuse gets
the documented 401 "Token has been revoked" body, `application/problem+json` errors, 402/403
account states (a blocked account answers with an HTML page), and a per-account rate limit.
The consent page of the OAuth round trip is `GET /oauth` (see amocrm_consent).
Deletions written by `Scenario.advance()` show up the documented ways only: `lead_deleted` /
`contact_deleted` events (`GET /api/v4/events`, see amocrm_events) and the trash
(`GET /api/v4/leads?with=only_deleted`, `is_deleted: true`); normal lists just stop showing them.

Pages are rendered from per-row JSON fragments cached per scenario version (lead rows straight
from format strings, see amocrm_fragments) and whole pages are LRU-cached, so repeated walks
over `large` cost a dict lookup per page.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import json
import secrets
import time
from collections import OrderedDict
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox import faults
from sandbox.amocrm_consent import consent_routes, integration_routes
from sandbox.amocrm_events import EventQuery, events_page
from sandbox.amocrm_fragments import lead_fragment
from sandbox.scenario import (
    EMAIL_ENUMS,
    EMAIL_FIELD_ID,
    PHONE_ENUMS,
    PHONE_FIELD_ID,
    Contact,
    Lead,
    Scenario,
)
from sandbox.state import AmoToken, SandboxState

MAX_LIMIT = 250
DEFAULT_LIMIT = 50
AUTH_CODE_LIFETIME_S = 20 * 60
REDIRECT_URI = "https://example.com"
_JWT_KEY = b"synkro-sandbox-not-a-real-signing-key"
OAUTH_PROBLEM = "https://developers.amocrm.ru/v3/errors/OAuthProblemJson"


# ---- responses ----------------------------------------------------------------------------


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body = {
        **extra,
        "title": title,
        "type": f"https://httpstatus.es/{status}",
        "status": status,
        "detail": detail,
    }
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def oauth_problem(status: int, hint: str | None, detail: str) -> Response:
    body: dict[str, Any] = {}
    if hint:
        body["hint"] = hint
    body.update({"title": "Некорректный запрос", "type": OAUTH_PROBLEM, "status": status, "detail": detail})
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def unauthorized() -> Response:
    return problem(401, "Unauthorized", "Неверный логин или пароль")


def render_fault(status: int, kind: str, retry_after: float | None) -> Response:
    """amoCRM's fault shapes: problem+json, but HTML from the front end for 5xx and blocks."""
    if kind == "blocked":
        return HTMLResponse(
            "<html><head><title>403 Forbidden</title></head><body><h1>Доступ к аккаунту заблокирован</h1>"
            "<p>Account is blocked</p></body></html>",
            status_code=403,
        )
    if kind == "unpaid":
        return problem(402, "Payment Required", "Аккаунт не оплачен")
    if kind == "rate_limited":
        return problem(429, "Too Many Requests", "Превышен лимит запросов")
    return HTMLResponse(
        f"<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center>"
        "<hr><center>nginx</center></body></html>",
        status_code=status,
    )


def no_content() -> Response:
    return Response(status_code=204)


def hal(body: bytes) -> Response:
    return Response(body, media_type="application/hal+json")


# ---- tokens -------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_jwt(state: SandboxState, lifetime_s: int, grant_type: str) -> tuple[str, float]:
    """A JWT-shaped access token with the claims real ones carry (exp, account_id, …)."""
    now = int(time.time())
    creds = state.credentials
    claims = {
        "aud": creds.amocrm_client_id,
        "jti": secrets.token_hex(20),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_s,
        "sub": str(state.scenario.users[0].id),
        "grant_type": grant_type,
        "account_id": creds.amocrm_account_id,
        "base_domain": "amocrm.ru",
        "version": 2,
        "scopes": ["crm", "files", "files_delete", "notifications", "push_notifications"],
        "hash_uuid": secrets.token_hex(16),
        "api_domain": "api-b.amocrm.ru",
    }
    head = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
    payload = _b64(json.dumps(claims).encode())
    sig = _b64(hmac.new(_JWT_KEY, f"{head}.{payload}".encode(), hashlib.sha256).digest())
    token = f"{head}.{payload}.{sig}"
    state.amo_access_tokens[token] = AmoToken(creds.amocrm_account_id, now + lifetime_s, grant_type)
    return token, now + lifetime_s


def issue_auth_code(state: SandboxState, code: str | None = None) -> str:
    """A fresh authorization code, valid 20 minutes and once (like the Keys tab hands out)."""
    code = code or "def50200" + secrets.token_hex(32)
    state.amo_auth_codes[code] = time.time() + AUTH_CODE_LIFETIME_S
    return code


def init_tokens(state: SandboxState) -> None:
    """The info file's auth code and long-lived token (1 year, no refresh token)."""
    issue_auth_code(state, state.credentials.amocrm_auth_code)
    state.amo_long_lived_token, _ = make_jwt(state, 365 * 86400, "")


def _issue_pair(state: SandboxState, grant_type: str) -> Response:
    lifetime = int(state.faults["amocrm"].token_lifetime_s)
    access, _ = make_jwt(state, lifetime, grant_type)
    refresh = "def50200" + secrets.token_hex(96)
    state.amo_refresh_tokens[refresh] = state.credentials.amocrm_account_id
    return JSONResponse(
        {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "server_time": int(time.time()),
            "access_token": access,
            "refresh_token": refresh,
        }
    )


async def _read_body(request: Request) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "")
    if "application/json" in ctype:
        body = await request.json()
        return body if isinstance(body, dict) else {}
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _authenticate(state: SandboxState, request: Request) -> AmoToken | None:
    header = request.headers.get("authorization", "")
    if not header.startswith("Bearer "):
        return None
    token = state.amo_access_tokens.get(header[7:].strip())
    if token is None or token.expires_at <= time.time():
        return None
    return token


# ---- list machinery -----------------------------------------------------------------------


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"


class _Query:
    """The list parameters of one request, parsed the way amoCRM reads them."""

    def __init__(self, request: Request) -> None:
        self.items = request.query_params.multi_items()
        self.ids: list[int] = []
        self.ranges: dict[str, list[int | None]] = {}
        self.bare_range = False
        self.order: tuple[str, str] | None = None
        self.with_: set[str] = set()
        self.page = 1
        self.limit = DEFAULT_LIMIT
        self.error: str | None = None
        for key, value in self.items:
            try:
                self._read(key, value)
            except ValueError:
                self.error = f"invalid value for {key}"

    def _read(self, key: str, value: str) -> None:
        if key == "page":
            self.page = max(1, int(value))
        elif key == "limit":
            limit = int(value)
            # Over the maximum the server silently falls back to the default (amocrm-api-php#210).
            self.limit = DEFAULT_LIMIT if limit > MAX_LIMIT or limit < 1 else limit
        elif key == "with":
            self.with_.update(part.strip() for part in value.split(",") if part.strip())
        elif key.startswith("filter[id]"):
            self.ids.extend(int(v) for v in value.split(",") if v)
        elif key.startswith("filter[") and key.count("[") == 2 and key.endswith(("[from]", "[to]")):
            field = key[len("filter[") : key.index("]")]
            bound = 0 if key.endswith("[from]") else 1
            self.ranges.setdefault(field, [None, None])[bound] = int(value)
        elif key.startswith("filter[") and key.endswith("_at]"):
            self.bare_range = True  # `filter[updated_at]=ts` without from/to matches nothing
        elif key.startswith("order["):
            field = key[len("order[") : -1]
            if value not in ("asc", "desc"):
                raise ValueError(key)
            self.order = (field, value)

    def href(self, base: str, path: str, page: int) -> str:
        params = [(k, v) for k, v in self.items if k != "page"] + [("page", str(page))]
        return f"{base}{path}?{urlencode(params, safe='[]')}"


class _Index:
    """Sorted row positions per order key, rebuilt when the scenario version changes."""

    def __init__(self) -> None:
        self.version = -1
        self.sorted: dict[str, tuple[list[int], list[int]]] = {}

    def get(self, sc: Scenario, rows: list[Any], field: str) -> tuple[list[int], list[int]]:
        """(positions sorted by (field, id), the field values in that order)."""
        if self.version != sc.version:
            self.sorted.clear()
            self.version = sc.version
        if field not in self.sorted:
            positions = sorted(range(len(rows)), key=lambda i: (getattr(rows[i], field), rows[i].id))
            self.sorted[field] = (positions, [getattr(rows[i], field) for i in positions])
        return self.sorted[field]


def _select(
    sc: Scenario, rows: list[Any], index: _Index, q: _Query, filters_on: bool, orderable: set[str]
) -> list[int] | Response:
    """Row positions matching the query, in order."""
    field, direction = q.order if q.order else ("id", "asc")
    if field not in orderable:
        return problem(
            400,
            "Bad Request",
            "Request validation failed",
            **{
                "validation-errors": [
                    {
                        "request_id": "0",
                        "errors": [
                            {
                                "code": "NotSupportedChoice",
                                "path": f"order.{field}",
                                "detail": "The value you selected is not a valid choice.",
                            }
                        ],
                    }
                ]
            },
        )
    positions, keys = index.get(sc, rows, field)
    ranges = q.ranges if filters_on else {}
    if field in ranges:
        lo, hi = ranges[field]
        start = bisect.bisect_left(keys, lo) if lo is not None else 0
        end = bisect.bisect_right(keys, hi) if hi is not None else len(keys)
        positions = positions[start:end]
    for other, (lo, hi) in ranges.items():
        if other == field:
            continue
        positions = [
            i
            for i in positions
            if (v := getattr(rows[i], other, None)) is not None
            and (lo is None or v >= lo)
            and (hi is None or v <= hi)
        ]
    if filters_on and q.ids:
        wanted = set(q.ids)
        positions = [i for i in positions if rows[i].id in wanted]
    if direction == "desc":
        positions = positions[::-1]
    return positions


def _page_body(q: _Query, base: str, path: str, entity: str, parts: list[bytes]) -> bytes:
    links: dict[str, Any] = {
        "self": {"href": q.href(base, path, q.page)},
        "next": {"href": q.href(base, path, q.page + 1)},
    }
    if q.page > 1:
        links["first"] = {"href": q.href(base, path, 1)}
        links["prev"] = {"href": q.href(base, path, q.page - 1)}
    head = json.dumps({"_page": q.page, "_links": links}, ensure_ascii=False)[:-1]
    return b"".join((head.encode(), b',"_embedded":{"', entity.encode(), b'":[', b",".join(parts), b"]}}"))


# ---- rendering ----------------------------------------------------------------------------


def lead_dict(lead: Lead, base: str, account_id: int, with_contacts: bool) -> dict[str, Any]:
    embedded: dict[str, Any] = {"tags": [], "companies": []}
    if with_contacts:
        embedded["contacts"] = [
            {"id": cid, "is_main": main, "_links": {"self": {"href": f"{base}/api/v4/contacts/{cid}"}}}
            for cid, main in lead.contacts
        ]
    return {
        "id": lead.id,
        "name": lead.name,
        "price": lead.price,
        "responsible_user_id": lead.responsible_user_id,
        "group_id": 0,
        "status_id": lead.status_id,
        "pipeline_id": lead.pipeline_id,
        "loss_reason_id": None,
        "created_by": 0,
        "updated_by": lead.responsible_user_id,
        "created_at": lead.created_at,
        "updated_at": lead.updated_at,
        "closed_at": lead.closed_at,
        "closest_task_at": None,
        "is_deleted": False,
        "custom_fields_values": None,
        "score": None,
        "account_id": account_id,
        "labor_cost": None,
        "_links": {"self": {"href": f"{base}/api/v4/leads/{lead.id}"}},
        "_embedded": embedded,
    }


def contact_dict(contact: Contact, base: str, account_id: int, leads: list[int] | None) -> dict[str, Any]:
    fields: list[dict[str, Any]] = []
    if contact.phones:
        fields.append(
            {
                "field_id": PHONE_FIELD_ID,
                "field_name": "Телефон",
                "field_code": "PHONE",
                "field_type": "multitext",
                "values": [
                    {"value": p.raw, "enum_id": PHONE_ENUMS[p.enum_code], "enum_code": p.enum_code}
                    for p in contact.phones
                ],
            }
        )
    if contact.email:
        fields.append(
            {
                "field_id": EMAIL_FIELD_ID,
                "field_name": "Email",
                "field_code": "EMAIL",
                "field_type": "multitext",
                "values": [{"value": contact.email, "enum_id": EMAIL_ENUMS["WORK"], "enum_code": "WORK"}],
            }
        )
    embedded: dict[str, Any] = {"tags": [], "companies": []}
    if leads is not None:
        embedded["leads"] = [
            {"id": lid, "_links": {"self": {"href": f"{base}/api/v4/leads/{lid}"}}} for lid in leads
        ]
    return {
        "id": contact.id,
        "name": contact.name,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "responsible_user_id": contact.responsible_user_id,
        "group_id": 0,
        "created_by": contact.responsible_user_id,
        "updated_by": 0,
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
        "closest_task_at": None,
        "is_deleted": False,
        "is_unsorted": False,
        "custom_fields_values": fields or None,
        "account_id": account_id,
        "_links": {"self": {"href": f"{base}/api/v4/contacts/{contact.id}"}},
        "_embedded": embedded,
    }


_COMPACT: dict[str, Any] = {"ensure_ascii": False, "separators": (",", ":")}


class _FragmentCache:
    """JSON bytes per row, per (scenario version, base URL, variant).

    `build` returns the row as a dict or as ready bytes (leads: `amocrm_fragments`).
    """

    def __init__(self) -> None:
        self.key: tuple[int, str] | None = None
        self.parts: dict[tuple[int, bool], bytes] = {}

    def get(self, sc: Scenario, base: str, row_id: int, variant: bool, build: Any) -> bytes:
        if self.key != (sc.version, base):
            self.key = (sc.version, base)
            self.parts = {}
        key = (row_id, variant)
        part = self.parts.get(key)
        if part is None:
            built = build()
            part = built if isinstance(built, bytes) else json.dumps(built, **_COMPACT).encode()
            self.parts[key] = part
        return part


class _PageCache:
    """Whole rendered pages per (scenario version, filter add-on, base URL, query), LRU-bounded.

    Clients re-walk the same pages on every sync (and the benchmark walks them in a loop), so a
    repeated page costs a dict lookup; a change to the scenario changes the version and misses.
    """

    def __init__(self, capacity: int = 512) -> None:
        self.capacity = capacity
        self.pages: OrderedDict[tuple[Any, ...], bytes | None] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> tuple[bool, bytes | None]:
        if key in self.pages:
            self.pages.move_to_end(key)
            return True, self.pages[key]
        return False, None

    def put(self, key: tuple[Any, ...], body: bytes | None) -> None:
        self.pages[key] = body
        if len(self.pages) > self.capacity:
            self.pages.popitem(last=False)


def _cached(body: bytes | None) -> Response:
    return no_content() if body is None else hal(body)


# ---- app ----------------------------------------------------------------------------------


def build_app(state: SandboxState) -> Starlette:
    lead_index, contact_index, trash_index = _Index(), _Index(), _Index()
    lead_parts, contact_parts = _FragmentCache(), _FragmentCache()
    pages = _PageCache()
    contact_leads_cache: dict[str, Any] = {"version": -1, "map": {}}
    account_id = state.credentials.amocrm_account_id

    def contact_leads() -> dict[int, list[int]]:
        sc = state.scenario
        if contact_leads_cache["version"] != sc.version:
            contact_leads_cache["map"] = sc.contact_leads()
            contact_leads_cache["version"] = sc.version
        return contact_leads_cache["map"]

    async def guard(request: Request) -> Response | None:
        """Faults, then the token, then the account's billing state — the real order."""
        fault = await faults.check(state, "amocrm", request, account=str(account_id), render=render_fault)
        if fault is not None:
            return fault
        if _authenticate(state, request) is None:
            return unauthorized()
        return faults.account_status_response(state.faults["amocrm"], render_fault)

    async def access_token(request: Request) -> Response:
        fault = await faults.check(state, "amocrm", request, account=str(account_id), render=render_fault)
        if fault is not None:
            return fault
        try:
            body = await _read_body(request)
        except (ValueError, UnicodeDecodeError):
            return oauth_problem(
                400,
                "Check the `grant_type` parameter",
                "В запросе отсутствует ряд параметров или параметры невалидны",
            )
        creds = state.credentials
        if (
            body.get("client_id") != creds.amocrm_client_id
            or body.get("client_secret") != creds.amocrm_client_secret
        ):
            return oauth_problem(401, None, "Client authentication failed")
        if not body.get("redirect_uri"):
            return oauth_problem(
                400,
                "Check the `redirect_uri` parameter",
                "В запросе отсутствует ряд параметров или параметры невалидны",
            )
        grant = body.get("grant_type")
        if grant == "authorization_code":
            code = str(body.get("code") or "")
            bound = state.amo_code_redirects.get(code)
            if bound is not None and body.get("redirect_uri") != bound:
                # A code from the consent page works only with the integration's redirect URI.
                return oauth_problem(
                    400,
                    "Check the `redirect_uri` parameter",
                    "В запросе отсутствует ряд параметров или параметры невалидны",
                )
            state.amo_code_redirects.pop(code, None)
            expires = state.amo_auth_codes.pop(code, None)
            if expires is None:
                return oauth_problem(
                    400,
                    "Authorization code has been revoked",
                    "В запросе отсутствует ряд параметров или параметры невалидны",
                )
            if expires < time.time():
                return oauth_problem(
                    400,
                    "Authorization code has expired",
                    "В запросе отсутствует ряд параметров или параметры невалидны",
                )
            return _issue_pair(state, grant)
        if grant == "refresh_token":
            token = str(body.get("refresh_token") or "")
            if token in state.amo_spent_refresh_tokens:
                return oauth_problem(
                    401,
                    "Token has been revoked",
                    "В запросе отсутствует ряд параметров или параметры невалидны",
                )
            if token not in state.amo_refresh_tokens:
                return oauth_problem(
                    401,
                    "Cannot decrypt the refresh token",
                    "В запросе отсутствует ряд параметров или параметры невалидны",
                )
            del state.amo_refresh_tokens[token]
            state.amo_spent_refresh_tokens.add(token)
            return _issue_pair(state, grant)
        return oauth_problem(
            400,
            "Check the `grant_type` parameter",
            "The authorization grant type is not supported by the authorization server.",
        )

    async def account(request: Request) -> Response:
        if (denied := await guard(request)) is not None:
            return denied
        base = _base(request)
        with_ = {p.strip() for p in request.query_params.get("with", "").split(",") if p.strip()}
        body: dict[str, Any] = {
            "id": account_id,
            "name": "Синкро Мебель",
            "subdomain": state.credentials.amocrm_subdomain,
            "created_at": int(state.scenario.now) - 400 * 86400,
            "created_by": state.scenario.users[0].id,
            "updated_at": int(state.scenario.now) - 86400,
            "updated_by": state.scenario.users[0].id,
            "current_user_id": state.scenario.users[0].id,
            "country": "RU",
            "currency": "RUB",
            "currency_symbol": "₽",
            "customers_mode": "disabled",
            "is_unsorted_on": True,
            "mobile_feature_version": 0,
            "is_loss_reason_enabled": True,
            "is_helpbot_enabled": False,
            "is_technical_account": False,
            "contact_name_display_order": 1,
            "_links": {"self": {"href": f"{base}/api/v4/account"}},
        }
        if "is_api_filter_enabled" in with_:
            body["is_api_filter_enabled"] = state.faults["amocrm"].filter_enabled
        if "datetime_settings" in with_:
            body["_embedded"] = {
                "datetime_settings": {
                    "date_pattern": "d.m.Y H:i",
                    "short_date_pattern": "d.m.Y",
                    "short_time_pattern": "H:i",
                    "date_format": "d.m.Y",
                    "time_format": "H:i:s",
                    "timezone": "Europe/Moscow",
                    "timezone_offset": "+03:00",
                }
            }
        return JSONResponse(body, media_type="application/hal+json")

    async def _cached_list(request: Request, kind: str, render) -> Response:
        """A list page from the page cache (keyed by scenario version, filter add-on and query)."""
        if (denied := await guard(request)) is not None:
            return denied
        cache_key = (
            kind,
            state.scenario.version,
            state.faults["amocrm"].filter_enabled,
            _base(request),
            request.url.query,
        )
        hit, cached = pages.get(cache_key)
        if hit:
            return _cached(cached)
        response = await render(request)
        if response.status_code in (200, 204):
            pages.put(cache_key, response.body if response.status_code == 200 else None)
        return response

    async def leads(request: Request) -> Response:
        return await _cached_list(request, "leads", _leads_page)

    async def _leads_page(request: Request) -> Response:
        q = _Query(request)
        if q.error:
            return problem(400, "Bad Request", q.error)
        if q.bare_range and state.faults["amocrm"].filter_enabled:
            return no_content()
        sc = state.scenario
        if "only_deleted" in q.with_:
            return _trash_page(q, request)
        selected = _select(
            sc,
            sc.leads,
            lead_index,
            q,
            state.faults["amocrm"].filter_enabled,
            {"id", "updated_at", "created_at"},
        )
        if isinstance(selected, Response):
            return selected
        start = (q.page - 1) * q.limit
        chunk = selected[start : start + q.limit]
        if not chunk:
            return no_content()
        base = _base(request)
        with_contacts = "contacts" in q.with_
        parts = []
        for i in chunk:
            lead = sc.leads[i]
            parts.append(
                lead_parts.get(
                    sc,
                    base,
                    lead.id,
                    with_contacts,
                    lambda lead=lead: lead_fragment(lead, base, account_id, with_contacts),
                )
            )
        return hal(_page_body(q, base, "/api/v4/leads", "leads", parts))

    def _trash_page(q: _Query, request: Request) -> Response:
        """`with=only_deleted`: only leads in the trash, `is_deleted: true`, stamped when deleted."""
        sc = state.scenario
        rows = [lead._replace(updated_at=deleted_at) for lead, deleted_at in sc.trash]
        filters_on = state.faults["amocrm"].filter_enabled
        selected = _select(sc, rows, trash_index, q, filters_on, {"id", "updated_at", "created_at"})
        if isinstance(selected, Response):
            return selected
        chunk = selected[(q.page - 1) * q.limit : q.page * q.limit]
        if not chunk:
            return no_content()
        base = _base(request)
        parts = []
        for i in chunk:
            row = lead_dict(rows[i], base, account_id, "contacts" in q.with_)
            row["is_deleted"] = True
            parts.append(json.dumps(row, **_COMPACT).encode())
        return hal(_page_body(q, base, "/api/v4/leads", "leads", parts))

    async def events(request: Request) -> Response:
        if (denied := await guard(request)) is not None:
            return denied
        q = EventQuery(request.query_params.multi_items())
        if q.error:
            return problem(400, "Bad Request", q.error)
        body = events_page(state.scenario.events, q, _base(request), account_id)
        return no_content() if body is None else hal(body)

    async def lead_one(request: Request) -> Response:
        if (denied := await guard(request)) is not None:
            return denied
        lead = state.scenario.lead(int(request.path_params["id"]))
        if lead is None:
            return no_content()
        with_ = request.query_params.get("with", "")
        return JSONResponse(
            lead_dict(lead, _base(request), account_id, "contacts" in with_),
            media_type="application/hal+json",
        )

    async def contacts(request: Request) -> Response:
        return await _cached_list(request, "contacts", _contacts_page)

    async def _contacts_page(request: Request) -> Response:
        q = _Query(request)
        if q.error:
            return problem(400, "Bad Request", q.error)
        if q.bare_range and state.faults["amocrm"].filter_enabled:
            return no_content()
        sc = state.scenario
        selected = _select(
            sc, sc.contacts, contact_index, q, state.faults["amocrm"].filter_enabled, {"id", "updated_at"}
        )
        if isinstance(selected, Response):
            return selected
        start = (q.page - 1) * q.limit
        chunk = selected[start : start + q.limit]
        if not chunk:
            return no_content()
        base = _base(request)
        with_leads = "leads" in q.with_
        links = contact_leads() if with_leads else {}
        parts = []
        for i in chunk:
            c = sc.contacts[i]
            parts.append(
                contact_parts.get(
                    sc,
                    base,
                    c.id,
                    with_leads,
                    lambda c=c: contact_dict(
                        c, base, account_id, links.get(c.id, []) if with_leads else None
                    ),
                )
            )
        return hal(_page_body(q, base, "/api/v4/contacts", "contacts", parts))

    async def contact_one(request: Request) -> Response:
        if (denied := await guard(request)) is not None:
            return denied
        contact = state.scenario.contact(int(request.path_params["id"]))
        if contact is None:
            return no_content()
        with_leads = "leads" in request.query_params.get("with", "")
        leads_of = contact_leads().get(contact.id, []) if with_leads else None
        return JSONResponse(
            contact_dict(contact, _base(request), account_id, leads_of), media_type="application/hal+json"
        )

    async def pipelines(request: Request) -> Response:
        if (denied := await guard(request)) is not None:
            return denied
        base = _base(request)
        items = []
        for p in state.scenario.pipelines:
            statuses = [
                {
                    "id": s.id,
                    "name": s.name,
                    "sort": s.sort,
                    "is_editable": s.id not in (142, 143) and s.type != 1,
                    "pipeline_id": p.id,
                    "color": s.color,
                    "type": s.type,
                    "account_id": account_id,
                    "_links": {"self": {"href": f"{base}/api/v4/leads/pipelines/{p.id}/statuses/{s.id}"}},
                }
                for s in p.statuses
            ]
            items.append(
                {
                    "id": p.id,
                    "name": p.name,
                    "sort": p.sort,
                    "is_main": p.is_main,
                    "is_unsorted_on": True,
                    "is_archive": False,
                    "account_id": account_id,
                    "_links": {"self": {"href": f"{base}/api/v4/leads/pipelines/{p.id}"}},
                    "_embedded": {"statuses": statuses},
                }
            )
        return JSONResponse(
            {
                "_total_items": len(items),
                "_links": {"self": {"href": f"{base}/api/v4/leads/pipelines"}},
                "_embedded": {"pipelines": items},
            },
            media_type="application/hal+json",
        )

    async def users(request: Request) -> Response:
        if (denied := await guard(request)) is not None:
            return denied
        q = _Query(request)
        if q.error:
            return problem(400, "Bad Request", q.error)
        all_users = state.scenario.users
        start = (q.page - 1) * q.limit
        chunk = all_users[start : start + q.limit]
        if not chunk:
            return no_content()
        base = _base(request)
        page_count = (len(all_users) + q.limit - 1) // q.limit
        links: dict[str, Any] = {"self": {"href": q.href(base, "/api/v4/users", q.page)}}
        if q.page < page_count:
            links["next"] = {"href": q.href(base, "/api/v4/users", q.page + 1)}
        items = [
            {
                "id": u.id,
                "name": u.name,
                "email": u.email,
                "lang": "ru",
                "rights": {
                    "is_admin": i == 0,
                    "is_free": False,
                    "is_active": True,
                    "group_id": None,
                    "role_id": None,
                },
                "_links": {"self": {"href": f"{base}/api/v4/users/{u.id}"}},
            }
            for i, u in enumerate(chunk, start=start)
        ]
        return JSONResponse(
            {
                "_total_items": len(all_users),
                "_page": q.page,
                "_page_count": page_count,
                "_links": links,
                "_embedded": {"users": items},
            },
            media_type="application/hal+json",
        )

    return Starlette(
        routes=[
            *consent_routes(state),
            Route("/oauth2/access_token", access_token, methods=["POST"]),
            Route("/api/v4/account", account),
            Route("/api/v4/leads", leads),
            Route("/api/v4/leads/pipelines", pipelines),
            Route("/api/v4/leads/{id:int}", lead_one),
            Route("/api/v4/contacts", contacts),
            Route("/api/v4/contacts/{id:int}", contact_one),
            Route("/api/v4/users", users),
            Route("/api/v4/events", events),
        ]
    )


def control_routes(state: SandboxState) -> list[BaseRoute]:
    """Mounted at `/_sandbox/amocrm`: the integration's settings (its registered redirect URI)."""
    return integration_routes(state)
