"""Alembic environment for the control plane, driven programmatically by `synkro.controlplane.migrate`.

The version table lives in schema `synkro` next to the tables it versions, so the control plane can
share a database (e.g. a tenant's Supabase project) without touching `public`. A transaction-level
advisory lock serialises concurrent `synkro` commands that all try to migrate at start-up.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from synkro.controlplane.tables import SCHEMA, metadata

MIGRATION_LOCK_ID = 0x53594E4B  # "SYNK"


def run_migrations_online() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
        with engine.connect() as conn:
            _run(conn)
    else:
        _run(connection)


def _run(connection) -> None:
    with connection.begin():
        connection.execute(text("select pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.execute(text(f"create schema if not exists {SCHEMA}"))
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=SCHEMA,
            include_schemas=True,
            transactional_ddl=True,
        )
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; run synkro db migrate")
run_migrations_online()
