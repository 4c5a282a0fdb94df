"""`synkro check SLUG amocrm|radist` against the sandbox: healthy accounts, bad credentials, missing
scope, unpaid (402) and blocked (403) accounts, ignored API filters, refresh-token age, and the
`--sample` view of contacts with their Radist dialogs checked against the scenario."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest
from cryptography.fernet import Fernet

from sandbox.amocrm import REDIRECT_URI
from sandbox.server import SandboxServer
from sandbox.state import SandboxState
from synkro.checks import CheckOptions, CheckResult, run_check
from synkro.checks.amocrm import token_lines
from synkro.controlplane import ControlPlane, open_controlplane
from synkro.tenant_context import TenantContext
from tests.controlplane_helpers import synkro


@pytest.fixture
def cp(db_env: str, monkeypatch: pytest.MonkeyPatch) -> ControlPlane:
    monkeypatch.setenv("SYNKRO_SECRET_KEY", Fernet.generate_key().decode())
    return open_controlplane()


def tenant(cp: ControlPlane, sandbox: SandboxServer, **radist: object) -> str:
    slug = "chk" + uuid.uuid4().hex[:8]
    cp.tenants.create(slug, "Check Test", "Europe/Moscow", actor="test")
    info = sandbox.info()
    amo = {k: info["amocrm"][k] for k in ("base_url", "subdomain", "long_lived_token")}
    cp.configs.set_config(slug, "amocrm", amo, actor="test")
    cp.configs.set_config(slug, "radist", {**info["radist"], **radist}, actor="test")
    return slug


def check(cp: ControlPlane, slug: str, kind: str, sample: int = 0) -> tuple[CheckResult, dict]:
    result = run_check(TenantContext.load(slug, cp), kind, CheckOptions(sample=sample))
    return result, {line.name: line for line in result.lines}


def test_amocrm_healthy_long_lived(
    cp: ControlPlane, sandbox: SandboxServer, sandbox_faults: SandboxState
) -> None:
    slug = tenant(cp, sandbox)
    result, lines = check(cp, slug, "amocrm")
    assert result.ok, result.lines
    assert lines["token"].ok and lines["account"].ok and "30123456" in lines["account"].detail
    assert lines["admin rights"].ok and lines["API filters"].ok
    assert lines["token expiry"].ok and "days" in lines["token expiry"].detail
    assert cp.configs.get_record(slug, "amocrm").status == "ok"


def test_amocrm_ignored_filter_is_a_warning(
    cp: ControlPlane, sandbox: SandboxServer, sandbox_faults: SandboxState
) -> None:
    slug = tenant(cp, sandbox)
    sandbox_faults.set_faults("amocrm", filter_enabled=False)
    result, lines = check(cp, slug, "amocrm")
    assert lines["API filters"].ok is None and "ignored" in lines["API filters"].detail
    assert result.ok  # a warning, not a failure: loads still work, just slower


@pytest.mark.parametrize(("status", "code"), [("unpaid", "402"), ("blocked", "403")])
def test_amocrm_unpaid_or_blocked(
    cp: ControlPlane, sandbox: SandboxServer, sandbox_faults: SandboxState, status: str, code: str
) -> None:
    slug = tenant(cp, sandbox)
    sandbox_faults.set_faults("amocrm", account_status=status)
    result, lines = check(cp, slug, "amocrm")
    assert not result.ok and lines["account"].ok is False and f"({code})" in lines["account"].detail
    record = cp.configs.get_record(slug, "amocrm")
    assert record.status == "error" and code in record.last_error


def test_amocrm_rejected_token(cp: ControlPlane, sandbox: SandboxServer) -> None:
    slug = tenant(cp, sandbox)
    cp.configs.set_config(slug, "amocrm", {"long_lived_token": "revoked.token.value"}, actor="test")
    _, lines = check(cp, slug, "amocrm")
    assert lines["token"].ok is False and "revoked.token.value" not in lines["token"].detail


def _jwt(iat: int, exp: int) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256'})}.{part({'iat': iat, 'exp': exp})}.c2ln"


def test_old_refresh_token_warns_then_is_renewed(cp: ControlPlane, sandbox: SandboxServer) -> None:
    slug = tenant(cp, sandbox)
    info = sandbox.info()["amocrm"]
    code = httpx.post(f"{sandbox.urls.control}/amocrm/auth_codes", timeout=10).json()["auth_code"]
    args = ["--client-id", info["client_id"], "--redirect-uri", REDIRECT_URI, "--code-stdin"]
    cp.configs.set_config(slug, "amocrm", {"client_secret": info["client_secret"]}, actor="test")
    assert synkro("amocrm", "connect", slug, *args, input=code + "\n").exit_code == 0
    # The stored pair as it looks after 80 days without a load: access token long expired.
    now = int(time.time())
    old = _jwt(now - 80 * 86400, now - 79 * 86400)
    record = cp.configs.get_record(slug, "amocrm")
    cp.configs.update_config_fields(
        slug, "amocrm", {"access_token": old, "expires_at": now - 79 * 86400}, record.version
    )
    before = CheckResult("amocrm")
    token_lines(before, cp.configs.get_config(slug, "amocrm"), datetime.now(UTC))
    line = next(x for x in before.lines if x.name == "refresh token")
    assert line.ok is None and "80 days" in line.detail

    # The check itself refreshes the pair (the refresh token is still alive): renewed, and saved.
    result, lines = check(cp, slug, "amocrm")
    assert result.ok, result.lines
    assert lines["refresh token"].ok and "renewed" in lines["refresh token"].detail
    assert cp.configs.get_config(slug, "amocrm").expires_at > now + 3600


def test_amocrm_sample_matches_radist_dialogs(cp: ControlPlane, sandbox: SandboxServer) -> None:
    slug = tenant(cp, sandbox)
    result, _ = check(cp, slug, "amocrm", sample=4)
    sample = result.data["sample"]
    assert len(sample) == 4
    sc = sandbox.state.scenario
    chats_by_phone: dict[str, set[int]] = {}
    for chat in sc.chats:
        if chat.e164:
            chats_by_phone.setdefault(chat.e164, set()).add(chat.chat_id)
    for item in sample:
        contact = next(c for c in sc.contacts if c.id == item["contact_id"])
        assert set(item["phones"]) == {n for p in contact.phones for n in p.numbers}
        for e164, chat_ids in item["phones"].items():
            assert set(chat_ids) == chats_by_phone.get(e164, set())
    text = result.extra[0]
    assert f"contact {sample[0]['contact_id']}" in text and "→ +7" in text


def test_amocrm_sample_measures_matching_quality(cp: ControlPlane, sandbox: SandboxServer) -> None:
    """Counts equal the scenario's ground truth; examples show masked phones only."""
    slug = tenant(cp, sandbox)
    result, lines = check(cp, slug, "amocrm", sample=2)
    quality = result.data["matching"]
    sc = sandbox.state.scenario
    truth = sc.ground_truth()
    no_number = [p for c in sc.contacts for p in c.phones if not p.numbers]
    statuses = Counter(c["match_status"] for c in truth["chats"])
    assert quality["contacts_read"] == len(sc.contacts) and not quality["contacts_capped"]
    assert quality["values_without_number"] == len(no_number) > 0
    assert quality["chats_read"] == len(sc.chats)
    assert quality["chats_unmatched"] + quality["chats_without_phone"] == statuses["unmatched"]
    assert quality["chats_without_phone"] == sum(1 for c in sc.chats if not c.e164)
    assert quality["chats_ambiguous"] == statuses["ambiguous"] > 0
    assert quality["chats_matched"] == statuses["matched"]
    line = lines["matching quality"]
    assert line.ok is None and f"{statuses['ambiguous']} match several" in line.detail
    block = result.extra[1]
    assert block.startswith("Matching quality") and "ambiguous" in block
    shown = [e["phone"] for key in ("examples_unmatched", "examples_ambiguous") for e in quality[key]]
    assert shown and all(sum(ch.isdigit() for ch in phone) <= 4 for phone in shown)
    assert all(number not in block for number in {c.e164 for c in sc.chats if c.e164})


