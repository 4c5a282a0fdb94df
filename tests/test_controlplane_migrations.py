"""Migrations from an empty database, schema/model agreement, and the database-level guards."""

from __future__ import annotations

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from synkro.controlplane import migrate
from synkro.controlplane.migrate import alembic_config, current_revision, engine_for
from synkro.controlplane.tables import metadata
from tests.controlplane_helpers import fresh_database

HEAD = "0005"
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
    "web_sessions",
    "login_failures",
    "oauth_states",
    "rubric_versions",
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
    assert current_revision(migrated_url) == HEAD


def test_migrate_is_idempotent(migrated_url: str):
    migrate(migrated_url, force=True)
    migrate(migrated_url, force=True)
    assert current_revision(migrated_url) == HEAD


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


def _alembic(url: str, action, revision: str) -> None:
    config = alembic_config(url)
    with engine_for(url).connect() as connection:
        config.attributes["connection"] = connection
        action(config, revision)


def test_0002_keeps_one_report_per_window_the_sent_one_else_the_newest(database_url: str):
    """Duplicates written before the constraint existed: each group keeps one row, the rest is audited."""
    with fresh_database(database_url) as url:
        _alembic(url, command.upgrade, "0001")
        with psycopg.connect(url, autocommit=True) as conn:
            tenant = conn.execute(
                "insert into synkro.tenants (slug, name, timezone) values ('dup', 'D', 'UTC') returning id"
            ).fetchone()[0]

            def report(day: int, status: str, created: str, delivery: str = "{}") -> int:
                return conn.execute(
                    "insert into synkro.reports (tenant_id, report_type, window_start, window_end, status,"
                    " delivery, created_at) values (%s, 'daily', %s, %s, %s, %s::jsonb, %s) returning id",
                    (tenant, f"2026-01-{day:02d}", f"2026-01-{day + 1:02d}", status, delivery, created),
                ).fetchone()[0]

            sent_old = report(1, "sent", "2026-01-02 10:00", '{"message_ids": [1, 2]}')
            ready_new = report(1, "ready", "2026-01-02 11:00")
            draft_old = report(2, "draft", "2026-01-03 10:00")
            ready_newest = report(2, "ready", "2026-01-03 11:00")
            sent_a = report(3, "sent", "2026-01-04 10:00", '{"message_ids": [3]}')
            sent_b = report(3, "sent", "2026-01-04 11:00", '{"message_ids": [4]}')
            alone = report(4, "failed", "2026-01-05 10:00")
        _alembic(url, command.upgrade, "head")
        assert current_revision(url) == HEAD
        with psycopg.connect(url, autocommit=True) as conn:
            kept = {row[0] for row in conn.execute("select id from synkro.reports")}
            assert kept == {sent_old, ready_newest, sent_b, alone}
            removed = conn.execute(
                "select actor, tenant, details->>'report_id', details->>'kept_report_id',"
                " details->>'status', details->'delivery' from synkro.audit_log"
                " where action = 'report.deduplicated' order by id"
            ).fetchall()
            assert removed == [
                ("migration 0002", "dup", str(ready_new), str(sent_old), "ready", {}),
                ("migration 0002", "dup", str(draft_old), str(ready_newest), "draft", {}),
                ("migration 0002", "dup", str(sent_a), str(sent_b), "sent", {"message_ids": [3]}),
            ]
            with pytest.raises(psycopg.errors.UniqueViolation):
                conn.execute(
                    "insert into synkro.reports (tenant_id, report_type, window_start, window_end)"
                    " values (%s, 'daily', '2026-01-01', '2026-01-02')",
                    (tenant,),
                )
            # Another type of the same window is another report.
            conn.execute(
                "insert into synkro.reports (tenant_id, report_type, window_start, window_end)"
                " values (%s, 'weekly', '2026-01-01', '2026-01-02')",
                (tenant,),
            )
        _alembic(url, command.downgrade, "0001")
        assert current_revision(url) == "0001"
        _alembic(url, command.upgrade, "head")
        assert current_revision(url) == HEAD
