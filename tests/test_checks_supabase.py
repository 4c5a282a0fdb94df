"""`synkro check SLUG supabase`: keys against the sandbox's Supabase emulator (real HTTP), the DSN's
shape, and the Postgres part against the real test database before and after the setup SQL."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import psycopg
import pytest

from sandbox import supabase as emu
from sandbox.server import SandboxServer
from synkro.checks import CheckResult
from synkro.checks.supabase import check_dsn_shape, check_keys, check_postgres, key_kind, project_ref
from synkro.controlplane import open_controlplane
from synkro.supabase_setup import names_for, setup_sql
from tests.controlplane_helpers import new_slug, synkro
from tests.test_supabase_setup import _as_user, _run, warehouse  # noqa: F401 (fixture)


def _lines(result: CheckResult) -> dict[str, tuple[bool | None, str]]:
    return {line.name: (line.ok, line.detail) for line in result.lines}


# -- API keys against the emulator ---------------------------------------------------------------


def test_publishable_and_secret_keys_are_told_apart(sandbox: SandboxServer):
    result = CheckResult("supabase")
    keys = {"anon_key": emu.PUBLISHABLE_KEY, "service_role_key": emu.SECRET_KEY}
    check_keys(result, sandbox.urls.supabase, keys, schemas=names_for("acme").all_schemas)
    lines = _lines(result)
    assert lines["anon_key"][0] is True and "publishable" in lines["anon_key"][1]
    assert lines["service_role_key"][0] is True and "secret" in lines["service_role_key"][1]
    assert lines["data api exposure"][0] is True
    assert result.ok
    output = json.dumps([line.__dict__ for line in result.lines])
    assert emu.SECRET_KEY not in output and emu.PUBLISHABLE_KEY not in output


def test_publishable_key_in_the_secret_field_fails(sandbox: SandboxServer):
    result = CheckResult("supabase")
    check_keys(result, sandbox.urls.supabase, {"service_role_key": emu.PUBLISHABLE_KEY})
    ok, detail = _lines(result)["service_role_key"]
    assert ok is False and "publishable" in detail
    assert not result.ok


def test_invalid_and_legacy_keys(sandbox: SandboxServer):
    result = CheckResult("supabase")
    check_keys(result, sandbox.urls.supabase, {"anon_key": "sb_publishable_wrong"})
    assert _lines(result)["anon_key"] == (False, "rejected by /auth/v1/health: Invalid API key")

    result = CheckResult("supabase")
    keys = {"anon_key": emu.LEGACY_ANON_KEY, "service_role_key": emu.LEGACY_SERVICE_ROLE_KEY}
    check_keys(result, sandbox.urls.supabase, keys)
    lines = _lines(result)
    assert lines["anon_key"][0] is True and "legacy anon" in lines["anon_key"][1]
    assert lines["service_role_key"][0] is True and "retire" in lines["service_role_key"][1]

    assert key_kind(emu.LEGACY_SERVICE_ROLE_KEY)[0] == "legacy service_role"
    # a legacy JWT of another project is refused before any request
    result = CheckResult("supabase")
    check_keys(result, "https://otherref.supabase.co", {"anon_key": emu.LEGACY_ANON_KEY})
    assert _lines(result)["anon_key"][0] is False and "sandboxref" in _lines(result)["anon_key"][1]


def test_exposed_tenant_schema_is_reported(sandbox: SandboxServer):
    names = names_for("acme")
    control = f"{sandbox.urls.control}/supabase/exposed_schemas"
    httpx.post(control, json=["public", names.marts]).raise_for_status()
    try:
        result = CheckResult("supabase")
        check_keys(
            result, sandbox.urls.supabase, {"service_role_key": emu.SECRET_KEY}, schemas=names.all_schemas
        )
    finally:
        httpx.post(control, json=["public", "graphql_public"]).raise_for_status()
    ok, detail = _lines(result)["data api exposure"]
    assert ok is None and names.marts in detail and names.raw not in detail


def test_emulator_follows_the_documented_key_rules(sandbox: SandboxServer):
    health = f"{sandbox.urls.supabase}/auth/v1/health"
    assert httpx.get(health).json() == {"message": "No API key found in request"}
    browser = {"apikey": emu.SECRET_KEY, "User-Agent": "Mozilla/5.0 Chrome/126.0"}
    assert httpx.get(health, headers=browser).status_code == 401
    mismatched = {"apikey": emu.PUBLISHABLE_KEY, "Authorization": f"Bearer {emu.SECRET_KEY}"}
    assert httpx.get(health, headers=mismatched).status_code == 401
    ok = httpx.get(health, headers={"apikey": emu.PUBLISHABLE_KEY})
    assert ok.status_code == 200 and ok.json()["name"] == "GoTrue"
    root = httpx.get(f"{sandbox.urls.supabase}/rest/v1/", headers={"apikey": emu.PUBLISHABLE_KEY})
    assert root.status_code == 403 and root.json()["message"] == "Access to schema is forbidden"


# -- the DSN's shape -----------------------------------------------------------------------------


def test_dsn_shape_warnings():
    result = CheckResult("supabase")
    check_dsn_shape(
        result,
        "postgresql://postgres.abc:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres",
        ipv4_resolver=lambda host, port: ["1.2.3.4"],
    )
    assert _lines(result)["connection mode"][0] is None and "6543" in _lines(result)["connection mode"][1]

    result = CheckResult("supabase")
    check_dsn_shape(
        result, "postgresql://postgres:pw@db.abc.supabase.co:5432/postgres", ipv4_resolver=lambda h, p: []
    )
    ok, detail = _lines(result)["connection mode"]
    assert ok is None and "IPv6-only" in detail and "pooler" in detail
    result = CheckResult("supabase")
    check_dsn_shape(
        result,
        "postgresql://postgres:pw@db.abc.supabase.co:5432/postgres",
        ipv4_resolver=lambda h, p: ["1.2.3.4"],
    )
    assert _lines(result)["connection mode"][0] is True

    result = CheckResult("supabase")
    check_dsn_shape(
        result, "postgresql://postgres:pw@aws-1-us-east-1.pooler.supabase.com:5432/postgres?sslmode=prefer"
    )
    lines = _lines(result)
    assert lines["pooler user"][0] is False and "Tenant or user not found" in lines["pooler user"][1]
    assert lines["dsn sslmode"][0] is None

    result = CheckResult("supabase")
    check_dsn_shape(
        result, "postgresql://acme_loader.abc:pw@aws-1-us-east-1.pooler.supabase.com:5432/postgres", ref="abc"
    )
    assert _lines(result) == {"connection mode": (True, "Supavisor session pooler (port 5432)")}
    assert (
        project_ref("https://abc.supabase.co") == "abc"
        and project_ref(sandbox_url := "http://x/supabase") is None
    )
    assert sandbox_url


# -- Postgres --------------------------------------------------------------------------------------


def test_sslmode_require_against_a_server_without_ssl_is_explained(database_url: str):
    result = CheckResult("supabase")
    check_postgres(result, database_url, names_for("acme"))
    ok, detail = _lines(result)["postgres"]
    assert ok is False and "does not accept SSL" in detail and "sslmode=require" in detail


def test_privileges_before_and_after_the_setup_sql(warehouse: tuple[str, str]):  # noqa: F811
    url, slug = warehouse
    names = names_for(slug)

    result = CheckResult("supabase")  # as postgres, nothing set up yet
    check_postgres(result, url, names, sslmode=None)
    lines = _lines(result)
    assert lines["postgres"][0] is True and "SSL off" in lines["postgres"][1]
    assert lines["role"][0] is None
    assert lines["privileges"][0] is True and "will create" in lines["privileges"][1]
    assert lines["row level security"][0] is None and "event trigger" in lines["row level security"][1]

    _run(url, setup_sql(slug))
    with psycopg.connect(_as_user(url, names.loader), autocommit=True) as loader:
        loader.execute(f'create table "{names.raw}".amocrm_users (id bigint)')

    result = CheckResult("supabase")
    check_postgres(result, _as_user(url, names.loader), names, sslmode=None)
    lines = _lines(result)
    assert "role" not in lines
    assert lines["statement timeout"] == (True, "1800s")
    assert lines["privileges"] == (True, "USAGE and CREATE on every tenant schema")
    assert lines["row level security"][0] is True
    assert result.ok

    result = CheckResult("supabase")  # the transformer alone may not write the raw schemas
    check_postgres(result, _as_user(url, names.transformer), names, sslmode=None)
    ok, detail = _lines(result)["privileges"]
    assert ok is False and names.raw in detail and names.marts not in detail

    with psycopg.connect(url, autocommit=True) as admin:  # a table made while the trigger was off
        admin.execute(f'alter event trigger "{names.event_trigger}" disable')
        admin.execute(f'create table "{names.raw}".late (id bigint)')
    result = CheckResult("supabase")
    check_postgres(result, _as_user(url, names.loader), names, sslmode=None)
    assert _lines(result)["row level security"] == (None, "1 tenant table(s) without RLS; run the setup SQL")


# -- the command ---------------------------------------------------------------------------------


def test_check_command_saves_the_status(
    db_env: str, sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SYNKRO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SYNKRO_SECRET_KEY", raising=False)
    slug = new_slug()
    assert synkro("tenant", "create", slug, "--name", "Acme").exit_code == 0
    config = emu.sandbox_config(sandbox.urls.root) | {"database_url": db_env}
    made = synkro("config", "set", slug, "supabase", "--file", "-", input=json.dumps(config))
    assert made.exit_code == 0, made.output

    checked = synkro("check", slug, "supabase", "--json")
    assert checked.exit_code == 1, checked.output
    report = json.loads(checked.stdout)
    by_name = {line["name"]: line for line in report["checks"]}
    assert by_name["anon_key"]["ok"] is True and by_name["service_role_key"]["ok"] is True
    assert by_name["postgres"]["ok"] is False and "does not accept SSL" in by_name["postgres"]["detail"]
    assert emu.SECRET_KEY not in checked.stdout and "embedded" not in checked.stdout
    record = open_controlplane().configs.get_record(slug, "supabase")
    assert record.status == "error" and "SSL" in (record.last_error or "")
