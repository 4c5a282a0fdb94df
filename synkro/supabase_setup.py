"""The one-time SQL an owner runs in their Supabase project before Synkro loads into it.

Why this exists (docs/apis/supabase.md §6–7): tables created by SQL, dlt or dbt get no row level
security, older projects grant every new `public` table to the publishable key, and the database-wide
`statement_timeout` of 2 minutes kills long loads. So Synkro keeps each tenant in its own schemas
(never `public`, never exposed to the Data API), works through dedicated roles with a longer timeout,
and an event trigger switches RLS on for every table those roles create later. Supabase lets the
`postgres` user create event triggers (its `supautils` extension), which is why the SQL is meant to
be run as `postgres` in the SQL editor.

Design choices, each visible in the generated SQL:
- `<slug>_loader` owns `<slug>_raw`, dlt's merge staging dataset `<slug>_raw_staging` and
  `<slug>_analysis` (written by the analysis step); `<slug>_transformer` owns `<slug>_staging` and
  `<slug>_marts` (dbt) and reads the loader's schemas. Owners bypass RLS (no FORCE), but a role
  reading another role's table does not: with RLS and no policy dbt would silently read zero raw
  rows. So each table also gets one policy for the two tenant roles, and nobody else.
- Synkro connects with one DSN per tenant today (`supabase.database_url`), so the loader is granted
  the transformer role: that one login can run every step. Drop the grant once dbt gets its own DSN.
- The event trigger function is SECURITY INVOKER and lives in a schema only the installing user
  owns: the role creating a table owns it and may enable RLS on it, and a tenant role cannot replace
  a function that runs whenever anyone creates a table.
- Everything is idempotent (re-running changes nothing) and no password is generated or printed:
  the roles can log in only once the owner sets a password themselves.
"""

from __future__ import annotations

import re

from synkro import tenancy
from synkro.tenancy import TenantNames

# The Data API roles of every Supabase project; revoked from the tenant schemas when present.
DATA_API_ROLES = ("anon", "authenticated", "service_role")
# Role setting for long dlt loads and dbt full refreshes (the database default is 2 minutes).
DEFAULT_STATEMENT_TIMEOUT = "30min"
SETUP_SCHEMA = "synkro_setup"
# RLS policy on every tenant table: the tenant's own roles see all rows, nobody else any.
POLICY = "synkro_tenant_roles"
_TIMEOUT_RE = re.compile(r"^\d+\s*(ms|s|min|h)?$")


# Schema and role names of one tenant's warehouse (the check and the SQL share them): owned by
# synkro.tenancy, like every other name built from a slug.
TenantWarehouseNames = TenantNames


def names_for(slug: str) -> TenantNames:
    return tenancy.names(slug)


def ident(name: str) -> str:
    """A double-quoted SQL identifier (names here are validated, quoting keeps it obviously safe)."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _create_role(role: str, timeout: str) -> str:
    return f"""do $$
begin
  if not exists (select 1 from pg_roles where rolname = {literal(role)}) then
    create role {ident(role)} login;
  end if;
end $$;
alter role {ident(role)} set statement_timeout = {literal(timeout)};
grant {ident(role)} to current_user;"""


def setup_sql(slug: str, *, statement_timeout: str = DEFAULT_STATEMENT_TIMEOUT) -> str:
    """The whole script for one tenant, to run once as `postgres` (safe to run again)."""
    n = names_for(slug)
    if not _TIMEOUT_RE.fullmatch(statement_timeout.strip()):
        raise ValueError("statement_timeout must look like 30min, 3600s, 1h or 600000 (ms)")
    timeout = statement_timeout.strip()
    schemas_list = ", ".join(literal(s) for s in n.all_schemas)
    api_roles = ", ".join(literal(r) for r in DATA_API_ROLES)
    parts: list[str] = [
        f"""-- Synkro warehouse setup for tenant {slug!r}.
-- Run once as the `postgres` user in the Supabase SQL editor (or psql); running it again is harmless.
-- Afterwards set a password for the login role Synkro will use, e.g.
--   alter role {ident(n.loader)} password '<a long random password>';
-- and give Synkro its DSN with `synkro config set {slug} supabase` (field database_url): the session
-- pooler, port 5432, user {n.loader}.<project_ref>, password URL-encoded, sslmode=require:
--   postgresql://{n.loader}.<ref>:<password>@aws-N-<region>.pooler.supabase.com:5432/postgres?sslmode=require
-- (or the direct host db.<ref>.supabase.co:5432, user {n.loader}, if this machine has IPv6).
-- Keep these schemas OUT of Settings -> API -> "Exposed schemas"; Synkro never needs the Data API.

begin;

-- 1. Roles: one loads (dlt, analysis), one transforms (dbt); both get a long statement timeout,
--    because the database-wide default of 2 minutes stops big loads and full refreshes.
--    Granting them to the installing user lets it create schemas they own (needed on Postgres 16+).""",
        _create_role(n.transformer, timeout),
        _create_role(n.loader, timeout),
        f"""-- Synkro uses one DSN per tenant today, so the loader may act as the transformer too.
grant {ident(n.transformer)} to {ident(n.loader)};

