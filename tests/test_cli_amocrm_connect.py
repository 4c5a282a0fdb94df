"""`synkro amocrm connect SLUG` against the sandbox's OAuth endpoint: a fresh authorization code
(from `POST /_sandbox/amocrm/auth_codes`) exchanged and stored encrypted, a spent code refused,
secrets only ever prompted or read from stdin and never printed, long-lived tokens, and
`expires_at` following every token rotation."""

from __future__ import annotations

import base64
import json
import time
import uuid

import httpx
import pytest
from cryptography.fernet import Fernet

from sandbox.amocrm import REDIRECT_URI
from sandbox.server import SandboxServer
from sandbox.state import SandboxState
from synkro.clients.tenant_clients import amocrm_client_for, amocrm_token_provider
from synkro.controlplane import ControlPlane, open_controlplane
from tests.controlplane_helpers import synkro


@pytest.fixture
def cp(db_env: str, monkeypatch: pytest.MonkeyPatch) -> ControlPlane:
    monkeypatch.setenv("SYNKRO_SECRET_KEY", Fernet.generate_key().decode())
    return open_controlplane()


def fresh_code(sandbox: SandboxServer) -> str:
    response = httpx.post(f"{sandbox.urls.control}/amocrm/auth_codes", timeout=10)
    response.raise_for_status()
    return response.json()["auth_code"]


def tenant(cp: ControlPlane, sandbox: SandboxServer, configured: bool = True) -> str:
    slug = "amc" + uuid.uuid4().hex[:8]
    cp.tenants.create(slug, "Connect Test", "Europe/Moscow", actor="test")
    if configured:
        info = sandbox.info()["amocrm"]
        config = {k: info[k] for k in ("base_url", "subdomain", "client_id", "client_secret", "auth_code")}
        cp.configs.set_config(slug, "amocrm", {**config, "redirect_uri": REDIRECT_URI}, actor="test")
    return slug


def test_code_from_stdin_is_exchanged_and_stored(cp: ControlPlane, sandbox: SandboxServer) -> None:
    slug = tenant(cp, sandbox)
    code = fresh_code(sandbox)
    result = synkro("amocrm", "connect", slug, "--code-stdin", input=code + "\n")
    assert result.exit_code == 0, result.output
    config = cp.configs.get_config(slug, "amocrm")
    access = config.access_token.get_secret_value()
    assert config.refresh_token is not None and config.auth_code is None
    assert abs(config.expires_at - (time.time() + 86400)) < 120
    assert config.account_id == sandbox.state.credentials.amocrm_account_id
    assert "expires" in result.output and "(in 24 h)" in result.output
    for secret in (code, access, config.refresh_token.get_secret_value()):
        assert secret not in result.output
    with amocrm_client_for(cp, slug) as client:
        assert client.get("/api/v4/account")["id"] == config.account_id

    # The same code again: amoCRM refuses it (single use), the stored pair is left alone.
    again = synkro("amocrm", "connect", slug, "--code-stdin", input=code + "\n")
    assert again.exit_code == 1
    assert "authorization_code grant" in again.output and code not in again.output
    assert cp.configs.get_config(slug, "amocrm").access_token.get_secret_value() == access


def test_unconfigured_tenant_prompts_for_secret_and_code(cp: ControlPlane, sandbox: SandboxServer) -> None:
    slug = tenant(cp, sandbox, configured=False)
    info = sandbox.info()["amocrm"]
    code = fresh_code(sandbox)
    args = [
        "--subdomain",
        info["subdomain"],
        "--base-url",
        info["base_url"],
        "--client-id",
        info["client_id"],
    ]
    args += ["--redirect-uri", REDIRECT_URI]
    result = synkro("amocrm", "connect", slug, *args, input=f"{info['client_secret']}\n{code}\n")
    assert result.exit_code == 0, result.output
    assert info["client_secret"] not in result.output and code not in result.output
    config = cp.configs.get_config(slug, "amocrm")
    assert config.client_secret.get_secret_value() == info["client_secret"]
    assert config.access_token is not None and config.subdomain == info["subdomain"]


def test_missing_subdomain_or_redirect_is_bad_input(cp: ControlPlane, sandbox: SandboxServer) -> None:
    slug = tenant(cp, sandbox, configured=False)
    assert synkro("amocrm", "connect", slug, "--code-stdin", input="x\n").exit_code == 2
    result = synkro("amocrm", "connect", slug, "--subdomain", "acme", "--client-id", "c", input="x\n")
    assert result.exit_code == 2 and "redirect" in result.output


def test_long_lived_token_is_checked_and_stored(cp: ControlPlane, sandbox: SandboxServer) -> None:
    slug = tenant(cp, sandbox)
    token = sandbox.state.amo_long_lived_token
    bad = synkro("amocrm", "connect", slug, "--long-lived", input="not-a-token\n")
    assert bad.exit_code == 2 and cp.configs.get_config(slug, "amocrm").long_lived_token is None
    result = synkro("amocrm", "connect", slug, "--long-lived", input=token + "\n")
    assert result.exit_code == 0, result.output
    assert token not in result.output and "days" in result.output
    config = cp.configs.get_config(slug, "amocrm")
    assert config.long_lived_token.get_secret_value() == token
    assert config.access_token is None and config.refresh_token is None
    # The token's own `exp` is stored: the sandbox issued it when it started (maybe minutes ago).
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert config.expires_at == claims["exp"]
    assert abs(config.expires_at - (time.time() + 365 * 86400)) < 86400


def test_expires_at_follows_each_refresh(
    cp: ControlPlane, sandbox: SandboxServer, sandbox_faults: SandboxState
) -> None:
    slug = tenant(cp, sandbox)
    assert synkro("amocrm", "connect", slug, "--code-stdin", input=fresh_code(sandbox) + "\n").exit_code == 0
    before = cp.configs.get_record(slug, "amocrm")
    sandbox_faults.set_faults("amocrm", token_lifetime_s=3600)
    provider = amocrm_token_provider(cp, slug)
    new_access = provider.refresh_after_unauthorized(before.config.access_token.get_secret_value())
    after = cp.configs.get_record(slug, "amocrm")
    assert after.version > before.version
    assert after.config.access_token.get_secret_value() == new_access
    assert after.config.refresh_token.get_secret_value() != before.config.refresh_token.get_secret_value()
    assert abs(after.config.expires_at - (time.time() + 3600)) < 120
