"""Read-only Radist.Online API v2 client: companies, chat sources, dialogs and their messages.

Radist publishes no rate limit but does answer 429, so the client keeps few requests in flight
(`max_in_flight`, default 4, shared by every thread using the client), paces request starts a
little, and backs off exponentially (2 s x 2^n, capped) on 408/425/429/5xx and connection drops;
a 429 pauses all threads at once and halves the requests in flight (`SharedThrottle`).
401/403 mean the key is wrong or lacks the `messaging` scope; retrying cannot help, so they
raise `RadistAuthError` at once.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from synkro.clients.throttle import SharedThrottle

log = logging.getLogger(__name__)

RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}
PAGE_LIMIT = 100
# docs/apis/radist.md: limits unknown, keep 1–2 requests in flight. Two, halved to one on a 429,
# given back after a run of successes; the load's message workers never exceed the client's cap
# (SYNKRO_RADIST_MAX_IN_FLIGHT raises it for an account known to take more). The pacing is a
# ceiling (100 req/s) that a real round trip never reaches; it only stops a runaway against a very
# fast server.
DEFAULT_MAX_IN_FLIGHT = 2
DEFAULT_MIN_INTERVAL = 0.01


class RadistError(RuntimeError):
    """Base error of the Radist client. Messages never contain the API key.

    `status` is the HTTP status when the server answered (402 unpaid, 403 blocked or scope, ...).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


def _server_detail(response: httpx.Response) -> str:
    """The server's short reason (`detail` of a JSON error, else the start of the body)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:120]
    if isinstance(body, dict) and body.get("detail"):
        return str(body["detail"])[:200]
    return str(body)[:120]


class RadistAuthError(RadistError):
    """401/403: the API key is invalid, revoked, or lacks the scope this call needs."""


class RadistUnavailableError(RadistError):
    """Transient failures persisted after every retry."""


def parse_radist_time(value: str | None) -> datetime | None:
    """Parse Radist's ISO-8601 in its several forms (with/without fraction, `Z`, offset or none → UTC)."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if " " in text and "T" not in text:
        text = text.replace(" ", "T", 1)
    # Python 3.11 accepts 1-6 fraction digits; trim longer fractions (nanoseconds).
    if "." in text:
        head, _, rest = text.partition(".")
        digits = re.match(r"\d*", rest).group(0)  # the fraction only, not the offset's digits
        tail = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{tail}"
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _retry_after(response: httpx.Response | None) -> float | None:
    """`Retry-After` in seconds when the server sent one as a number (Radist documents none)."""
    value = response.headers.get("retry-after", "") if response is not None else ""
    return float(value) if value.isdigit() else None


