"""Runs may end `succeeded_with_warnings`: the chain went through but a step stopped short.

Why a status and not only an event: an analysis that stopped (invalid key, quota, budget) still
ends with the report delivered, without scores; a plain `succeeded` hid that from `synkro runs`,
the portal and anyone filtering runs by status.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "synkro"
OLD = "status in ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped')"
NEW = OLD.replace("'succeeded',", "'succeeded', 'succeeded_with_warnings',")


def upgrade() -> None:
    op.drop_constraint("job_runs_status_valid", "job_runs", schema=S)
    op.create_check_constraint("job_runs_status_valid", "job_runs", NEW, schema=S)


def downgrade() -> None:
    op.execute(f"update {S}.job_runs set status = 'succeeded' where status = 'succeeded_with_warnings'")
    op.drop_constraint("job_runs_status_valid", "job_runs", schema=S)
    op.create_check_constraint("job_runs_status_valid", "job_runs", OLD, schema=S)
