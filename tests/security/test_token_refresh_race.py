"""Issue 13 item 9: an unrelated config change during an amoCRM token refresh must not drop the new pair.

The refresh spends the old refresh token at the (emulated) amoCRM; an unrelated field of the amoCRM
config changes between our read and our save. The new pair must still be saved. And an operator's
`config set amocrm` waits for a refresh in flight (it takes the same lock).
"""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from cryptography.fernet import Fernet

from synkro.clients.amocrm_oauth import OAuthApp, OAuthTokenProvider
from synkro.clients.tenant_clients import ControlPlaneTokenStore
from synkro.controlplane import open_controlplane
from synkro.controlplane.locks import amocrm_token_lock_name
from tests.fixtures.sandbox import SandboxServer
from tests.test_amocrm_oauth import REDIRECT_URI, oauth_sandbox, short_lived_pair  # noqa: F401


class _EditedDuringRefresh(ControlPlaneTokenStore):
    """The real store; its first save finds an unrelated field changed by another writer."""

    edited = False

    def save(self, pair, expected_version):  # type: ignore[no-untyped-def]
        if not self.edited:
            self.edited = True
            self.cp.configs.update_config_fields(
                self.slug,
                "amocrm",
                {"redirect_uri": REDIRECT_URI + "?edited"},
                expected_version,
                actor="operator",
            )
        return super().save(pair, expected_version)


def _tenant(cp, sandbox: SandboxServer) -> str:  # type: ignore[no-untyped-def]
    slug = "t" + uuid.uuid4().hex[:8]
    cp.tenants.create(slug, "Refresh race")
    pair = short_lived_pair(sandbox)
    creds = sandbox.state.credentials
    cp.configs.set_config(
        slug,
        "amocrm",
        {
            "subdomain": creds.amocrm_subdomain,
            "base_url": sandbox.urls.amocrm,
            "client_id": creds.amocrm_client_id,
            "client_secret": creds.amocrm_client_secret,
            "redirect_uri": REDIRECT_URI,
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "expires_at": int(pair.expires_at.timestamp()),
        },
    )
    return slug


def test_refreshed_pair_is_saved_despite_an_unrelated_change(
    oauth_sandbox: SandboxServer,  # noqa: F811
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYNKRO_SECRET_KEY", Fernet.generate_key().decode())
    cp = open_controlplane(database_url)
    slug = _tenant(cp, oauth_sandbox)
    before = cp.configs.get_config(slug, "amocrm")
    creds = oauth_sandbox.state.credentials
    app = OAuthApp(
        oauth_sandbox.urls.amocrm, creds.amocrm_client_id, creds.amocrm_client_secret, REDIRECT_URI
    )
    provider = OAuthTokenProvider(slug, app, _EditedDuringRefresh(cp, slug), cp.url)
    new_access = provider.refresh_after_unauthorized(before.access_token.get_secret_value())
    after = cp.configs.get_config(slug, "amocrm")
    assert after.access_token.get_secret_value() == new_access != before.access_token.get_secret_value()
    assert after.refresh_token.get_secret_value() in oauth_sandbox.state.amo_refresh_tokens  # the live one
    assert after.redirect_uri == REDIRECT_URI + "?edited"  # the other writer's change is kept too


def test_config_set_amocrm_waits_for_a_refresh_in_flight(
    oauth_sandbox: SandboxServer,  # noqa: F811
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYNKRO_SECRET_KEY", Fernet.generate_key().decode())
    cp = open_controlplane(database_url)
    slug = _tenant(cp, oauth_sandbox)
    done = threading.Event()
    with psycopg.connect(cp.url) as refresh, refresh.transaction():  # a refresh holding its lock
        refresh.execute("select pg_advisory_xact_lock(hashtext(%s))", (amocrm_token_lock_name(slug),))
        thread = threading.Thread(
            target=lambda: (cp.configs.set_config(slug, "amocrm", {"redirect_uri": REDIRECT_URI}), done.set())
        )
        thread.start()
        assert not done.wait(1.5)
    thread.join(timeout=30)
    assert done.is_set()
