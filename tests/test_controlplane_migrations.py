"""Migrations from an empty database, schema/model agreement, and the database-level guards."""

from __future__ import annotations

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from synkro.controlplane import migrate
from synkro.controlplane.migrate import current_revision, engine_for
from synkro.controlplane.tables import metadata
from tests.controlplane_helpers import fresh_database

TABLES = {
    "tenants",
    "users",
    "user_roles",
    "integration_configs",
    "tenant_settings",
    "job_runs",
    "job_run_events",
    "reports",
    "audit_log",
    "alembic_version",
}


@pytest.fixture(scope="module")
def migrated_url(database_url: str):
    with fresh_database(database_url) as url:
        with psycopg.connect(url) as conn:
            assert conn.execute("select count(*) from pg_namespace where nspname = 'synkro'").fetchone() == (
                0,
            )
        migrate(url)
        yield url


def test_migrations_create_every_table_from_empty(migrated_url: str):
    with psycopg.connect(migrated_url) as conn:
        rows = conn.execute("select table_name from information_schema.tables where table_schema = 'synkro'")
        assert {row[0] for row in rows} == TABLES
    assert current_revision(migrated_url) == "0001"


def test_migrate_is_idempotent(migrated_url: str):
    migrate(migrated_url, force=True)
    migrate(migrated_url, force=True)
    assert current_revision(migrated_url) == "0001"


def test_tables_module_matches_migrated_schema(migrated_url: str):
    with engine_for(migrated_url).connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": True,
                "include_name": lambda name, type_, parent: type_ != "schema" or name == "synkro",
            },
        )
        diffs = [d for d in compare_metadata(context, metadata) if "alembic_version" not in str(d)]
    assert diffs == []


def test_audit_log_refuses_update_and_delete(migrated_url: str):
    with psycopg.connect(migrated_url, autocommit=True) as conn:
        conn.execute("insert into synkro.audit_log (actor, action) values ('t', 'test.append')")
        for statement in (
            "update synkro.audit_log set actor = 'x'",
            "delete from synkro.audit_log",
            "truncate synkro.audit_log",
        ):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)
        assert conn.execute("select count(*) from synkro.audit_log").fetchone() == (1,)


def test_tenant_slug_is_immutable_and_checked(migrated_url: str):
    with psycopg.connect(migrated_url, autocommit=True) as conn:
        conn.execute("insert into synkro.tenants (slug, name, timezone) values ('fixed', 'F', 'UTC')")
        with pytest.raises(psycopg.errors.RaiseException, match="immutable"):
            conn.execute("update synkro.tenants set slug = 'other' where slug = 'fixed'")
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("insert into synkro.tenants (slug, name, timezone) values ('Bad-Slug', 'B', 'UTC')")
