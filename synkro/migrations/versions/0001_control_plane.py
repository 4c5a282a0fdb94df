"""Control plane: tenants, users and roles, integration configs, settings, runs, reports, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "synkro"


def _ts(name: str, nullable: bool = False, default: bool = True) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=nullable, server_default=sa.func.now() if default else None
    )


def _json(name: str) -> sa.Column:
    return sa.Column(name, JSONB, nullable=False, server_default=sa.text("'{}'::jsonb"))


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("slug", sa.Text, nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="active"),
        sa.Column("timezone", sa.Text, nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint("slug ~ '^[a-z][a-z0-9_]{1,30}$'", name="tenants_slug_format"),
        sa.CheckConstraint("status in ('active', 'paused', 'disabled')", name="tenants_status_valid"),
        schema=S,
    )
    # The slug is baked into schema names, dlt pipeline names and Dagster partitions: never rename.
    op.execute(
        f"""
        create function {S}.tenants_slug_immutable() returns trigger language plpgsql as $$
        begin
            if new.slug is distinct from old.slug then
                raise exception 'tenant slug is immutable (% -> %)', old.slug, new.slug;
            end if;
            return new;
        end $$;
        create trigger tenants_slug_immutable before update on {S}.tenants
            for each row execute function {S}.tenants_slug_immutable();
        """
    )

    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("email", sa.Text, nullable=False, unique=True),
        sa.Column("name", sa.Text),
        _ts("created_at"),
        sa.CheckConstraint("email = lower(email)", name="users_email_lowercase"),
        schema=S,
    )
    op.create_table(
        "user_roles",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "user_id", sa.BigInteger, sa.ForeignKey(f"{S}.users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.BigInteger, sa.ForeignKey(f"{S}.tenants.id", ondelete="CASCADE")),
        _ts("granted_at"),
        sa.CheckConstraint("role in ('super_admin', 'admin', 'viewer')", name="user_roles_role_valid"),
        sa.CheckConstraint(
            "role <> 'super_admin' or tenant_id is null", name="user_roles_super_admin_global"
        ),
        sa.UniqueConstraint(
            "user_id", "role", "tenant_id", name="user_roles_unique", postgresql_nulls_not_distinct=True
        ),
        schema=S,
    )

    op.create_table(
        "integration_configs",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "tenant_id", sa.BigInteger, sa.ForeignKey(f"{S}.tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.Text, nullable=False),
        _json("public"),
        sa.Column("secrets_encrypted", sa.Text),
        sa.Column("status", sa.Text, nullable=False, server_default="unknown"),
        sa.Column("last_error", sa.Text),
        _ts("last_checked_at", nullable=True, default=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.CheckConstraint(
            "kind in ('supabase', 'amocrm', 'radist', 'gemini', 'telegram')",
            name="integration_configs_kind_valid",
        ),
        sa.CheckConstraint(
            "status in ('unknown', 'ok', 'error', 'pending')", name="integration_configs_status_valid"
        ),
        sa.UniqueConstraint("tenant_id", "kind", name="integration_configs_tenant_kind"),
        schema=S,
    )

    op.create_table(
        "tenant_settings",
        sa.Column(
            "tenant_id",
            sa.BigInteger,
            sa.ForeignKey(f"{S}.tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        _json("settings"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        _ts("updated_at"),
        schema=S,
    )

    op.create_table(
        "job_runs",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "tenant_id", sa.BigInteger, sa.ForeignKey(f"{S}.tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("job", sa.Text, nullable=False),
        sa.Column("trigger", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="queued"),
        sa.Column("step", sa.Text),
        sa.Column("progress", sa.Float, nullable=False, server_default="0"),
        _ts("window_start", nullable=True, default=False),
        _ts("window_end", nullable=True, default=False),
        sa.Column("idempotency_key", sa.Text, nullable=False, unique=True),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
        sa.Column("dagster_run_id", sa.Text),
        sa.Column("error", sa.Text),
        _json("details"),
        _ts("created_at"),
        _ts("started_at", nullable=True, default=False),
        _ts("finished_at", nullable=True, default=False),
        _ts("updated_at"),
        sa.CheckConstraint("trigger in ('scheduled', 'manual', 'system')", name="job_runs_trigger_valid"),
        sa.CheckConstraint(
            "status in ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped')",
            name="job_runs_status_valid",
        ),
        sa.CheckConstraint("progress >= 0 and progress <= 1", name="job_runs_progress_fraction"),
        schema=S,
    )
    op.create_index("job_runs_tenant_created", "job_runs", ["tenant_id", "created_at"], schema=S)

    op.create_table(
        "job_run_events",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "job_run_id",
            sa.BigInteger,
            sa.ForeignKey(f"{S}.job_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _ts("at"),
        sa.Column("level", sa.Text, nullable=False, server_default="info"),
        sa.Column("step", sa.Text),
        sa.Column("message", sa.Text, nullable=False),
        _json("data"),
        sa.CheckConstraint(
            "level in ('debug', 'info', 'warning', 'error')", name="job_run_events_level_valid"
        ),
        schema=S,
    )
    op.create_index("job_run_events_run", "job_run_events", ["job_run_id", "id"], schema=S)

    op.create_table(
        "reports",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "tenant_id", sa.BigInteger, sa.ForeignKey(f"{S}.tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("job_run_id", sa.BigInteger, sa.ForeignKey(f"{S}.job_runs.id", ondelete="SET NULL")),
        sa.Column("report_type", sa.Text, nullable=False),
        _ts("window_start", default=False),
        _ts("window_end", default=False),
        sa.Column("status", sa.Text, nullable=False, server_default="draft"),
        sa.Column("summary", sa.Text),
        sa.Column("body", sa.Text),
        _json("data"),
        _json("delivery"),
        sa.Column("error", sa.Text),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("sent_at", nullable=True, default=False),
        sa.CheckConstraint("status in ('draft', 'ready', 'sent', 'failed')", name="reports_status_valid"),
        sa.CheckConstraint("window_end > window_start", name="reports_window_order"),
        schema=S,
    )
    op.create_index(
        "reports_tenant_window",
        "reports",
        ["tenant_id", "report_type", "window_start", "window_end"],
        schema=S,
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        _ts("at"),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("tenant", sa.Text),
        sa.Column("action", sa.Text, nullable=False),
        _json("details"),
        schema=S,
    )
    op.create_index("audit_log_tenant_at", "audit_log", ["tenant", "at"], schema=S)
    # Append-only: the database itself refuses to rewrite history, whatever the caller.
    op.execute(
        f"""
        create function {S}.audit_log_append_only() returns trigger language plpgsql as $$
        begin
            raise exception 'audit_log is append-only (% refused)', tg_op;
        end $$;
        create trigger audit_log_no_update_delete before update or delete on {S}.audit_log
            for each row execute function {S}.audit_log_append_only();
        create trigger audit_log_no_truncate before truncate on {S}.audit_log
            for each statement execute function {S}.audit_log_append_only();
        """
    )


def downgrade() -> None:
    for table in (
        "audit_log",
        "reports",
        "job_run_events",
        "job_runs",
        "tenant_settings",
        "integration_configs",
        "user_roles",
        "users",
        "tenants",
    ):
        op.drop_table(table, schema=S)
    op.execute(f"drop function if exists {S}.audit_log_append_only()")
    op.execute(f"drop function if exists {S}.tenants_slug_immutable()")