-- 2. Schemas: owned by the role that writes them, never `public`.""",
    ]
    for schema in n.loader_schemas:
        parts.append(f"create schema if not exists {ident(schema)} authorization {ident(n.loader)};")
        parts.append(f"alter schema {ident(schema)} owner to {ident(n.loader)};")
    for schema in n.transformer_schemas:
        parts.append(f"create schema if not exists {ident(schema)} authorization {ident(n.transformer)};")
        parts.append(f"alter schema {ident(schema)} owner to {ident(n.transformer)};")
    parts.append(
        "\n-- 3. Grants: dbt reads what the loader wrote (now and later); the analysis step reads marts."
    )
    for schema in (n.raw, n.analysis):
        parts += [
            f"grant usage on schema {ident(schema)} to {ident(n.transformer)};",
            f"grant select on all tables in schema {ident(schema)} to {ident(n.transformer)};",
            f"alter default privileges for role {ident(n.loader)} in schema {ident(schema)} "
            f"grant select on tables to {ident(n.transformer)};",
        ]
    parts += [
        f"grant usage on schema {ident(n.marts)} to {ident(n.loader)};",
        f"grant select on all tables in schema {ident(n.marts)} to {ident(n.loader)};",
        f"alter default privileges for role {ident(n.transformer)} in schema {ident(n.marts)} "
        f"grant select on tables to {ident(n.loader)};",
        f"""
-- 4. Nothing of the tenant is reachable through the Data API keys, whatever the dashboard says.
do $$
declare
  api_role text;
  tenant_schema text;
begin
  foreach api_role in array array[{api_roles}] loop
    continue when not exists (select 1 from pg_roles where rolname = api_role);
    foreach tenant_schema in array array[{schemas_list}] loop
      execute format('revoke all on schema %I from %I', tenant_schema, api_role);
      execute format('revoke all on all tables in schema %I from %I', tenant_schema, api_role);
    end loop;
  end loop;
  foreach tenant_schema in array array[{schemas_list}] loop
    execute format('revoke all on schema %I from public', tenant_schema);
  end loop;
  -- Self-hosted PostgREST may read its exposed schemas from the authenticator role.
  if exists (
    select 1 from pg_roles r, unnest(coalesce(r.rolconfig, '{{}}')) as setting
    where r.rolname = 'authenticator' and setting like 'pgrst.db_schemas=%'
      and exists (select 1 from unnest(array[{schemas_list}]) s
                  where setting ~ ('(=|,|\\s)' || s || '(,|\\s|$)'))
  ) then
    raise warning 'a Synkro schema is listed in pgrst.db_schemas: remove it from the exposed schemas';
  end if;
end $$;

-- 5. Row level security on every table Synkro creates, with one policy letting the two tenant
--    roles see all rows (dbt reads the loader's tables, the analysis step reads dbt's). Every other
--    role (anon, authenticated) sees nothing, whatever it is granted. The event trigger covers
--    tables created later by dlt and dbt (CREATE TABLE, and CREATE TABLE AS for dbt's tables).
create schema if not exists {ident(SETUP_SCHEMA)};
revoke all on schema {ident(SETUP_SCHEMA)} from public;
create or replace function {ident(SETUP_SCHEMA)}.{ident(n.rls_function)}()
returns event_trigger
language plpgsql
set search_path = pg_catalog
as $$
declare
  cmd record;
begin
  for cmd in
    select * from pg_event_trigger_ddl_commands()
    where object_type in ('table', 'partitioned table')
      and schema_name = any (array[{schemas_list}])
  loop
    execute format('alter table %s enable row level security', cmd.object_identity);
    if not exists (select 1 from pg_policy where polrelid = cmd.objid and polname = {literal(POLICY)}) then
      execute format('create policy %I on %s to %I, %I using (true) with check (true)',
                     {literal(POLICY)}, cmd.object_identity, {literal(n.loader)}, {literal(n.transformer)});
    end if;
  end loop;
end;
$$;
revoke all on function {ident(SETUP_SCHEMA)}.{ident(n.rls_function)}() from public;
drop event trigger if exists {ident(n.event_trigger)};
create event trigger {ident(n.event_trigger)} on ddl_command_end
  when tag in ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO')
  execute function {ident(SETUP_SCHEMA)}.{ident(n.rls_function)}();

-- Tables that already exist (a re-run, or data loaded before this setup).
do $$
declare
  t record;
begin
  for t in
    select c.oid::regclass as rel
    from pg_class c join pg_namespace ns on ns.oid = c.relnamespace
    where c.relkind in ('r', 'p')
      and (not c.relrowsecurity
           or not exists (select 1 from pg_policy p
                          where p.polrelid = c.oid and p.polname = {literal(POLICY)}))
      and ns.nspname = any (array[{schemas_list}])
  loop
    begin
      execute format('alter table %s enable row level security', t.rel);
      if not exists (select 1 from pg_policy where polrelid = t.rel and polname = {literal(POLICY)}) then
        execute format('create policy %I on %s to %I, %I using (true) with check (true)',
                       {literal(POLICY)}, t.rel, {literal(n.loader)}, {literal(n.transformer)});
      end if;
    exception when insufficient_privilege then
      raise warning 'could not enable RLS on % (not its owner): run this script as its owner', t.rel;
    end;
  end loop;
end $$;

commit;
""",
    ]
    return "\n".join(parts) + "\n"
