"""Fixtures of the security suite: the real CLI against the test database, with a private home."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def cli_env(db_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """DATABASE_URL -> test database; a private SYNKRO_HOME (key file); no inherited master key."""
    monkeypatch.setenv("SYNKRO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SYNKRO_SECRET_KEY", raising=False)
    monkeypatch.delenv("SYNKRO_DEBUG", raising=False)
    monkeypatch.delenv("SYNKRO_ACTOR", raising=False)
    return db_env
