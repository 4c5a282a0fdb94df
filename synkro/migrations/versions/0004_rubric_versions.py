"""Rubric versions: every saved rubric is kept forever with its number, who saved it and when.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

Why a table and not only the settings document: scores must stay explainable ("which rubric
scored this dialog?") after the rubric changed again. Tenants that already had a custom rubric in
their settings get it as their first recorded version (number = their settings' rubric_version).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "synkro"


def upgrade() -> None:
    op.create_table(
        "rubric_versions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "tenant_id", sa.BigInteger, sa.ForeignKey(f"{S}.tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("content", JSONB, nullable=False),
        sa.Column("content_hash", sa.Text),
        sa.Column("created_by", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.CheckConstraint("number >= 1", name="rubric_versions_number_positive"),
        sa.UniqueConstraint("tenant_id", "number", name="rubric_versions_tenant_number"),
        schema=S,
    )
    op.execute(
        f"insert into {S}.rubric_versions (tenant_id, number, content, created_by) "
        "select tenant_id, greatest(coalesce((settings->>'rubric_version')::int, 0), 1), settings->'rubric', "
        f"'migration 0004' from {S}.tenant_settings "
        "where jsonb_typeof(settings->'rubric') = 'object'"
    )


def downgrade() -> None:
    op.drop_table("rubric_versions", schema=S)
