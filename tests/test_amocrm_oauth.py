"""amoCRM OAuth against the sandbox: code exchange, refresh once on 401 mid-load, one valid pair
after concurrent refreshes, a spent refresh token never re-sent, rotated pair persisted first."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from dlt_sources.amocrm import amocrm_source
from sandbox.amocrm import REDIRECT_URI
from sandbox.server import SandboxServer
from synkro.clients.amocrm import AmoCRMAuthError, AmoCRMClient
from synkro.clients.amocrm_oauth import (
    OAuthApp,
    OAuthTokenProvider,
    StoredTokens,
    TokenConflictError,
    TokenPair,
    exchange_code,
    jwt_expiry,
    refresh_pair,
)
from synkro.clients.ratelimit import RateLimiter
from synkro.loading import run_load

_slugs = itertools.count(1)


class TableTokenStore:
    """A TokenStore on a plain Postgres table, with the same version check the control plane does."""

    def __init__(self, url: str, slug: str) -> None:
        self.url, self.slug = url, slug
        with psycopg.connect(url) as conn:
            conn.execute(
                "create table if not exists oauth_test_tokens (slug text primary key, access text, "
                "refresh text, expires_at timestamptz, version int not null)"
            )

    def put(self, pair: TokenPair) -> None:
        with psycopg.connect(self.url) as conn:
            conn.execute(
                "insert into oauth_test_tokens values (%s, %s, %s, %s, 1) on conflict (slug) do update "
                "set access = excluded.access, refresh = excluded.refresh, expires_at = excluded.expires_at, "
                "version = oauth_test_tokens.version + 1",
                (self.slug, pair.access_token, pair.refresh_token, pair.expires_at),
            )

    def load(self) -> StoredTokens:
        with psycopg.connect(self.url) as conn:
            access, refresh, expires, version = conn.execute(
                "select access, refresh, expires_at, version from oauth_test_tokens where slug = %s",
                (self.slug,),
            ).fetchone()
        return StoredTokens(TokenPair(access, refresh, expires), version)

    def save(self, pair: TokenPair, expected_version: int) -> int:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(
                "update oauth_test_tokens set access = %s, refresh = %s, expires_at = %s, "
                "version = version + 1 where slug = %s and version = %s returning version",
                (pair.access_token, pair.refresh_token, pair.expires_at, self.slug, expected_version),
            ).fetchone()
        if row is None:
            raise TokenConflictError("stored pair changed")
        return row[0]


@pytest.fixture
def oauth_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(seed=41, scenario="small") as server:
        yield server


def app_for(sb: SandboxServer) -> OAuthApp:
    creds = sb.state.credentials
    return OAuthApp(sb.urls.amocrm, creds.amocrm_client_id, creds.amocrm_client_secret, REDIRECT_URI)


def new_code(sb: SandboxServer) -> str:
    return httpx.post(f"{sb.urls.control}/amocrm/auth_codes").json()["auth_code"]


def short_lived_pair(sb: SandboxServer) -> TokenPair:
    """A pair whose access token dies in a second; later tokens live a day again."""
    sb.state.set_faults("amocrm", token_lifetime_s=1)
    pair = exchange_code(app_for(sb), new_code(sb))
    sb.state.set_faults("amocrm", token_lifetime_s=86400)
    return pair


def test_exchange_code_gives_a_usable_pair(oauth_sandbox: SandboxServer) -> None:
    pair = exchange_code(app_for(oauth_sandbox), oauth_sandbox.state.credentials.amocrm_auth_code)
    assert pair.refresh_token and pair.expires_at == jwt_expiry(pair.access_token)
    assert "def50200" not in repr(pair) and pair.access_token not in repr(pair)
    # The code is single-use, like the Keys tab's.
    with pytest.raises(AmoCRMAuthError, match="reconnect"):
        exchange_code(app_for(oauth_sandbox), oauth_sandbox.state.credentials.amocrm_auth_code)


def test_token_expiring_mid_load_is_refreshed_once_and_persisted_first(
    oauth_sandbox: SandboxServer, database_url: str
) -> None:
    slug = f"oauth{next(_slugs)}"
    store = TableTokenStore(database_url, slug)
    first = short_lived_pair(oauth_sandbox)
    # Stored without expiry (as if unknown), so the client only learns of it from the 401.
    store.put(TokenPair(first.access_token, first.refresh_token, None))
    time.sleep(1.1)
    provider = OAuthTokenProvider(slug, app_for(oauth_sandbox), store, database_url)
    with AmoCRMClient(oauth_sandbox.urls.amocrm, provider, RateLimiter(7)) as client:
        counts = run_load(slug, amocrm_source(client, "RU"), destination_url=database_url)
        assert client.stats.refreshes == 1
    assert counts["amocrm_leads"] == len(oauth_sandbox.state.scenario.leads)
    assert provider.refresh_count == 1
    stored = store.load()
    assert stored.version == 2
    assert stored.pair.refresh_token != first.refresh_token
    assert stored.pair.refresh_token in oauth_sandbox.state.amo_refresh_tokens  # the live one
    assert first.refresh_token in oauth_sandbox.state.amo_spent_refresh_tokens


def test_concurrent_refreshes_end_with_one_valid_pair(
    oauth_sandbox: SandboxServer, database_url: str
) -> None:
    slug = f"oauth{next(_slugs)}"
    store = TableTokenStore(database_url, slug)
    first = short_lived_pair(oauth_sandbox)
    store.put(first)
    # Two "processes": separate providers, same tenant, both rejected with the same token at once.
    providers = [OAuthTokenProvider(slug, app_for(oauth_sandbox), store, database_url) for _ in range(4)]
    results: list[str] = []
    errors: list[BaseException] = []

    def refresh(p: OAuthTokenProvider) -> None:
        try:
            results.append(p.refresh_after_unauthorized(first.access_token))
        except BaseException as exc:  # pragma: no cover - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=refresh, args=(p,)) for p in providers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(p.refresh_count for p in providers) == 1
    assert len(set(results)) == 1
    stored = store.load()
    assert stored.pair.access_token == results[0]
    assert oauth_sandbox.state.amo_refresh_tokens.keys() >= {stored.pair.refresh_token}
    response = httpx.get(
        f"{oauth_sandbox.urls.amocrm}/api/v4/account", headers={"Authorization": f"Bearer {results[0]}"}
    )
    assert response.status_code == 200


def test_spent_refresh_token_is_refused_without_leaking_it(oauth_sandbox: SandboxServer) -> None:
    pair = exchange_code(app_for(oauth_sandbox), new_code(oauth_sandbox))
    refresh_pair(app_for(oauth_sandbox), pair.refresh_token)
    with pytest.raises(AmoCRMAuthError) as info:
        refresh_pair(app_for(oauth_sandbox), pair.refresh_token)
    assert "Token has been revoked" in str(info.value)
    assert pair.refresh_token not in str(info.value)


def test_controlplane_store_rotates_pair_with_version_check(
    oauth_sandbox: SandboxServer, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.fernet import Fernet

    from synkro.clients.tenant_clients import ControlPlaneTokenStore, amocrm_client_for
    from synkro.controlplane import open_controlplane

    monkeypatch.setenv("SYNKRO_SECRET_KEY", Fernet.generate_key().decode())
    cp = open_controlplane(database_url)
    slug = f"cpoauth{next(_slugs)}"
    cp.tenants.create(slug, "OAuth tenant")
    first = short_lived_pair(oauth_sandbox)
    creds = oauth_sandbox.state.credentials
    cp.configs.set_config(
        slug,
        "amocrm",
        {
            "subdomain": creds.amocrm_subdomain,
            "base_url": oauth_sandbox.urls.amocrm,
            "client_id": creds.amocrm_client_id,
            "client_secret": creds.amocrm_client_secret,
            "redirect_uri": REDIRECT_URI,
            "access_token": first.access_token,
            "refresh_token": first.refresh_token,
            "expires_at": int(first.expires_at.timestamp()),
        },
    )
    time.sleep(1.1)
    with amocrm_client_for(cp, slug) as client:
        assert client.get("/api/v4/account")["id"] == creds.amocrm_account_id
    config = cp.configs.get_config(slug, "amocrm")
    assert config.refresh_token.get_secret_value() != first.refresh_token
    assert config.refresh_token.get_secret_value() in oauth_sandbox.state.amo_refresh_tokens
    store = ControlPlaneTokenStore(cp, slug)
    stale = store.load().version - 1
    with pytest.raises(TokenConflictError):
        store.save(TokenPair("x", "y", None), stale)
