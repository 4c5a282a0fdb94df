"""SQLAlchemy Core tables of the control plane (schema `synkro`).

These mirror the Alembic migrations in `synkro/migrations/versions/`; the migrations are the
source of truth for the database, and `tests/test_controlplane_migrations.py` checks that the two
agree. Tenants' own data never lives here: it is in per-tenant schemas `<slug>_raw` etc.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA = "synkro"

SLUG_PATTERN = "^[a-z][a-z0-9_]{1,30}$"
TENANT_STATUSES = ("active", "paused", "disabled")
ROLES = ("super_admin", "admin", "viewer", "manager")
LANGUAGES = ("ru", "en")
CONFIG_KINDS = ("supabase", "amocrm", "radist", "gemini", "telegram")
CONFIG_STATUSES = ("unknown", "ok", "error", "pending")
RUN_TRIGGERS = ("scheduled", "manual", "system")
RUN_STATUSES = ("queued", "running", "succeeded", "succeeded_with_warnings", "failed", "cancelled", "skipped")
REPORT_STATUSES = ("draft", "ready", "sent", "failed")
EVENT_LEVELS = ("debug", "info", "warning", "error")

metadata = MetaData(schema=SCHEMA)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


def _now() -> Column:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


tenants = Table(
    "tenants",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("slug", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="active"),
    Column("timezone", Text, nullable=False),
    _now(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(f"slug ~ '{SLUG_PATTERN}'", name="tenants_slug_format"),
    CheckConstraint(_in("status", TENANT_STATUSES), name="tenants_status_valid"),
)

users = Table(
    "users",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("email", Text, nullable=False, unique=True),
    Column("name", Text),
    _now(),
    # argon2id hash (argon2-cffi); NULL: the user cannot sign in until a password is set.
    Column("password_hash", Text),
    Column("password_changed_at", DateTime(timezone=True)),
    Column("lang", Text),  # the portal's language; NULL: Russian, or ?lang= of the visit
    CheckConstraint("email = lower(email)", name="users_email_lowercase"),
    CheckConstraint(f"lang is null or {_in('lang', LANGUAGES)}", name="users_lang_valid"),
)

user_roles = Table(
    "user_roles",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("synkro.users.id", ondelete="CASCADE"), nullable=False),
    Column("role", Text, nullable=False),
    Column("tenant_id", BigInteger, ForeignKey("synkro.tenants.id", ondelete="CASCADE")),
    Column("granted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # manager only: the amoCRM user whose deals (and so dialogs) this manager may see.
    Column("amocrm_user_id", BigInteger),
    CheckConstraint(_in("role", ROLES), name="user_roles_role_valid"),
    CheckConstraint("role <> 'super_admin' or tenant_id is null", name="user_roles_super_admin_global"),
    UniqueConstraint(
        "user_id", "role", "tenant_id", name="user_roles_unique", postgresql_nulls_not_distinct=True
    ),
)

integration_configs = Table(
    "integration_configs",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("tenant_id", BigInteger, ForeignKey("synkro.tenants.id", ondelete="CASCADE"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("public", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("secrets_encrypted", Text),
    Column("status", Text, nullable=False, server_default="unknown"),
    Column("last_error", Text),
    Column("last_checked_at", DateTime(timezone=True)),
    _now(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("version", Integer, nullable=False, server_default="1"),
    CheckConstraint(_in("kind", CONFIG_KINDS), name="integration_configs_kind_valid"),
    CheckConstraint(_in("status", CONFIG_STATUSES), name="integration_configs_status_valid"),
    UniqueConstraint("tenant_id", "kind", name="integration_configs_tenant_kind"),
)

tenant_settings = Table(
    "tenant_settings",
    metadata,
    Column("tenant_id", BigInteger, ForeignKey("synkro.tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("settings", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("tenant_id", BigInteger, ForeignKey("synkro.tenants.id", ondelete="CASCADE"), nullable=False),
    Column("job", Text, nullable=False),
    Column("trigger", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="queued"),
    Column("step", Text),
    Column("progress", Float, nullable=False, server_default="0"),
    Column("window_start", DateTime(timezone=True)),
    Column("window_end", DateTime(timezone=True)),
    Column("idempotency_key", Text, nullable=False, unique=True),
    Column("attempt", Integer, nullable=False, server_default="1"),
    Column("dagster_run_id", Text),
    Column("error", Text),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    _now(),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_in("trigger", RUN_TRIGGERS), name="job_runs_trigger_valid"),
    CheckConstraint(_in("status", RUN_STATUSES), name="job_runs_status_valid"),
    CheckConstraint("progress >= 0 and progress <= 1", name="job_runs_progress_fraction"),
)

job_run_events = Table(
    "job_run_events",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("job_run_id", BigInteger, ForeignKey("synkro.job_runs.id", ondelete="CASCADE"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("level", Text, nullable=False, server_default="info"),
    Column("step", Text),
    Column("message", Text, nullable=False),
    Column("data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    CheckConstraint(_in("level", EVENT_LEVELS), name="job_run_events_level_valid"),
)

reports = Table(
    "reports",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("tenant_id", BigInteger, ForeignKey("synkro.tenants.id", ondelete="CASCADE"), nullable=False),
    Column("job_run_id", BigInteger, ForeignKey("synkro.job_runs.id", ondelete="SET NULL")),
    Column("report_type", Text, nullable=False),
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("window_end", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False, server_default="draft"),
    Column("summary", Text),
    Column("body", Text),
    Column("data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("delivery", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("error", Text),
    _now(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True)),
    CheckConstraint(_in("status", REPORT_STATUSES), name="reports_status_valid"),
    CheckConstraint("window_end > window_start", name="reports_window_order"),
    # Two runs of one window (a retry, a second daemon) must end with one report, so one delivery.
    UniqueConstraint(
        "tenant_id", "report_type", "window_start", "window_end", name="reports_tenant_type_window"
    ),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", Text, nullable=False),
    # The slug, not a foreign key: the trail must outlive the tenant it describes.
    Column("tenant", Text),
    Column("action", Text, nullable=False),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
)

Index("job_runs_tenant_created", job_runs.c.tenant_id, job_runs.c.created_at)
Index("job_run_events_run", job_run_events.c.job_run_id, job_run_events.c.id)
Index("audit_log_tenant_at", audit_log.c.tenant, audit_log.c.at)


# -- the portal's sign-in state -------------------------------------------------------------------

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    # sha256 of the session token; the token itself lives only in the user's cookie.
    Column("token_hash", Text, nullable=False, unique=True),
    Column("user_id", BigInteger, ForeignKey("synkro.users.id", ondelete="CASCADE"), nullable=False),
    _now(),
    Column("last_seen_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("address", Text),
    Column("user_agent", Text),
    Index("web_sessions_user", "user_id"),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("email", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("login_failures_email", "email", "failed_at"),
    Index("login_failures_address", "address", "failed_at"),
)

oauth_states = Table(
    "oauth_states",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    # sha256 of the random nonce inside the signed `state`; single use: used_at is set once.
    Column("nonce_hash", Text, nullable=False, unique=True),
    Column("provider", Text, nullable=False),
    Column("tenant_id", BigInteger, ForeignKey("synkro.tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigInteger, ForeignKey("synkro.users.id", ondelete="CASCADE"), nullable=False),
    _now(),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)

rubric_versions = Table(
    "rubric_versions",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("tenant_id", BigInteger, ForeignKey("synkro.tenants.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("content", JSONB, nullable=False),
    # Rubric.version of the content (the hash every analysis row stores); None for migrated rows.
    Column("content_hash", Text),
    Column("created_by", Text),
    _now(),
    CheckConstraint("number >= 1", name="rubric_versions_number_positive"),
    UniqueConstraint("tenant_id", "number", name="rubric_versions_tenant_number"),
)
