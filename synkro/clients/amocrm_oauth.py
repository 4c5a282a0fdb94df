"""amoCRM OAuth: code exchange, refresh, and a token provider that never loses a tenant's access.

amoCRM refresh tokens are single-use: every refresh returns a new pair and kills the old refresh
token at once. Two runs refreshing at the same time, or a crash between refreshing and saving, leave
the tenant with no valid refresh token and a human must reconnect. So a refresh happens only under
a per-tenant Postgres advisory lock, re-reads the stored pair after taking the lock (another process
may already have refreshed), and saves the new pair before the new access token is used.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import httpx
import psycopg

from synkro.clients.amocrm import AmoCRMAuthError, AmoCRMError, AmoCRMUnavailableError
from synkro.controlplane.locks import amocrm_token_lock_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OAuthApp:
    """The integration's identity, needed for every token request (redirect_uri must match exactly)."""

    base_url: str
    client_id: str
    client_secret: str
    redirect_uri: str

    def __repr__(self) -> str:
        return f"OAuthApp(base_url={self.base_url!r}, client_id={self.client_id!r}, client_secret=••••)"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None

    def __repr__(self) -> str:
        return f"TokenPair(access_token=••••, refresh_token=••••, expires_at={self.expires_at})"


@dataclass(frozen=True)
class StoredTokens:
    """What the store holds now, with the version used for optimistic locking on save."""

    pair: TokenPair
    version: int


class TokenStore(Protocol):
    """Persistence of one tenant's token pair (the control plane's encrypted config in production)."""

    def load(self) -> StoredTokens: ...

    def save(self, pair: TokenPair, expected_version: int) -> int:
        """Store `pair` if the stored version is still `expected_version`; return the new version."""
        ...


class TokenConflictError(AmoCRMError):
    """The stored pair changed between load and save (someone else wrote the config)."""


def _jwt_time(token: str, claim: str) -> datetime | None:
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(int(data[claim]), tz=UTC)
    except (IndexError, ValueError, KeyError, TypeError, AttributeError):
        return None


def jwt_expiry(token: str) -> datetime | None:
    """The `exp` claim of a JWT access or long-lived token, read without verification (for display)."""
    return _jwt_time(token, "exp")


def jwt_issued_at(token: str) -> datetime | None:
    """The `iat` claim. An OAuth access token is issued together with its refresh token, so the
    stored access token's `iat` tells how long the refresh token has gone unused (it dies at 3 months)."""
    return _jwt_time(token, "iat")


def _pair_from_response(body: dict) -> TokenPair:
    if not body.get("access_token"):
        raise AmoCRMAuthError("amoCRM token endpoint answered without an access_token")
    expires_at = None
    if body.get("expires_in"):
        issued = body.get("server_time") or time.time()
        expires_at = datetime.fromtimestamp(int(issued) + int(body["expires_in"]), tz=UTC)
    return TokenPair(
        body["access_token"], body.get("refresh_token"), expires_at or jwt_expiry(body["access_token"])
    )


def _token_request(app: OAuthApp, payload: dict, http: httpx.Client | None, attempts: int = 3) -> TokenPair:
    """POST to `/oauth2/access_token`.

    Retried only when the server certainly did not consume the grant: connection refused before
    sending, or an explicit 429/5xx answer. A read timeout is NOT retried, because the refresh
    token may already be spent and resending it is exactly what must never happen.
    """
    url = f"{app.base_url.rstrip('/')}/oauth2/access_token"
    body = {"client_id": app.client_id, "client_secret": app.client_secret, "redirect_uri": app.redirect_uri}
    body.update(payload)
    own = http is None
    client = http or httpx.Client(timeout=30)
    try:
        for attempt in range(attempts):
            try:
                response = client.post(url, json=body)
            except httpx.ConnectError as exc:
                if attempt + 1 == attempts:
                    raise AmoCRMError(f"amoCRM token endpoint unreachable: {type(exc).__name__}") from None
                time.sleep(1.0 * 2**attempt)
                continue
            if response.status_code in (429, 500, 502, 503, 504) and attempt + 1 < attempts:
                time.sleep(1.0 * 2**attempt)
                continue
            if response.status_code in (400, 401, 403):
                hint = ""
                try:
                    data = response.json()
                    hint = data.get("hint") or data.get("detail") or data.get("title") or ""
                except ValueError:
                    pass
                raise AmoCRMAuthError(
                    f"amoCRM refused the {payload['grant_type']} grant (HTTP {response.status_code}"
                    f"{': ' + hint if hint else ''}); the tenant must reconnect amoCRM"
                )
            if response.status_code in (429, 500, 502, 503, 504):
                raise AmoCRMUnavailableError(f"amoCRM token endpoint answered HTTP {response.status_code}")
            if response.status_code != 200:
                raise AmoCRMError(f"amoCRM token endpoint answered HTTP {response.status_code}")
            try:
                return _pair_from_response(response.json())
            except ValueError:
                raise AmoCRMError("amoCRM token endpoint answered with a non-JSON body") from None
        raise AmoCRMError("amoCRM token endpoint kept failing")
    finally:
        if own:
            client.close()


