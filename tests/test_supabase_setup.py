"""`synkro supabase sql SLUG`: the script runs on a real Postgres and does what it promises.

Roles are cluster-wide, so each test uses a fresh database and a unique slug and drops the roles
it created. Supabase's Data API roles (`anon`, `authenticated`, `service_role`, `authenticator`) are
created when the server lacks them, as a Supabase project always has them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from synkro.supabase_setup import names_for, setup_sql
from tests.controlplane_helpers import fresh_database, synkro

SUPABASE_ROLES = ("anon", "authenticated", "service_role", "authenticator")


def _as_user(url: str, user: str) -> str:
    """The same database as another login role (the embedded server trusts loopback logins)."""
    parts = urlsplit(url)
    netloc = f"{user}:x@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture
def warehouse(database_url: str) -> Iterator[tuple[str, str]]:
    """(superuser URL of a fresh database, slug); roles made here are dropped afterwards."""
    slug = f"s{uuid.uuid4().hex[:8]}"
    created: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as admin:
        for role in SUPABASE_ROLES:
            if not admin.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
                admin.execute(f'create role "{role}" nologin')
                created.append(role)
    try:
        with fresh_database(database_url) as url:
            yield url, slug
    finally:
        names = names_for(slug)
        with psycopg.connect(database_url, autocommit=True) as admin:
            for role in (names.loader, names.transformer, *created):
                admin.execute(f'drop role if exists "{role}"')


def _run(url: str, script: str) -> list[str]:
    """Execute the script as the owner would (one batch); returns the warnings it raised."""
    notices: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.add_notice_handler(
            lambda diag: notices.append(diag.message_primary or "") if diag.severity == "WARNING" else None
        )
        conn.execute(script)
    return notices


def test_script_creates_roles_schemas_grants_and_rls(warehouse: tuple[str, str]):
    url, slug = warehouse
    n = names_for(slug)
    script = setup_sql(slug)
    assert _run(url, script) == []
    assert _run(url, script) == []  # idempotent: a second run changes nothing and does not fail

    with psycopg.connect(url) as admin:
        owners = dict(
            admin.execute(
                "select nspname, pg_get_userbyid(nspowner) from pg_namespace where nspname like %s",
                (f"{slug}\\_%",),
            ).fetchall()
        )
        assert owners == {
            n.raw: n.loader,
            n.raw_staging: n.loader,
            n.analysis: n.loader,
            n.staging: n.transformer,
            n.marts: n.transformer,
        }
        settings = dict(
            admin.execute(
                "select rolname, rolconfig from pg_roles where rolname in (%s, %s)", (n.loader, n.transformer)
            ).fetchall()
        )
        assert settings == {n.loader: ["statement_timeout=30min"], n.transformer: ["statement_timeout=30min"]}
        for schema in n.all_schemas:
            for role in ("anon", "authenticated", "service_role"):
                usage = admin.execute(
                    "select has_schema_privilege(%s, %s, 'USAGE')", (role, schema)
                ).fetchone()
                assert usage == (False,), (role, schema)

    # dlt as the loader: a new raw table gets RLS from the event trigger, and dbt can read it.
    with psycopg.connect(_as_user(url, n.loader), autocommit=True) as loader:
        assert loader.execute("show statement_timeout").fetchone() == ("30min",)
        loader.execute(f'create table "{n.raw}".amocrm_leads (id bigint primary key, name text)')
        loader.execute(f"insert into \"{n.raw}\".amocrm_leads values (1, 'Deal')")
        loader.execute(f'create table "{n.raw_staging}".amocrm_leads (id bigint)')
        # the one-DSN setup: the loader can build dbt's schemas too, and CREATE TABLE AS gets RLS
        loader.execute(f'create table "{n.marts}".fct_demo as select id from "{n.raw}".amocrm_leads')
    with psycopg.connect(_as_user(url, n.transformer), autocommit=True) as transformer:
        assert transformer.execute(f'select name from "{n.raw}".amocrm_leads').fetchall() == [("Deal",)]
        transformer.execute(f'create table "{n.staging}".stg_demo as select 1 as x')
        transformer.execute(f'create view "{n.staging}".v_demo as select 1 as x')
        transformer.execute(f'create table "{n.marts}".fct_dialogs as select 7 as dialog_id')
    with psycopg.connect(_as_user(url, n.loader), autocommit=True) as loader:  # the analysis step
        assert loader.execute(f'select dialog_id from "{n.marts}".fct_dialogs').fetchall() == [(7,)]

    with psycopg.connect(url) as admin:
        rls = dict(
            admin.execute(
                "select c.relname, c.relrowsecurity from pg_class c "
                "join pg_namespace s on s.oid = c.relnamespace "
                "where s.nspname like %s and c.relkind = 'r'",
                (f"{slug}\\_%",),
            ).fetchall()
        )
        assert rls == {"amocrm_leads": True, "fct_demo": True, "stg_demo": True, "fct_dialogs": True}
        # a table outside the tenant's schemas is left alone
        admin.execute("create table public.not_synkro (x int)")
        assert admin.execute(
            "select relrowsecurity from pg_class where relname = 'not_synkro'"
        ).fetchone() == (False,)
        # the Data API role cannot read the table even if someone granted the schema by mistake
        admin.execute(f'grant usage on schema "{n.raw}" to anon')
        admin.execute(f'grant select on "{n.raw}".amocrm_leads to anon')
        admin.execute("set role anon")
        assert admin.execute(f'select count(*) from "{n.raw}".amocrm_leads').fetchone() == (0,)


def test_existing_tables_get_rls_on_rerun(warehouse: tuple[str, str]):
    url, slug = warehouse
    n = names_for(slug)
    with psycopg.connect(url, autocommit=True) as admin:  # data loaded as postgres before the setup
        admin.execute(f'create schema "{n.raw}"')
        admin.execute(f'create table "{n.raw}".radist_chats (chat_id bigint)')
    _run(url, setup_sql(slug))
    with psycopg.connect(url) as admin:
        assert admin.execute(
            "select relrowsecurity from pg_class where oid = %s::regclass", (f'"{n.raw}".radist_chats',)
        ).fetchone() == (True,)


def test_bad_slug_and_timeout_are_refused():
    with pytest.raises(ValueError, match="invalid tenant slug"):
        setup_sql('acme"; drop table x; --')
    with pytest.raises(ValueError, match="statement_timeout"):
        setup_sql("acme", statement_timeout="1h'; drop role postgres; --")


def test_cli_prints_the_script():
    result = synkro("supabase", "sql", "acme", "--statement-timeout", "45min")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == setup_sql("acme", statement_timeout="45min").strip()
    assert "statement_timeout = '45min'" in result.stdout
    bad = synkro("supabase", "sql", "Bad-Slug")
    assert bad.exit_code == 2


def test_warns_when_a_tenant_schema_is_exposed_via_authenticator(warehouse: tuple[str, str]):
    url, slug = warehouse
    n = names_for(slug)
    with psycopg.connect(url, autocommit=True) as admin:
        before = admin.execute("select rolconfig from pg_roles where rolname = 'authenticator'").fetchone()[0]
        admin.execute(f"alter role authenticator set pgrst.db_schemas = 'public, {n.marts}'")
    try:
        warnings = _run(url, setup_sql(slug))
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("alter role authenticator reset pgrst.db_schemas")
            for setting in before or []:
                if setting.startswith("pgrst.db_schemas="):
                    value = setting.split("=", 1)[1].replace("'", "''")
                    admin.execute(f"alter role authenticator set pgrst.db_schemas = '{value}'")
    assert any("pgrst.db_schemas" in w for w in warnings), warnings