def test_radist_healthy(cp: ControlPlane, sandbox: SandboxServer, sandbox_faults: SandboxState) -> None:
    slug = tenant(cp, sandbox)
    result, lines = check(cp, slug, "radist")
    assert result.ok, result.lines
    assert lines["API key"].ok and lines["company"].ok and lines["messaging scope"].ok
    assert lines["connections"].ok and "whatsapp" in lines["connections"].detail


def test_radist_bad_key(cp: ControlPlane, sandbox: SandboxServer) -> None:
    slug = tenant(cp, sandbox, api_key="wrong-key-123456")
    _, lines = check(cp, slug, "radist")
    assert lines["API key"].ok is False and "401" in lines["API key"].detail
    assert "wrong-key-123456" not in lines["API key"].detail


def test_radist_key_without_messaging_scope(cp: ControlPlane, sandbox: SandboxServer) -> None:
    key = sandbox.state.credentials.radist_api_key_no_messaging
    slug = tenant(cp, sandbox, api_key=key)
    result, lines = check(cp, slug, "radist")
    assert lines["API key"].ok and lines["company"].ok
    assert lines["messaging scope"].ok is False and "messaging" in lines["messaging scope"].detail
    assert not result.ok


def test_radist_unknown_company_and_connection(cp: ControlPlane, sandbox: SandboxServer) -> None:
    slug = tenant(cp, sandbox, company_id=999)
    _, lines = check(cp, slug, "radist")
    assert lines["company"].ok is False and "999" in lines["company"].detail
    slug = tenant(cp, sandbox, connection_ids=[424242])
    _, lines = check(cp, slug, "radist")
    assert lines["configured connections"].ok is False


@pytest.mark.parametrize(("status", "code"), [("unpaid", "402"), ("blocked", "403")])
def test_radist_unpaid_or_blocked(
    cp: ControlPlane, sandbox: SandboxServer, sandbox_faults: SandboxState, status: str, code: str
) -> None:
    slug = tenant(cp, sandbox)
    sandbox_faults.set_faults("radist", account_status=status)
    result, lines = check(cp, slug, "radist")
    assert not result.ok and lines["API key"].ok is False and f"({code}" in lines["API key"].detail


def test_check_command_prints_lines_and_sample(cp: ControlPlane, sandbox: SandboxServer) -> None:
    slug = tenant(cp, sandbox)
    result = synkro("check", slug, "amocrm", "--sample", "2")
    assert result.exit_code == 0, result.output
    assert "admin rights" in result.output and "Sample: 2 recent amoCRM contacts" in result.output
    assert sandbox.state.amo_long_lived_token not in result.output
    bad = tenant(cp, sandbox, api_key="wrong-key-123456")
    result = synkro("check", bad, "radist")
    assert result.exit_code == 1 and "401" in result.output
