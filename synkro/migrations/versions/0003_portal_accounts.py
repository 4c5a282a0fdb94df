"""The portal: passwords, the manager role, sign-in sessions, login throttling, OAuth states.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "synkro"
NOW = sa.text("now()")


def upgrade() -> None:
    op.add_column("users", sa.Column("password_hash", sa.Text), schema=S)
    op.add_column("users", sa.Column("password_changed_at", sa.DateTime(timezone=True)), schema=S)
    op.add_column("users", sa.Column("lang", sa.Text), schema=S)
    op.create_check_constraint("users_lang_valid", "users", "lang is null or lang in ('ru', 'en')", schema=S)

    op.add_column("user_roles", sa.Column("amocrm_user_id", sa.BigInteger), schema=S)
    op.drop_constraint("user_roles_role_valid", "user_roles", schema=S)
    op.create_check_constraint(
        "user_roles_role_valid",
        "user_roles",
        "role in ('super_admin', 'admin', 'viewer', 'manager')",
        schema=S,
    )

    op.create_table(
        "web_sessions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("token_hash", sa.Text, nullable=False, unique=True),
        sa.Column(
            "user_id", sa.BigInteger, sa.ForeignKey(f"{S}.users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("address", sa.Text),
        sa.Column("user_agent", sa.Text),
        schema=S,
    )
    op.create_index("web_sessions_user", "web_sessions", ["user_id"], schema=S)

    op.create_table(
        "login_failures",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        schema=S,
    )
    op.create_index("login_failures_email", "login_failures", ["email", "failed_at"], schema=S)
    op.create_index("login_failures_address", "login_failures", ["address", "failed_at"], schema=S)

    op.create_table(
        "oauth_states",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("nonce_hash", sa.Text, nullable=False, unique=True),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger, sa.ForeignKey(f"{S}.tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "user_id", sa.BigInteger, sa.ForeignKey(f"{S}.users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("oauth_states", schema=S)
    op.drop_table("login_failures", schema=S)
    op.drop_table("web_sessions", schema=S)
    op.execute(f"delete from {S}.user_roles where role = 'manager'")
    op.drop_constraint("user_roles_role_valid", "user_roles", schema=S)
    op.create_check_constraint(
        "user_roles_role_valid", "user_roles", "role in ('super_admin', 'admin', 'viewer')", schema=S
    )
    op.drop_column("user_roles", "amocrm_user_id", schema=S)
    op.drop_constraint("users_lang_valid", "users", schema=S)
    op.drop_column("users", "lang", schema=S)
    op.drop_column("users", "password_changed_at", schema=S)
    op.drop_column("users", "password_hash", schema=S)