def exchange_code(app: OAuthApp, code: str, http: httpx.Client | None = None) -> TokenPair:
    """Exchange an authorization code (valid 20 minutes for private integrations) for a pair."""
    return _token_request(app, {"grant_type": "authorization_code", "code": code.strip()}, http)


def refresh_pair(app: OAuthApp, refresh_token: str, http: httpx.Client | None = None) -> TokenPair:
    """Trade a refresh token for a new pair. The old refresh token is dead once this returns."""
    return _token_request(app, {"grant_type": "refresh_token", "refresh_token": refresh_token}, http)


class OAuthTokenProvider:
    """`TokenProvider` for an OAuth tenant: serves the stored access token, refreshes it safely.

    `lock_database_url` is the control-plane database where the advisory lock is taken; every
    process refreshing this tenant's tokens must use the same database and `slug`.
    """

    def __init__(
        self,
        slug: str,
        app: OAuthApp,
        store: TokenStore,
        lock_database_url: str,
        *,
        expiry_margin: timedelta = timedelta(seconds=30),
        http: httpx.Client | None = None,
    ) -> None:
        self.slug = slug
        self.app = app
        self.store = store
        self.lock_database_url = lock_database_url
        self.expiry_margin = expiry_margin
        self._http = http
        self._local = threading.Lock()
        self._current: StoredTokens | None = None
        self.refresh_count = 0

    def __repr__(self) -> str:
        return f"OAuthTokenProvider(slug={self.slug!r})"

    def access_token(self) -> str:
        """The current access token; refreshed first if it is already (nearly) expired."""
        with self._local:
            if self._current is None:
                self._current = self.store.load()
            pair = self._current.pair
        if pair.expires_at is not None and pair.expires_at - self.expiry_margin <= datetime.now(UTC):
            return self.refresh_after_unauthorized(pair.access_token)
        return pair.access_token

    def _save_spent_refresh(self, new_pair: TokenPair, stored: StoredTokens, attempts: int = 3) -> int:
        """Save the new pair even if an unrelated field changed meanwhile (issue 13 item 9).

        The old refresh token is spent, so dropping this pair would lose amoCRM access. Token
        fields are only written under the refresh lock we hold (`config set amocrm` takes it too),
        so a version conflict with the stored tokens unchanged was an unrelated edit: save again
        against the new version. Changed tokens would be a real conflict and still raise.
        """
        expected = stored.version
        for attempt in range(attempts):
            try:
                return self.store.save(new_pair, expected)
            except TokenConflictError:
                current = self.store.load()
                same = (current.pair.access_token, current.pair.refresh_token) == (
                    stored.pair.access_token,
                    stored.pair.refresh_token,
                )
                if not same or attempt == attempts - 1:
                    raise
                expected = current.version
        raise AssertionError("unreachable")  # pragma: no cover

    def refresh_after_unauthorized(self, rejected_token: str) -> str:
        """Refresh under the tenant's advisory lock unless someone already replaced `rejected_token`."""
        with self._local, psycopg.connect(self.lock_database_url) as conn, conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (amocrm_token_lock_name(self.slug),))
            stored = self.store.load()
            if stored.pair.access_token != rejected_token:
                # Another run (or thread) refreshed while we waited: its pair is the valid one.
                self._current = stored
                return stored.pair.access_token
            if not stored.pair.refresh_token:
                raise AmoCRMAuthError(
                    "the amoCRM access token expired and there is no refresh token; reconnect amoCRM"
                )
            new_pair = refresh_pair(self.app, stored.pair.refresh_token, self._http)
            self.refresh_count += 1
            try:
                version = self._save_spent_refresh(new_pair, stored)
            except Exception:
                # The old refresh token is already spent; this pair is the tenant's only access.
                log.critical("amoCRM tokens for %s refreshed but NOT saved; access will be lost", self.slug)
                raise
            self._current = StoredTokens(new_pair, version)
            log.info("amoCRM tokens for %s refreshed; expires_at=%s", self.slug, new_pair.expires_at)
            return new_pair.access_token
