"""`synkro check SLUG gemini|telegram` and `synkro gemini models` against the sandbox, with a tenant and
configs created through the control plane and marts in the test database."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.fernet import Fernet

from sandbox.server import SandboxServer
from synkro.analysis.rubric import DEFAULT_RUBRIC
from synkro.analysis.schema import CriterionScore
from synkro.analysis.scoring import score_dialog
from synkro.checks import CheckOptions, run_check
from synkro.controlplane import ControlPlane, open_controlplane
from synkro.db import connect
from synkro.tenant_context import TenantContext
from tests.analysis_marts import Dialog, create_marts
from tests.controlplane_helpers import synkro

PHONE = "+7 916 123-45-67"


@pytest.fixture
def cp(db_env: str, monkeypatch: pytest.MonkeyPatch) -> ControlPlane:
    monkeypatch.setenv("SYNKRO_SECRET_KEY", Fernet.generate_key().decode())
    return open_controlplane()


def _tenant(cp: ControlPlane, sandbox: SandboxServer, **gemini: object) -> str:
    slug = "chk" + uuid.uuid4().hex[:8]
    cp.tenants.create(slug, "Check Test", "Europe/Moscow", actor="test")
    info = sandbox.info()
    cp.configs.set_config(
        slug,
        "gemini",
        {**info["gemini"], "api_version": "v1beta", "model": "gemini-3.8-flash", **gemini},
        actor="test",
    )
    cp.configs.set_config(slug, "telegram", info["telegram"], actor="test")
    return slug


def _dialogs(now: datetime) -> list[Dialog]:
    """Four dialogs; the oldest must be left out of the three-dialog sample."""
    out = []
    for i, hours_ago in enumerate((1, 30, 5, 80)):
        at = now - timedelta(hours=hours_ago)
        out.append(
            Dialog(
                dialog_id=501 + i,
                manager_name=f"Менеджер {i}",
                lead_id=None,
                messages=[
                    (
                        at - timedelta(minutes=20),
                        "inbound",
                        f"Здравствуйте, сколько стоит доставка? Мой {PHONE}",
                    ),
                    (at - timedelta(minutes=12), "outbound", "Добрый день! Доставка 500 ₽, привезём завтра."),
                    (at, "inbound", "Дорого, у конкурента дешевле."),
                ],
            )
        )
    return out


def test_gemini_check_scores_the_three_most_recent_dialogs(cp: ControlPlane, sandbox: SandboxServer) -> None:
    slug = _tenant(cp, sandbox)
    with connect(cp.url) as conn:
        create_marts(conn, slug, _dialogs(datetime.now(UTC)), [])
    result = run_check(TenantContext.load(slug, cp), "gemini", CheckOptions())
    lines = {line.name: line for line in result.lines}
    assert result.ok, result.lines
    assert lines["API key"].ok and lines["model"].ok and "gemini-3.8-flash" in lines["model"].detail
    assert lines["test analysis"].detail.startswith("3 of 3")
    assert [a["dialog_id"] for a in result.data["analyses"]] == ["501", "503", "502"]
    assert len(result.extra) == 3 and "Dialog 504" not in "\n".join(result.extra)
    first = result.extra[0]
    assert first.startswith("=== Dialog 501 · manager Менеджер 0")
    assert "Transcript sent (masked):" in first and "клиент: Дорого, у конкурента дешевле." in first
    assert "916" not in first  # the phone was masked before it was sent and printed
    for part in ("Score: ", "Criteria:", "evidence: ", "Flags: ", "Summary: ", "Recommendation: "):
        assert part in first
    scored = result.data["analyses"][0]["analysis"]
    ours = score_dialog(DEFAULT_RUBRIC, [CriterionScore(**c) for c in scored["criteria"]], first)
    assert (
        f"Score: {ours.overall_score}/100 (ours" in first
        and f"the model said {scored['overall_score']}" in first
    )
    assert all(c["key"] in first for c in scored["criteria"])
    # Nothing was written to the warehouse by a check, and the status was saved.
    with connect(cp.url) as conn:
        assert (
            conn.execute("select to_regclass(%s)", (f"{slug}_analysis.dialog_analyses",)).fetchone()[0]
            is None
        )
    assert cp.configs.get_record(slug, "gemini").status == "ok"


def test_gemini_check_without_dialogs_still_checks_key_and_model(
    cp: ControlPlane, sandbox: SandboxServer
) -> None:
    slug = _tenant(cp, sandbox)
    result = run_check(TenantContext.load(slug, cp), "gemini", CheckOptions())
    assert result.ok
    assert [(x.name, x.ok) for x in result.lines] == [
        ("API key", True),
        ("model", True),
        ("test analysis", None),
    ]


def test_gemini_check_reports_invalid_key_without_leaking_it(
    cp: ControlPlane, sandbox: SandboxServer
) -> None:
    slug = _tenant(cp, sandbox, api_key="AIzaWRONG-key-0000-9876")
    result = run_check(TenantContext.load(slug, cp), "gemini", CheckOptions())
    assert not result.ok and result.lines[0].name == "API key" and result.lines[0].ok is False
    assert "WRONG" not in result.lines[0].detail
    record = cp.configs.get_record(slug, "gemini")
    assert record.status == "error" and "API key" in record.last_error


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gemini-2.0-flash", "does not exist"),  # shut down: 404
        ("gemini-embedding-001", "does not support generateContent"),
    ],
)
def test_gemini_check_explains_an_unusable_model(
    cp: ControlPlane, sandbox: SandboxServer, model: str, expected: str
) -> None:
    slug = _tenant(cp, sandbox, model=model)
    result = run_check(TenantContext.load(slug, cp), "gemini", CheckOptions())
    lines = {line.name: line for line in result.lines}
    assert lines["API key"].ok and lines["model"].ok is False, result.lines
    assert expected in lines["model"].detail and "test analysis" not in lines


def test_gemini_models_command_lists_generate_content_models_and_marks_the_chosen(
    cp: ControlPlane, sandbox: SandboxServer
) -> None:
    slug = _tenant(cp, sandbox)
    out = synkro("gemini", "models", slug, "--json")
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    names = [m["name"] for m in body["models"]]
    assert "gemini-3.8-flash" in names and "gemini-embedding-001" not in names
    assert "gemini-2.0-flash" not in names  # shut down: not listed by the API
    assert body["chosen"] == "gemini-3.8-flash" and body["chosen_available"]
    assert [m["name"] for m in body["models"] if m["chosen"]] == ["gemini-3.8-flash"]
    table = synkro("gemini", "models", slug)
    assert table.exit_code == 0 and "chosen model: gemini-3.8-flash" in table.stdout
    assert "sandbox-gemini-api-key" not in table.stdout + out.stdout


def _telegram_messages(sandbox: SandboxServer, chat_id: int) -> list[dict]:
    response = httpx.get(f"{sandbox.urls.control}/telegram/messages", params={"chat_id": chat_id})
    return response.json()["messages"]


def _private_chat(sandbox: SandboxServer, **state: object) -> int:
    chat_id = random.randint(710_000_000, 719_999_999)
    payload = {"chat_id": chat_id, "type": "private", "first_name": "Owner", "started": True, **state}
    httpx.post(f"{sandbox.urls.control}/telegram/chats", json=payload).raise_for_status()
    return chat_id


def test_telegram_check_verifies_without_posting_and_send_test_posts_once(
    cp: ControlPlane, sandbox: SandboxServer
) -> None:
    slug = _tenant(cp, sandbox)
    chat_id = _private_chat(sandbox)
    cp.configs.set_config(slug, "telegram", {"chat_id": chat_id}, actor="test")
    tctx = TenantContext.load(slug, cp)
    result = run_check(tctx, "telegram", CheckOptions())
    assert result.ok and [x.name for x in result.lines] == ["token", "chat", "delivery", "test message"]
    assert result.lines[-1].ok is None and _telegram_messages(sandbox, chat_id) == []
    assert str(chat_id) in result.lines[1].detail
    sent = run_check(tctx, "telegram", CheckOptions(send_test=True))
    assert sent.ok and len(_telegram_messages(sandbox, chat_id)) == 1
    assert cp.configs.get_record(slug, "telegram").status == "ok"


def test_telegram_check_finds_a_blocked_bot_that_getchat_does_not_reveal(
    cp: ControlPlane, sandbox: SandboxServer
) -> None:
    slug = _tenant(cp, sandbox)
    chat_id = _private_chat(sandbox, blocked=True)
    cp.configs.set_config(slug, "telegram", {"chat_id": chat_id}, actor="test")
    result = run_check(TenantContext.load(slug, cp), "telegram", CheckOptions(send_test=True))
    assert [(x.name, x.ok) for x in result.lines] == [("token", True), ("chat", True), ("delivery", False)]
    assert "unblock" in result.lines[-1].detail and _telegram_messages(sandbox, chat_id) == []
    assert cp.configs.get_record(slug, "telegram").status == "error"


def test_telegram_check_invalid_token_and_upgraded_group(cp: ControlPlane, sandbox: SandboxServer) -> None:
    from sandbox.telegram import LEGACY_GROUP_ID

    slug = _tenant(cp, sandbox)
    cp.configs.set_config(slug, "telegram", {"bot_token": "999:not-the-right-token"}, actor="test")
    bad = run_check(TenantContext.load(slug, cp), "telegram", CheckOptions())
    assert [(x.name, x.ok) for x in bad.lines] == [("token", False)]
    assert "invalid" in bad.lines[0].detail and "not-the-right" not in bad.lines[0].detail
    cp.configs.set_config(
        slug, "telegram", {"bot_token": sandbox.info()["telegram"]["bot_token"], "chat_id": LEGACY_GROUP_ID}
    )
    migrated = run_check(TenantContext.load(slug, cp), "telegram", CheckOptions())
    assert migrated.lines[-1].ok is False and "-100" in migrated.lines[-1].detail