def format_until(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds, the form `until` is sent in."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RadistClient:
    """Synchronous client for one company of one API key; `base_url` ends in `/v2`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        company_id: int | str | None = None,
        *,
        timeout: float = 60.0,
        max_attempts: int = 6,
        backoff_base: float = 2.0,
        backoff_cap: float = 15.0,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.company_id = company_id
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.requests = 0
        self.retries = 0
        self._counter_lock = threading.Lock()
        self.throttle = SharedThrottle(
            max_in_flight, min_interval, backoff_base=backoff_base, backoff_cap=backoff_cap
        )
        self._http = httpx.Client(
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight),
            headers={"X-Api-Key": api_key, "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"RadistClient(base_url={self.base_url!r}, company_id={self.company_id!r}, api_key=••••)"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RadistClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET `base_url + path` through the shared throttle, retrying transient errors.

        Safe to call from several threads: a 429 pauses all of them (see `SharedThrottle`);
        5xx and dropped connections back off only the request that failed.
        """
        url = f"{self.base_url}/{path.lstrip('/')}"
        problem = ""
        for attempt in range(self.max_attempts):
            self.throttle.acquire()
            with self._counter_lock:
                self.requests += 1
            response: httpx.Response | None = None
            try:
                response = self._http.get(url, params=params)
            except httpx.TransportError as exc:
                problem = f"connection error: {type(exc).__name__}"
            except BaseException:
                self.throttle.release(ok=False)
                raise
            status = response.status_code if response is not None else None
            retry_after = _retry_after(response)
            shared_pause = self.throttle.release(
                ok=status is not None and status not in RETRY_STATUSES,
                throttled=status == 429,
                retry_after=retry_after,
            )
            if response is not None:
                if response.status_code in (401, 403):
                    raise RadistAuthError(
                        f"Radist rejected the API key (HTTP {response.status_code}: "
                        f"{_server_detail(response)}) for GET /{path.lstrip('/')}: "
                        "check that the key is valid and has the 'messaging' scope "
                        "(and 'connections' for connection lists)",
                        response.status_code,
                    )
                if response.status_code not in RETRY_STATUSES:
                    if response.status_code >= 400:
                        raise RadistError(
                            f"Radist GET /{path.lstrip('/')} failed with HTTP {response.status_code}: "
                            f"{_server_detail(response)!r}",
                            response.status_code,
                        )
                    if response.status_code == 204 or not response.content.strip():
                        return None
                    try:
                        return response.json()
                    except ValueError:
                        problem = f"non-JSON body: {response.text[:120]!r}"
                else:
                    problem = f"HTTP {response.status_code}"
            with self._counter_lock:
                self.retries += 1
            if status == 429:
                # The shared pause is served in `acquire`, by every thread alike.
                log.warning(
                    "Radist GET /%s: HTTP 429, all requests paused %.1fs", path.lstrip("/"), shared_pause
                )
                continue
            delay = min(self.backoff_cap, self.backoff_base * 2**attempt) * (0.5 + random.random() / 2)
            if retry_after is not None:
                delay = max(delay, min(retry_after, 60.0))
            log.warning("Radist GET /%s: %s, retrying in %.1fs", path.lstrip("/"), problem, delay)
            time.sleep(delay)
        raise RadistUnavailableError(f"Radist GET /{path.lstrip('/')} still failing: {problem}")

    def _company_path(self, suffix: str) -> str:
        if self.company_id is None:
            raise RadistError("company_id is not set; resolve it with companies() first")
        return f"companies/{self.company_id}/{suffix.lstrip('/')}"

    def companies(self) -> list[dict]:
        """All companies the key can see (limit/offset paging)."""
        found: list[dict] = []
        offset = 0
        while True:
            body = self.get("companies/", {"limit": PAGE_LIMIT, "offset": offset}) or {}
            page = body.get("companies") or []
            found.extend(page)
            if len(page) < PAGE_LIMIT:
                return found
            offset += len(page)

    def sources(self) -> list[dict]:
        """Chat sources (connections usable for messaging); also the cheapest `messaging` scope probe."""
        return self.get(self._company_path("messaging/chats/sources/")) or []

    def connections(self) -> list[dict]:
        body = self.get(self._company_path("connections/")) or {}
        return body.get("connections") or []

    def contacts_with_chats(self, limit: int = PAGE_LIMIT) -> Iterator[dict]:
        """Every contact with its chats, following `response_metadata.next_cursor` until it is empty."""
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": limit}
            if cursor:
                params["cursor"] = cursor
            body = self.get(self._company_path("messaging/chats/with_contacts/"), params) or {}
            yield from body.get("data") or []
            cursor = (body.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    def messages(
        self, chat_id: int | str, since: datetime | None = None, limit: int = PAGE_LIMIT
    ) -> Iterator[dict]:
        """Messages of one chat, newest first, paged backwards with `until` = oldest − 1 ms.

        Stops at a short page or once a page reaches messages older than `since` (those older
        messages are still yielded; the caller's merge on message_id makes the overlap harmless).
        Duplicates across page boundaries (same millisecond) are dropped here.
        """
        seen: set[str] = set()
        until: datetime | None = None
        while True:
            params: dict[str, Any] = {"chat_id": chat_id, "limit": limit}
            if until is not None:
                params["until"] = format_until(until)
            page = self.get(self._company_path("messaging/messages/"), params) or []
            if isinstance(page, dict):  # tolerate an envelope should the API add one
                page = page.get("data") or page.get("messages") or []
            oldest: datetime | None = None
            for message in page:
                key = str(message.get("message_id"))
                created = parse_radist_time(message.get("created_at"))
                if created is not None and (oldest is None or created < oldest):
                    oldest = created
                if key in seen:
                    continue
                seen.add(key)
                yield message
            if len(page) < limit or oldest is None:
                return
            if since is not None and oldest < since:
                return
            until = oldest - timedelta(milliseconds=1)
