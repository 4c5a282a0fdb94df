"""Read-only amoCRM / Kommo API v4 client: paging, rate limit, retries and token refresh in one place.

The quirks it absorbs (see docs/apis/amocrm.md): empty results are `204` with no body; lists are HAL
with `_links.next` always present, so a short page or a 204 ends paging; `limit` never above 250;
429 must never be hot-retried (repeated excess blocks the account); 5xx and HTML error pages are
transient; 401 means "refresh once, then re-auth"; 402 (unpaid) and 403 (blocked / IP / rights)
are fatal and must stop the run with a message an operator can act on.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import httpx

from synkro.clients.ratelimit import RateLimiter

log = logging.getLogger(__name__)

MAX_LIMIT = 250
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


class AmoCRMError(RuntimeError):
    """Base error of the amoCRM client. Messages never contain tokens."""


class AmoCRMHTTPError(AmoCRMError):
    """A non-retryable HTTP error other than 401/402/403 (e.g. 400 validation, 404 unknown path)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


class AmoCRMAuthError(AmoCRMError):
    """The token is rejected even after one refresh: the tenant must reconnect amoCRM."""


class AmoCRMAccountError(AmoCRMError):
    """402 (account unpaid) or 403 (blocked for rate excess, IP allow-list, missing admin rights)."""

    def __init__(self, status: int, path: str, detail: str) -> None:
        self.status = status
        reason = (
            "the amoCRM account is not paid (402); loading is paused until the tenant pays"
            if status == 402
            else "amoCRM refused access (403): the account may be blocked for exceeding the rate limit, "
            "the server IP may not be allow-listed, or the token's user lacks admin rights"
        )
        super().__init__(f"{reason}. Request: GET {path}. Server said: {detail}")


class AmoCRMUnavailableError(AmoCRMError):
    """Transient failures (429/5xx/HTML/connection drops) persisted after every retry."""


class TokenProvider(Protocol):
    """Where the client gets its bearer token and asks for a new one after a 401."""

    def access_token(self) -> str: ...

    def refresh_after_unauthorized(self, rejected_token: str) -> str:
        """Return a fresh token; `rejected_token` lets the provider skip a refresh someone else did."""
        ...


class StaticTokenProvider:
    """A long-lived token: nothing to refresh, a 401 means the token was revoked or expired."""

    def __init__(self, token: str) -> None:
        self._token = token

    def access_token(self) -> str:
        return self._token

    def refresh_after_unauthorized(self, rejected_token: str) -> str:
        raise AmoCRMAuthError("the long-lived amoCRM token was rejected (401); generate a new one")

    def __repr__(self) -> str:
        return "StaticTokenProvider(token=••••)"


@dataclass
class ClientStats:
    """Counters a test or benchmark reads to see how the client behaved."""

    requests: int = 0
    retries: int = 0
    refreshes: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


def _detail(response: httpx.Response) -> str:
    """A short, token-free description of an error body (which may be HTML)."""
    ctype = response.headers.get("content-type", "")
    if "json" in ctype:
        try:
            body = response.json()
        except ValueError:
            return response.text[:200]
        if isinstance(body, dict):
            parts = [str(body[k]) for k in ("hint", "title", "detail") if body.get(k)]
            return "; ".join(parts)[:300] or str(body)[:300]
    return f"non-JSON body ({ctype or 'no content-type'}): {response.text[:120]!r}"


