"""Reports: one row per (tenant, report_type, window_start, window_end), enforced by the database.

Two runs of one window (a scheduled run and its retry, two daemons) used to be able to create two
drafts and deliver both. Existing duplicates are removed first: of each group the sent report is
kept (the newest sent one if several), else the newest; every removed row is written to the audit
log with its delivery metadata, so nothing that was sent is forgotten.

Revision ID: 0002
Revises: 0001
Create Date: 2026-02-01
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "synkro"
COLUMNS = ["tenant_id", "report_type", "window_start", "window_end"]


def upgrade() -> None:
    op.execute(
        f"""
        create temporary table report_duplicates as
        select id, kept_id from (
            select
                id,
                first_value(id) over w as kept_id,
                row_number() over w as rank
            from {S}.reports
            window w as (
                partition by tenant_id, report_type, window_start, window_end
                order by (status = 'sent') desc, created_at desc, id desc
            )
        ) ranked
        where rank > 1;

        insert into {S}.audit_log (actor, tenant, action, details)
        select
            'migration 0002',
            t.slug,
            'report.deduplicated',
            jsonb_build_object(
                'report_id', r.id,
                'kept_report_id', d.kept_id,
                'status', r.status,
                'window_start', r.window_start,
                'window_end', r.window_end,
                'report_type', r.report_type,
                'delivery', r.delivery
            )
        from report_duplicates d
        join {S}.reports r on r.id = d.id
        join {S}.tenants t on t.id = r.tenant_id
        order by r.id;

        delete from {S}.reports where id in (select id from report_duplicates);
        drop table report_duplicates;
        """
    )
    # The unique constraint's index serves the lookups the plain index served.
    op.drop_index("reports_tenant_window", table_name="reports", schema=S)
    op.create_unique_constraint("reports_tenant_type_window", "reports", COLUMNS, schema=S)


def downgrade() -> None:
    op.drop_constraint("reports_tenant_type_window", "reports", type_="unique", schema=S)
    op.create_index("reports_tenant_window", "reports", COLUMNS, schema=S)
