"""Defect 11 (part): a compose deployment with an empty SYNKRO_SECRET_KEY silently generated a key
in a non-persistent directory; dbt and other child processes inherited the master key. Now an empty
or (in a deployment) missing key stops the process, and children get a minimal environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import yaml
from cryptography.fernet import Fernet

from synkro.child_env import minimal_env
from synkro.modeling.runner import run_dbt

SYNKRO = Path(sys.executable).with_name("synkro")
INFRA = Path(__file__).resolve().parents[2] / "infra"


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SYNKRO), *args], capture_output=True, text=True, timeout=120, env=env)


def test_an_empty_key_is_refused_and_no_key_file_is_made(cli_env: str, tmp_path: Path):
    home = tmp_path / "fresh-home"
    env = os.environ.copy() | {"SYNKRO_HOME": str(home), "SYNKRO_SECRET_KEY": ""}
    run = _cli(env, "tenant", "list")
    assert run.returncode != 0
    assert "SYNKRO_SECRET_KEY is set but empty" in run.stderr
    assert not (home / "secret.key").exists()


def test_a_deployment_without_a_key_refuses_to_start(cli_env: str, tmp_path: Path):
    home = tmp_path / "container-home"
    env = {k: v for k, v in os.environ.items() if k != "SYNKRO_SECRET_KEY"}
    env |= {"SYNKRO_HOME": str(home), "SYNKRO_REQUIRE_SECRET_KEY": "1"}
    run = _cli(env, "tenant", "list")
    assert run.returncode != 0 and "SYNKRO_REQUIRE_SECRET_KEY" in run.stderr
    assert not (home / "secret.key").exists()
    # the Dagster code location fails at import, before serving anything
    code = subprocess.run(
        [sys.executable, "-c", "import synkro_dagster.definitions"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert code.returncode != 0 and "SYNKRO_SECRET_KEY is not set" in code.stderr


def test_the_image_and_compose_require_the_key():
    compose = yaml.safe_load((INFRA / "compose.yaml").read_text())
    env = compose["x-synkro-env"]
    assert env["SYNKRO_SECRET_KEY"].startswith("${SYNKRO_SECRET_KEY:?")  # compose refuses to start
    assert env["SYNKRO_REQUIRE_SECRET_KEY"] == "1"
    assert "SYNKRO_REQUIRE_SECRET_KEY=1" in (INFRA / "Dockerfile").read_text()


PROBE = """{% macro probe() %}
  {{ log("key=" ~ env_var("SYNKRO_SECRET_KEY", "<none>"), info=True) }}
  {{ log("dsn=" ~ env_var("DATABASE_URL", "<none>"), info=True) }}
  {{ log("password=" ~ env_var("SYNKRO_DBT_PASSWORD", "<none>"), info=True) }}
{% endmacro %}
"""


@pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL_IS_EXTERNAL")), reason="connects with the embedded server's trust auth"
)
def test_dbt_never_sees_the_master_key(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("SYNKRO_SECRET_KEY", key)
    monkeypatch.setenv("DATABASE_URL", database_url)
    project = tmp_path / "probe"
    (project / "macros").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        'name: probe\nversion: "1.0.0"\nprofile: synkro\nconfig-version: 2\nmacro-paths: ["macros"]\n'
    )
    (project / "macros" / "probe.sql").write_text(PROBE)
    parts = urlsplit(database_url)
    secret = "pw-" + key[:10]
    url = database_url.replace(parts.netloc, f"postgres:{quote(secret)}@{parts.hostname}:{parts.port}")
    run = run_dbt(["run-operation", "probe"], url, project_dir=project, target_path=tmp_path / "target")
    assert run.ok, run.log[-3000:]
    assert "key=<none>" in run.log and "dsn=<none>" in run.log
    assert f"password={secret}" in run.log  # what dbt needs still arrives
    assert key not in run.log


def test_minimal_env_keeps_the_basics_and_drops_every_secret():
    source = {
        "PATH": "/bin",
        "HOME": "/home/x",
        "LC_ALL": "C.UTF-8",
        "SYNKRO_SECRET_KEY": "k",
        "DATABASE_URL": "postgresql://a:b@h/d",
        "DAGSTER_PG_PASSWORD": "p",
        "GEMINI_API_KEY": "g",
        "DBT_TARGET_PATH": "/t",
    }
    env = minimal_env(prefixes=("DBT_",), names=("DATABASE_URL",), source=source)
    assert env == {"PATH": "/bin", "HOME": "/home/x", "LC_ALL": "C.UTF-8", "DBT_TARGET_PATH": "/t"}