class AmoCRMClient:
    """Synchronous httpx client for `GET /api/v4/...` of one account.

    `base_url` is the account origin (`https://sub.amocrm.ru`, or the sandbox's `.../amocrm`); the
    client appends `/api/v4/...`. Every HTTP attempt, retries included, passes the shared
    `rate_limiter`, so the tenant's budget holds however many resources run at once.
    """

    def __init__(
        self,
        base_url: str,
        token_provider: TokenProvider,
        rate_limiter: RateLimiter | None = None,
        *,
        timeout: float = 60.0,
        max_attempts: int = 7,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = token_provider
        self.limiter = rate_limiter or RateLimiter(7)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.stats = ClientStats()
        self._http = httpx.Client(
            timeout=timeout, transport=transport, headers={"Accept": "application/hal+json, application/json"}
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AmoCRMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AmoCRMClient(base_url={self.base_url!r})"

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def _sleep_backoff(self, attempt: int, response: httpx.Response | None) -> None:
        delay = min(self.backoff_cap, self.backoff_base * 2**attempt) * (0.5 + random.random() / 2)
        if response is not None:
            retry_after = response.headers.get("retry-after", "")
            if retry_after.isdigit():
                delay = max(delay, min(float(retry_after), 300.0))
        time.sleep(delay)

    def get(self, path: str, params: dict[str, Any] | list[tuple[str, Any]] | None = None) -> dict | None:
        """GET one resource; returns the parsed JSON, or `None` for `204 No Content`.

        Retries 429/5xx/408, connection drops and HTML/garbled bodies with jittered exponential
        backoff (respecting `Retry-After`); refreshes the token once on 401.
        """
        url = self._url(path)
        refreshed = False
        last_problem = ""
        for attempt in range(self.max_attempts):
            token = self.tokens.access_token()
            self.stats.requests += 1
            try:
                with self.limiter.slot():
                    response = self._http.get(
                        url, params=params, headers={"Authorization": f"Bearer {token}"}
                    )
            except httpx.TransportError as exc:
                last_problem = f"connection error: {type(exc).__name__}"
                log.warning("amoCRM GET %s: %s, retrying", urlsplit(url).path, last_problem)
                self.stats.retries += 1
                self._sleep_backoff(attempt, None)
                continue
            status = response.status_code
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
            if status == 204:
                return None
            if status == 401:
                if refreshed:
                    raise AmoCRMAuthError(
                        "amoCRM rejected the token again right after a refresh (401); "
                        f"the tenant must reconnect amoCRM. Server said: {_detail(response)}"
                    )
                refreshed = True
                self.stats.refreshes += 1
                self.tokens.refresh_after_unauthorized(token)
                continue
            if status in (402, 403):
                raise AmoCRMAccountError(status, urlsplit(url).path, _detail(response))
            if status in RETRY_STATUSES:
                last_problem = f"HTTP {status}: {_detail(response)}"
                log.warning("amoCRM GET %s: %s, backing off", urlsplit(url).path, last_problem)
                self.stats.retries += 1
                self._sleep_backoff(attempt, response)
                continue
            if status >= 400:
                raise AmoCRMHTTPError(
                    status, f"amoCRM GET {urlsplit(url).path} failed with HTTP {status}: {_detail(response)}"
                )
            if not response.content.strip():
                return None
            try:
                body = response.json()
            except ValueError:
                # Blocked or overloaded accounts answer 200 with an HTML page: transient until proven not.
                last_problem = _detail(response)
                log.warning("amoCRM GET %s: %s, retrying", urlsplit(url).path, last_problem)
                self.stats.retries += 1
                self._sleep_backoff(attempt, response)
                continue
            return body
        raise AmoCRMUnavailableError(
            f"amoCRM GET {urlsplit(url).path} still failing after {self.max_attempts} attempts: "
            f"{last_problem}"
        )

    def paginate(
        self, path: str, embedded_key: str, params: dict[str, Any] | None = None, limit: int = MAX_LIMIT
    ) -> Iterator[list[dict]]:
        """Yield pages of `_embedded[embedded_key]` following HAL `_links.next`.

        Stops on 204, a page shorter than `limit`, or a missing `next` link: amoCRM emits `next` even
        on the last page of lead/contact lists, so trusting it alone costs one extra 204 request.
        """
        limit = min(limit, MAX_LIMIT)
        query: dict[str, Any] = {**(params or {}), "limit": limit}
        query.setdefault("page", 1)
        next_url: str | None = path
        next_params: Any = query
        while next_url:
            body = self.get(next_url, next_params)
            if body is None:
                return
            rows = (body.get("_embedded") or {}).get(embedded_key) or []
            if rows:
                yield rows
            href = ((body.get("_links") or {}).get("next") or {}).get("href")
            if len(rows) < limit or not href:
                return
            # Follow the server's link, but keep our own host: the link carries the public domain,
            # while we may be reaching the account through another base URL (proxy, sandbox).
            parsed = urlsplit(href)
            next_url = self._same_origin(parsed.path)
            next_params = parse_qsl(parsed.query, keep_blank_values=True)

    def _same_origin(self, path: str) -> str:
        base = urlsplit(self.base_url)
        prefix = base.path.rstrip("/")
        if prefix and not path.startswith(prefix + "/"):
            path = prefix + path
        return f"{base.scheme}://{base.netloc}{path}"

    def iter_rows(self, path: str, embedded_key: str, params: dict[str, Any] | None = None) -> Iterator[dict]:
        for page in self.paginate(path, embedded_key, params):
            yield from page
