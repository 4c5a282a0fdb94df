"""Issue 13 item 2: a process still holding the old master key cannot make a secret unreadable.

Two real control planes share one database and one key file, as the portal and `synkro secrets
rotate` do: the portal's box was loaded before the rotation.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from synkro.controlplane import ControlPlane
from synkro.controlplane.locks import SECRETS_ROTATION
from synkro.controlplane.rotation import rotate_master_key
from synkro.db import with_database
from synkro.secrets import ENV_VAR, SecretBox, load_keys

TELEGRAM = {"bot_token": "123456:stale-process-token-9f3k", "chat_id": 42}


@pytest.fixture
def own_database(database_url: str) -> Iterator[str]:
    """A database of its own: rotation re-encrypts every row, and other tests' rows use other keys."""
    name = f"synkro_rot_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    try:
        yield with_database(database_url, name)
    finally:
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def key_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("SYNKRO_HOME", str(tmp_path))
    return tmp_path


def _box() -> SecretBox:
    keys, source = load_keys()
    return SecretBox(keys, source)


def test_a_write_after_rotation_by_a_stale_process_stays_readable(own_database: str, key_home: Path) -> None:
    stale = ControlPlane(own_database, _box())  # e.g. the portal, started before the rotation
    slug = "k" + uuid.uuid4().hex[:8]
    stale.tenants.create(slug, slug, "Europe/Moscow", actor="test")
    operator = ControlPlane(own_database, _box())
    rotate_master_key(operator, actor="test")
    stale.configs.set_config(slug, "telegram", TELEGRAM, actor="portal")
    fresh = ControlPlane(own_database, _box())  # only the new key exists now
    record = fresh.configs.get_record(slug, "telegram")
    assert record.config.bot_token.get_secret_value() == TELEGRAM["bot_token"]
    assert fresh.configs.undecryptable(fresh.box) == []


def test_rotation_waits_for_a_secret_write_in_flight(own_database: str, key_home: Path) -> None:
    """A writer's transaction holds the rotation lock shared; rotation waits for it to commit."""
    cp = ControlPlane(own_database, _box())
    slug = "k" + uuid.uuid4().hex[:8]
    cp.tenants.create(slug, slug, "Europe/Moscow", actor="test")
    with psycopg.connect(own_database) as writer:  # a writer mid-transaction, holding the lock shared
        writer.execute("select pg_advisory_xact_lock_shared(%s, 0)", (SECRETS_ROTATION,))
        done = threading.Event()
        thread = threading.Thread(target=lambda: (rotate_master_key(cp, actor="test"), done.set()))
        thread.start()
        assert not done.wait(1.5)  # rotation is blocked while the write is open
        writer.commit()
    thread.join(timeout=30)
    assert done.is_set()
