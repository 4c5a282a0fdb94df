"""`synkro db migrate` against a real, empty Postgres database: migrates, then reports up to date."""

from __future__ import annotations

import psycopg
import pytest

from synkro.controlplane.migrate import current_revision
from tests.controlplane_helpers import fresh_database, synkro


def test_db_migrate_on_empty_database_then_idempotent(database_url: str, monkeypatch: pytest.MonkeyPatch):
    with fresh_database(database_url) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        assert current_revision(url) is None

        first = synkro("db", "migrate")
        assert first.exit_code == 0, first.output
        head = current_revision(url)
        assert head is not None
        assert "(empty)" in first.stdout and head in first.stdout
        with psycopg.connect(url) as conn:
            tables = conn.execute(
                "select count(*) from information_schema.tables where table_schema = 'synkro'"
            ).fetchone()[0]
        assert tables > 1  # the control-plane tables, not just alembic_version

        second = synkro("db", "migrate")
        assert second.exit_code == 0, second.output
        assert "up to date" in second.stdout and head in second.stdout
