"""The `synkro` admin CLI against a real Postgres: every command, bad input, secrets hygiene."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from synkro.controlplane import open_controlplane
from tests.controlplane_helpers import fresh_database, new_slug, synkro

BOT_TOKEN = "7712345678:AAFsecretBotTokenValue-XYZ_1234"
RADIST_KEY = "rk_live_supersecretradistkey_5678"
GEMINI_KEY = "AIzaSyDsecretGeminiKeyValue_9012"
AMO_CLIENT_SECRET = "amoClientSecretValue_3456"
AMO_REFRESH = "def50200refreshtokenvalue_7890"
ALL_SECRETS = (BOT_TOKEN, RADIST_KEY, GEMINI_KEY, AMO_CLIENT_SECRET, AMO_REFRESH)


@pytest.fixture
def cli_env(db_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """DATABASE_URL -> test database; a private SYNKRO_HOME (key file); a known actor."""
    monkeypatch.setenv("SYNKRO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SYNKRO_SECRET_KEY", raising=False)
    monkeypatch.delenv("SYNKRO_DEBUG", raising=False)
    monkeypatch.setenv("SYNKRO_ACTOR", "tester@example.com")
    # SYNKRO_ACTOR names the actor only for a super_admin (else the OS user is recorded).
    synkro("user", "add", "tester@example.com", "--password-stdin", input="tester-long-password\n")
    synkro("user", "grant", "tester@example.com", "super_admin")
    return db_env


@pytest.fixture
def tenant(cli_env: str) -> str:
    slug = new_slug()
    result = synkro("tenant", "create", slug, "--name", "Acme LLC", "--timezone", "Asia/Almaty")
    assert result.exit_code == 0, result.output
    return slug


def _count(url: str, sql: str, *params) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def _set(slug: str, kind: str, document: dict) -> None:
    result = synkro("config", "set", slug, kind, "--file", "-", input=json.dumps(document))
    assert result.exit_code == 0, result.output


# -- tenants -------------------------------------------------------------------------------------


def test_tenant_lifecycle(cli_env: str, tenant: str):
    listed = json.loads(synkro("tenant", "list", "--json").stdout)
    mine = next(t for t in listed if t["slug"] == tenant)
    assert (mine["name"], mine["status"], mine["timezone"]) == ("Acme LLC", "active", "Asia/Almaty")

    for command, status in (("pause", "paused"), ("disable", "disabled"), ("resume", "active")):
        assert synkro("tenant", command, tenant).exit_code == 0
        assert json.loads(synkro("tenant", "show", tenant, "--json").stdout)["status"] == status

    shown = json.loads(synkro("tenant", "show", tenant, "--json").stdout)
    assert shown["settings"]["day_boundary"] == "22:01"
    assert shown["configs"] == []

    result = synkro("tenant", "create", tenant, "--name", "Again")
    assert result.exit_code == 2 and "already exists" in result.stderr


def test_tenant_delete_drops_schemas_and_rows(cli_env: str, tenant: str):
    _set(tenant, "telegram", {"bot_token": BOT_TOKEN, "chat_id": -1001})
    with psycopg.connect(cli_env, autocommit=True) as conn:
        for suffix in ("raw", "staging", "marts", "analysis"):
            conn.execute(f'create schema "{tenant}_{suffix}"')
        conn.execute(f'create table "{tenant}_raw".t (id int)')

    refused = synkro("tenant", "delete", tenant, input="n\n")
    assert refused.exit_code == 1
    assert _count(cli_env, "select count(*) from synkro.tenants where slug = %s", tenant) == 1

    result = synkro("tenant", "delete", tenant, "--yes")
    assert result.exit_code == 0, result.output
    assert _count(cli_env, "select count(*) from pg_namespace where nspname like %s", f"{tenant}\\_%") == 0
    assert _count(cli_env, "select count(*) from synkro.tenants where slug = %s", tenant) == 0
    assert (
        _count(
            cli_env,
            "select count(*) from synkro.integration_configs c where not exists "
            "(select 1 from synkro.tenants t where t.id = c.tenant_id)",
        )
        == 0
    )
    actions = [e["action"] for e in json.loads(synkro("audit", "list", "--tenant", tenant, "--json").stdout)]
    assert actions[0] == "tenant.delete" and "tenant.create" in actions


@pytest.mark.parametrize(
    "args",
    [
        ["tenant", "create", "Acme", "--name", "x"],
        ["tenant", "create", "1acme", "--name", "x"],
        ["tenant", "create", "a", "--name", "x"],
        ["tenant", "create", "acme-co", "--name", "x"],
        ["tenant", "create", "a" * 32, "--name", "x"],
        ["tenant", "create", "{slug}", "--name", "x", "--timezone", "Mars/Olympus"],
        ["tenant", "create", "{slug}", "--name", "x", "--timezone", "+03:00"],
        ["tenant", "create", "{slug}"],
    ],
)
def test_invalid_tenant_input_exits_2_and_writes_nothing(cli_env: str, args: list[str]):
    slug = new_slug()
    before = _count(cli_env, "select count(*) from synkro.tenants")
    audit_before = _count(cli_env, "select count(*) from synkro.audit_log")
    result = synkro(*[a.replace("{slug}", slug) for a in args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert _count(cli_env, "select count(*) from synkro.tenants") == before
    assert _count(cli_env, "select count(*) from synkro.audit_log") == audit_before


# -- users and roles -----------------------------------------------------------------------------

PASSWORD = "a-long-enough-password"


def test_user_add_takes_the_password_from_a_prompt_or_stdin_never_argv(cli_env: str, tenant: str):
    from synkro.controlplane import open_controlplane

    cp = open_controlplane(cli_env)
    prompted = f"{new_slug('u')}@example.com"
    result = synkro("user", "add", prompted, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert cp.accounts.verify(prompted, PASSWORD) is not None
    assert cp.accounts.verify(prompted, PASSWORD + "x") is None
    # Too short, or nothing on stdin: exit 2 and no user is written.
    users_before = _count(cli_env, "select count(*) from synkro.users")
    for given in ("short\n", ""):
        result = synkro("user", "add", f"{new_slug('u')}@example.com", "--password-stdin", input=given)
        assert result.exit_code == 2, result.output
    assert _count(cli_env, "select count(*) from synkro.users") == users_before
    # A reset through the CLI: the new password works, the old one does not.
    result = synkro("user", "password", prompted, "--password-stdin", input="another-long-password\n")
    assert result.exit_code == 0, result.output
    assert cp.accounts.verify(prompted, "another-long-password") is not None
    assert cp.accounts.verify(prompted, PASSWORD) is None
    stored = _count(
        cli_env, "select password_hash like '$argon2id$%%' from synkro.users where email = %s", prompted
    )
    assert stored is True


def test_manager_role_carries_the_amocrm_user(cli_env: str, tenant: str):
    email = f"{new_slug('u')}@example.com"
    assert synkro("user", "add", email, "--password-stdin", input=f"{PASSWORD}\n").exit_code == 0
    result = synkro("user", "grant", email, "manager", "--tenant", tenant, "--amocrm-user-id", "8801")
    assert result.exit_code == 0, result.output
    shown = json.loads(synkro("user", "show", email, "--json").stdout)
    assert shown["roles"] == [{"role": "manager", "tenant": tenant, "amocrm_user_id": 8801}]


def test_users_and_roles(cli_env: str, tenant: str):
    other = new_slug()
    assert synkro("tenant", "create", other, "--name", "Other").exit_code == 0
    email = f"{new_slug('u')}@Example.com"
    assert synkro("user", "add", email, "--password-stdin", input=f"{PASSWORD}\n").exit_code == 0
    assert synkro("user", "grant", email, "admin", "--tenant", tenant).exit_code == 0
    assert synkro("user", "grant", email, "viewer", "--tenant", other).exit_code == 0
    assert synkro("user", "grant", email, "super_admin").exit_code == 0

    users = json.loads(synkro("user", "list", "--tenant", tenant, "--json").stdout)
    me = next(u for u in users if u["email"] == email.lower())
    assert {(r["role"], r["tenant"]) for r in me["roles"]} == {
        ("admin", tenant),
        ("viewer", other),
        ("super_admin", None),
    }

    assert synkro("user", "revoke", email, "viewer", "--tenant", other).exit_code == 0
    result = synkro("user", "revoke", email, "viewer", "--tenant", other)
    assert result.exit_code == 2 and "does not hold" in result.stderr
    users = json.loads(synkro("user", "list", "--json").stdout)
    me = next(u for u in users if u["email"] == email.lower())
    assert ("viewer", other) not in {(r["role"], r["tenant"]) for r in me["roles"]}


@pytest.mark.parametrize(
    "args",
    [
        ["user", "grant", "{email}", "owner", "--tenant", "{tenant}"],
        ["user", "grant", "{email}", "super_admin", "--tenant", "{tenant}"],
        ["user", "grant", "{email}", "admin", "--tenant", "nosuchtenant"],
        ["user", "grant", "{email}", "admin", "--tenant", "Bad-Slug"],
        ["user", "grant", "nobody@example.com", "admin", "--tenant", "{tenant}"],
        ["user", "add", "not-an-email"],
        ["user", "grant", "{email}", "manager", "--tenant", "{tenant}"],
        ["user", "grant", "{email}", "manager"],
        ["user", "grant", "{email}", "viewer", "--tenant", "{tenant}", "--amocrm-user-id", "5"],
        ["user", "grant", "{email}", "manager", "--tenant", "{tenant}", "--amocrm-user-id", "-3"],
    ],
)
def test_invalid_roles_exit_2_and_write_nothing(cli_env: str, tenant: str, args: list[str]):
    email = f"{new_slug('u')}@example.com"
    assert synkro("user", "add", email, "--password-stdin", input=f"{PASSWORD}\n").exit_code == 0
    before = _count(cli_env, "select count(*) from synkro.user_roles")
    users_before = _count(cli_env, "select count(*) from synkro.users")
    result = synkro(*[a.replace("{email}", email).replace("{tenant}", tenant) for a in args])
    assert result.exit_code == 2, result.output
    assert _count(cli_env, "select count(*) from synkro.user_roles") == before
    assert _count(cli_env, "select count(*) from synkro.users") == users_before


# -- integration configs -------------------------------------------------------------------------


def test_config_set_show_partial_update_and_unset(cli_env: str, tenant: str, tmp_path: Path):
    yaml_doc = (
        f"subdomain: acmeshop\nclient_id: abc-123\nredirect_uri: https://example.com/cb\n"
        f"client_secret: {AMO_CLIENT_SECRET}\nrefresh_token: {AMO_REFRESH}\n"
    )
    result = synkro("config", "set", tenant, "amocrm", "--file", "-", input=yaml_doc)
    assert result.exit_code == 0, result.output

    shown = json.loads(synkro("config", "show", tenant, "amocrm", "--json").stdout)
    assert shown["fields"]["subdomain"] == "acmeshop"
    assert shown["fields"]["effective_base_url"] == "https://acmeshop.amocrm.ru"
    assert shown["fields"]["client_secret"] == "••••" + AMO_CLIENT_SECRET[-4:]
    assert shown["fields"]["refresh_token"] == "••••" + AMO_REFRESH[-4:]
    assert shown["status"] == "unknown" and shown["version"] == 1

    # A partial document (rotating one key) keeps every other field.
    new_refresh = "def50200rotatedrefresh_0001"
    _set(tenant, "amocrm", {"refresh_token": new_refresh, "base_url": "http://127.0.0.1:9/amocrm"})
    config = open_controlplane().configs.get_config(tenant, "amocrm")
    assert config.refresh_token.get_secret_value() == new_refresh
    assert config.client_secret.get_secret_value() == AMO_CLIENT_SECRET
    assert config.effective_base_url == "http://127.0.0.1:9/amocrm"
    assert json.loads(synkro("config", "show", tenant, "amocrm", "--json").stdout)["version"] == 2

    # A file on disk works as well; `null` removes a field.
    path = tmp_path / "amo.json"
    path.write_text(json.dumps({"base_url": None}))
    assert synkro("config", "set", tenant, "amocrm", "--file", str(path)).exit_code == 0
    assert open_controlplane().configs.get_config(tenant, "amocrm").base_url is None

    table = synkro("config", "show", tenant)
    assert table.exit_code == 0 and AMO_CLIENT_SECRET not in table.output

    assert synkro("config", "unset", tenant, "amocrm", "client_id").exit_code == 2  # refresh needs it
    assert synkro("config", "unset", tenant, "amocrm").exit_code == 0
    assert json.loads(synkro("config", "show", tenant, "--json").stdout) == []
    assert synkro("config", "show", tenant, "amocrm").exit_code == 2


def test_config_prompt_hides_secrets(cli_env: str, tenant: str):
    # Fields in model order: chat_id, base_url, bot_token (hidden).
    result = synkro("config", "set", tenant, "telegram", input=f"-100777\n\n{BOT_TOKEN}\n")
    assert result.exit_code == 0, result.output
    assert BOT_TOKEN not in result.output
    config = open_controlplane().configs.get_config(tenant, "telegram")
    assert config.chat_id == -100777 and config.bot_token.get_secret_value() == BOT_TOKEN
    # Re-running the prompt and pressing Enter everywhere keeps everything.
    again = synkro("config", "set", tenant, "telegram", input="\n\n\n")
    assert again.exit_code == 2 and "nothing to change" in again.stderr
    assert open_controlplane().configs.get_config(tenant, "telegram").chat_id == -100777


@pytest.mark.parametrize(
    ("kind", "document", "named_fields"),
    [
        (
            "telegram",
            {"bot_token": "not a token " + BOT_TOKEN, "chat_id": "general"},
            ["bot_token", "chat_id"],
        ),
        ("telegram", {"bot_token": BOT_TOKEN, "chat_id": 1, "colour": "red"}, ["colour"]),
        ("radist", {"company_id": -5, "base_url": "radist.online"}, ["company_id", "base_url", "api_key"]),
        ("gemini", {"api_key": GEMINI_KEY, "api_version": "beta1"}, ["api_version"]),
        ("amocrm", {"subdomain": "acme shop!", "long_lived_token": "x" * 20}, ["subdomain"]),
        ("amocrm", {"subdomain": "acme", "refresh_token": AMO_REFRESH}, ["client_id", "client_secret"]),
        (
            "supabase",
            {"database_url": "postgresql://u:pw@pooler.supabase.com:6543/postgres"},
            ["database_url"],
        ),
        ("mailchimp", {"api_key": "x"}, ["mailchimp"]),
    ],
)
def test_invalid_config_exits_2_names_fields_and_writes_nothing(
    cli_env: str, tenant: str, kind: str, document: dict, named_fields: list[str]
):
    before = _count(cli_env, "select count(*) from synkro.integration_configs")
    result = synkro("config", "set", tenant, kind, "--file", "-", input=json.dumps(document))
    assert result.exit_code == 2, result.output
    for field in named_fields:
        assert field in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    for secret in ALL_SECRETS:
        assert secret not in result.output
    assert _count(cli_env, "select count(*) from synkro.integration_configs") == before


def test_invalid_patch_leaves_stored_config_untouched(cli_env: str, tenant: str):
    _set(tenant, "radist", {"api_key": RADIST_KEY, "company_id": 42})
    result = synkro("config", "set", tenant, "radist", "-f", "-", input='{"company_id": "abc"}')
    assert result.exit_code == 2
    record = open_controlplane().configs.get_record(tenant, "radist")
    assert record.config.company_id == 42 and record.version == 1


def test_unparseable_document_error_does_not_echo_content(cli_env: str, tenant: str):
    result = synkro("config", "set", tenant, "gemini", "-f", "-", input=f'{{"api_key": "{GEMINI_KEY}"')
    assert result.exit_code == 2
    assert "line" in result.stderr and GEMINI_KEY not in result.output


def test_secrets_encrypted_at_rest_and_absent_from_audit_and_logs(
    cli_env: str, tenant: str, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    outputs = []
    for kind, doc in (
        ("telegram", {"bot_token": BOT_TOKEN, "chat_id": -1}),
        ("radist", {"api_key": RADIST_KEY, "company_id": 7, "connection_ids": [1, 2]}),
        ("gemini", {"api_key": GEMINI_KEY}),
        (
            "amocrm",
            {
                "subdomain": "acme",
                "client_id": "c",
                "redirect_uri": "https://e.com",
                "client_secret": AMO_CLIENT_SECRET,
                "refresh_token": AMO_REFRESH,
            },
        ),
    ):
        result = synkro("--debug", "config", "set", tenant, kind, "-f", "-", input=json.dumps(doc))
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    outputs.append(synkro("--debug", "config", "show", tenant).output)
    outputs.append(synkro("config", "show", tenant, "--json").output)
    outputs.append(synkro("audit", "list", "--tenant", tenant, "--json").output)
    outputs.append(synkro("tenant", "show", tenant, "--json").output)

    with psycopg.connect(cli_env) as conn:
        rows = conn.execute(
            "select c.public::text, c.secrets_encrypted from synkro.integration_configs c "
            "join synkro.tenants t on t.id = c.tenant_id where t.slug = %s",
            (tenant,),
        ).fetchall()
        audit = conn.execute(
            "select details::text from synkro.audit_log where tenant = %s", (tenant,)
        ).fetchall()
    assert len(rows) == 4 and all(encrypted for _, encrypted in rows)
    stored = " ".join(f"{public} {encrypted}" for public, encrypted in rows)
    audit_text = " ".join(row[0] for row in audit)
    for secret in ALL_SECRETS:
        assert secret not in stored
        assert secret not in audit_text
        assert secret not in caplog.text
        assert all(secret not in output for output in outputs)
        assert secret not in repr(open_controlplane().configs.list_records(tenant))
    assert "••••" + BOT_TOKEN[-4:] in outputs[5]


# -- settings ------------------------------------------------------------------------------------


def test_settings_set_and_show(cli_env: str, tenant: str, tmp_path: Path):
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text(
        "criteria:\n  - key: greeting\n    title: Приветствие\n"
        "    weight: 100\n    description: Поздоровался\n"
    )
    result = synkro(
        "settings",
        "set",
        tenant,
        "run_time=21:30",
        "min_dialogs=3",
        "schedule_enabled=false",
        "phone_region=kz",
        "mode=radist_only",
        f"rubric=@{rubric}",
        "context_messages=0",
        "risky_dialogs_limit=2",
        "stale_after_hours=48",
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(synkro("settings", "show", tenant, "--json").stdout)
    assert shown["run_time"] == "21:30" and shown["day_boundary"] == "22:01"
    assert shown["min_dialogs"] == 3 and shown["schedule_enabled"] is False
    assert shown["phone_region"] == "KZ" and shown["mode"] == "radist_only"
    assert shown["rubric"]["criteria"][0]["key"] == "greeting" and shown["rubric_version"] == 1
    assert shown["rubric"]["criteria"][0]["weight"] == 100
    assert (shown["forced_lookback_days"], shown["forced_max_window_hours"]) == (3, 24)
    assert (shown["followup_window_minutes"], shown["mask_pii"], shown["language"]) == (60, True, "ru")
    assert (shown["context_messages"], shown["risky_dialogs_limit"], shown["stale_after_hours"]) == (0, 2, 48)
    assert synkro("settings", "show", tenant).exit_code == 0


@pytest.mark.parametrize(
    "assignment",
    [
        "run_time=25:00",
        "day_boundary=10pm",
        "mode=crm",
        "min_dialogs=-1",
        "colour=red",
        "phone_region=XX",
        "forced_lookback_days=0",
        "rubric_version=7",
        "risky_dialogs_limit=-1",
        "context_messages=51",
        "stale_after_hours=0",
        "novalue",
    ],
)
def test_invalid_settings_exit_2_and_write_nothing(cli_env: str, tenant: str, assignment: str):
    before = json.loads(synkro("settings", "show", tenant, "--json").stdout)
    result = synkro("settings", "set", tenant, "min_dialogs=5", assignment)
    assert result.exit_code == 2, result.output
    assert json.loads(synkro("settings", "show", tenant, "--json").stdout) == before


# -- audit, errors, debug -----------------------------------------------------------------------


def test_every_change_is_audited_with_actor(cli_env: str, tenant: str):
    _set(tenant, "gemini", {"api_key": GEMINI_KEY})
    synkro("settings", "set", tenant, "gemini_rpm=5")
    synkro("tenant", "pause", tenant)
    entries = json.loads(synkro("audit", "list", "--tenant", tenant, "--json").stdout)
    assert [e["action"] for e in entries] == [
        "tenant.set_status",
        "settings.update",
        "config.set",
        "tenant.create",
    ]
    assert {e["actor"] for e in entries} == {"tester@example.com"}
    assert entries[2]["details"]["changed_fields"] == ["api_key"]
    assert synkro("audit", "list").exit_code == 0


def test_synkro_actor_is_ignored_unless_it_names_a_super_admin(
    cli_env: str, tenant: str, monkeypatch: pytest.MonkeyPatch
):
    import getpass

    monkeypatch.setenv("SYNKRO_ACTOR", "ceo@example.com")  # anyone can set a variable
    synkro("settings", "set", tenant, "gemini_rpm=7")
    entries = json.loads(synkro("audit", "list", "--tenant", tenant, "--json").stdout)
    assert entries[0]["action"] == "settings.update" and entries[0]["actor"] == getpass.getuser()


def test_errors_are_one_line_unless_debug(cli_env: str):
    plain = synkro("tenant", "show", "missingtenant")
    assert plain.exit_code == 2
    assert plain.stderr.strip() == "error: tenant 'missingtenant' not found"
    debug = synkro("--debug", "tenant", "show", "missingtenant")
    assert debug.exit_code != 0 and debug.exception is not None  # re-raised for the traceback


def test_console_script_runs_as_a_subprocess(cli_env: str):
    """The installed `synkro` script: bad input is exit 2 and one line, no traceback."""
    exe = Path(sys.executable).with_name("synkro")
    bad = subprocess.run(
        [str(exe), "tenant", "create", "BAD", "--name", "x"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert bad.returncode == 2, bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


# -- key file and rotation -----------------------------------------------------------------------


def test_key_file_is_created_once_with_0600(cli_env: str, tenant: str):
    _set(tenant, "gemini", {"api_key": GEMINI_KEY})
    key_file = Path(os.environ["SYNKRO_HOME"]) / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_bytes()
    _set(tenant, "telegram", {"bot_token": BOT_TOKEN, "chat_id": 5})
    assert key_file.read_bytes() == first


def test_rotation_with_key_file_keeps_every_secret_readable(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SYNKRO_HOME", str(tmp_path))
    monkeypatch.delenv("SYNKRO_SECRET_KEY", raising=False)
    with fresh_database(database_url) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        slugs = [new_slug(), new_slug()]
        for slug in slugs:
            assert synkro("tenant", "create", slug, "--name", "R").exit_code == 0
            _set(slug, "telegram", {"bot_token": BOT_TOKEN, "chat_id": 1})
            _set(slug, "gemini", {"api_key": GEMINI_KEY})
        key_file = tmp_path / "secret.key"
        old_key = key_file.read_bytes().strip()
        before = {
            r[0]: r[1]
            for r in psycopg.connect(url)
            .execute("select id, secrets_encrypted from synkro.integration_configs")
            .fetchall()
        }

        result = synkro("secrets", "rotate")
        assert result.exit_code == 0, result.output
        assert "re-encrypted 4" in result.output

        new_keys = key_file.read_bytes().split()
        assert new_keys and old_key not in new_keys and stat.S_IMODE(key_file.stat().st_mode) == 0o600
        after = {
            r[0]: r[1]
            for r in psycopg.connect(url)
            .execute("select id, secrets_encrypted from synkro.integration_configs")
            .fetchall()
        }
        assert before.keys() == after.keys() and all(before[i] != after[i] for i in before)
        for slug in slugs:
            cp = open_controlplane()
            assert cp.configs.get_config(slug, "telegram").bot_token.get_secret_value() == BOT_TOKEN
            assert cp.configs.get_config(slug, "gemini").api_key.get_secret_value() == GEMINI_KEY

        # The old key alone no longer decrypts anything: the rotation really happened.
        key_file.write_bytes(old_key + b"\n")
        assert synkro("config", "show", slugs[0], "telegram").exit_code == 1
        key_file.write_bytes(b"\n".join(new_keys) + b"\n")
        assert json.loads(synkro("secrets", "status", "--json").stdout)["configs_with_secrets"] == 4


def test_rotation_with_env_keys(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("SYNKRO_HOME", str(tmp_path))
    monkeypatch.setenv("SYNKRO_SECRET_KEY", old)
    with fresh_database(database_url) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        slug = new_slug()
        assert synkro("tenant", "create", slug, "--name", "E").exit_code == 0
        _set(slug, "radist", {"api_key": RADIST_KEY})

        single = synkro("secrets", "rotate")
        assert single.exit_code == 0 and "SYNKRO_SECRET_KEY=<new>,<old>" in single.output.replace("\n", "")
        assert old not in single.output and new not in single.output

        monkeypatch.setenv("SYNKRO_SECRET_KEY", f"{new},{old}")
        assert synkro("secrets", "rotate").exit_code == 0
        monkeypatch.setenv("SYNKRO_SECRET_KEY", new)  # old key retired
        config = open_controlplane().configs.get_config(slug, "radist")
        assert config.api_key.get_secret_value() == RADIST_KEY
        assert not (tmp_path / "secret.key").exists()

        monkeypatch.setenv("SYNKRO_SECRET_KEY", "not-a-fernet-key")
        bad = synkro("config", "show", slug)
        assert bad.exit_code == 1 and "not-a-fernet-key" not in bad.output
