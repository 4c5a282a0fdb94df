"""Defect 1: a Supabase DSN with a bad percent-escape made psycopg quote the password, and that text
was printed by `synkro check`, stored as `last_error`, shown by `config show` and could reach run
events and reports. Now such a DSN is refused when saved (without quoting it), and every error text
shown or stored passes through the tenant's redactor."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import select

from synkro.controlplane import open_controlplane
from synkro.controlplane.tables import integration_configs, job_run_events, job_runs, reports
from synkro.redact import Redactor, for_tenant, redact_tokens
from tests.controlplane_helpers import new_slug, synkro

# '#' ends the URL's netloc for urllib, so the old redactor saw the password "pa" and masked nothing.
PASSWORD = "pa#ss%zzword-Very-Secret"
BAD_DSN = f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/postgres"
# Secret-shaped test values are assembled at run time, so no committed line looks like a real credential.
BOT_TOKEN = "123456789:" + "AAF-" + "secret" * 5 + "12"
GEMINI_SHAPED_KEY = "AIza" + "SyA1234567890" + "abcdefghijklmnopqrstuv"


@pytest.fixture
def tenant(cli_env: str) -> str:
    slug = new_slug("sec")
    assert synkro("tenant", "create", slug, "--name", "Sec").exit_code == 0
    return slug


def _store_unvalidated(slug: str, kind: str, secrets: dict[str, str]) -> None:
    """Store a config the way a version without today's validation did (the row a user already has)."""
    cp = open_controlplane()
    with cp.engine.begin() as conn:
        tenant_id = cp.tenants.id_of(conn, slug)
        conn.execute(
            integration_configs.insert().values(
                tenant_id=tenant_id,
                kind=kind,
                version=1,
                public={},
                secrets_encrypted=cp.box.encrypt(json.dumps(secrets)),
            )
        )


def test_bad_percent_escape_is_refused_at_save_without_quoting_the_password(tenant: str, tmp_path):
    document = tmp_path / "supabase.json"
    document.write_text(json.dumps({"database_url": BAD_DSN}))
    result = synkro("config", "set", tenant, "supabase", "--file", str(document))
    assert result.exit_code == 2
    assert "database_url" in result.output and "percent-escape" in result.output
    assert "zzword" not in result.output and PASSWORD not in result.output
    assert open_controlplane().configs.find_record(tenant, "supabase") is None  # nothing half-written


def test_psycopg_error_text_is_redacted_in_every_form(tenant: str):
    """The real psycopg message for the DSN quotes the password; the tenant's redactor removes it."""
    with pytest.raises(psycopg.Error) as caught:
        psycopg.connect(BAD_DSN)
    assert PASSWORD in str(caught.value)  # the library really quotes it
    redactor = Redactor([BAD_DSN])
    assert PASSWORD not in redactor(str(caught.value))
    encoded = "p%40ss%2Fword-Very-Secret"  # a valid DSN: libraries may print it decoded
    redactor = Redactor([f"postgresql://u:{encoded}@db.example.com:5432/postgres"])
    for form in (encoded, "p@ss/word-Very-Secret"):
        assert form not in redactor(f"connection for {form} failed")


def test_stored_error_texts_pass_through_the_redactor(tenant: str):
    """last_error, run errors, run events and report texts are stored with the tenant's secrets masked."""
    _store_unvalidated(tenant, "telegram", {"bot_token": BOT_TOKEN})
    cp = open_controlplane()
    decoded_leak = f"GET https://api.telegram.org/bot{BOT_TOKEN}/getMe failed"
    cp.configs.set_config_status(tenant, "telegram", "error", error=decoded_leak)
    run = cp.jobs.create_run(tenant, "load", "manual", new_slug("key"))
    cp.jobs.add_event(run.id, decoded_leak, level="error", step="load", data={"detail": decoded_leak})
    cp.jobs.finish_run(run.id, "failed", error=decoded_leak)
    now = datetime.now(UTC)
    report = cp.reports.create_draft(tenant, "daily", now - timedelta(days=1), now, body=decoded_leak)
    cp.reports.set_status(report.id, "failed", error=decoded_leak)
    with cp.engine.connect() as conn:
        stored = [
            " ".join(str(v) for v in conn.execute(select(*columns)).scalars().all())
            for columns in (
                [integration_configs.c.last_error],
                [job_runs.c.error],
                [job_run_events.c.message],
                [job_run_events.c.data],
                [reports.c.body],
                [reports.c.error],
            )
        ]
    for text in stored:
        assert "secretsecret" not in text
    assert "bot••••et12/getMe" in stored[0]  # still says what failed


def test_check_and_config_show_never_print_the_password(tenant: str):
    """A row saved before the validation existed: the check and `config show` say what is wrong, no more."""
    _store_unvalidated(tenant, "supabase", {"database_url": BAD_DSN})
    check = synkro("check", tenant, "supabase")
    assert check.exit_code == 2  # the stored config is refused as bad input, naming the field
    assert "database_url" in check.output and "percent-escape" in check.output
    assert "zzword" not in check.output
    show = synkro("config", "show", tenant)
    assert "zzword" not in show.output


def test_token_shapes_are_masked_without_knowing_the_tenant():
    text = (
        f"https://api.telegram.org/bot{BOT_TOKEN}/sendMessage key={GEMINI_SHAPED_KEY} "
        "Authorization: Bearer abcdefghijklmnop postgresql://loader:hunter2hunter2@db:5432/x "
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2ln"
    )
    cleaned = redact_tokens(text)
    for leaked in ("secretsecret", "AIzaSyA123", "abcdefghijkl", "hunter2", "eyJzdWIiOiIxMjM0"):
        assert leaked not in cleaned
    assert "postgresql://loader:••••@db:5432/x" in cleaned


def test_redactor_of_an_unknown_tenant_still_masks_tokens(cli_env: str):
    redactor = for_tenant(open_controlplane(), "nosuchtenant")
    assert "secretsecret" not in redactor(f"bot{BOT_TOKEN}")
