"""`synkro user show EMAIL` against the real control plane: roles listed, unknown user is bad input."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.controlplane_helpers import new_slug, synkro


def test_user_show(db_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SYNKRO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SYNKRO_ACTOR", "tester@example.com")
    email = f"Ann.{uuid.uuid4().hex[:6]}@Example.com"
    slug = new_slug()
    assert synkro("tenant", "create", slug, "--name", "Acme").exit_code == 0
    assert (
        synkro(
            "user", "add", email, "--name", "Ann", "--password-stdin", input="ann-long-password\n"
        ).exit_code
        == 0
    )
    assert synkro("user", "grant", email, "admin", "--tenant", slug).exit_code == 0

    shown = synkro("user", "show", email)
    assert shown.exit_code == 0, shown.output
    assert email.lower() in shown.stdout and "(Ann)" in shown.stdout and f"admin@{slug}" in shown.stdout

    data = json.loads(synkro("user", "show", email, "--json").stdout)
    assert data["roles"] == [{"role": "admin", "tenant": slug}]

    missing = synkro("user", "show", "nobody@example.com")
    assert missing.exit_code == 2 and "not found" in missing.stderr
