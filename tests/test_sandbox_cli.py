"""`synkro sandbox serve` and the demo's `SandboxProcess`: the sandbox run as its own process."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from sandbox.cli import app as sandbox_app
from sandbox.cli import parse_faults
from synkro.sandbox_process import FAULTS_ENV, SandboxError, SandboxProcess
from tests.controlplane_helpers import synkro

SYNKRO = str(Path(sys.executable).parent / "synkro")
# Wide enough that typer's error panel keeps a message on one line.
WIDE = {**os.environ, "COLUMNS": "200"}


def _wait_for(path: Path, process: subprocess.Popen[str], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no info file"
        time.sleep(0.05)
    return json.loads(path.read_text())


def test_serve_writes_the_info_file_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    info_file = tmp_path / "sandbox.json"
    process = subprocess.Popen(
        [SYNKRO, "sandbox", "serve", "--port", "0", "--info-file", str(info_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=WIDE,
    )
    try:
        info = _wait_for(info_file, process)
        control = info["amocrm"]["base_url"].removesuffix("/amocrm") + "/_sandbox"
        assert httpx.get(f"{control}/info", timeout=5).json() == info
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=15)
    finally:
        process.kill()
    # exec: the pid is the sandbox's, so SIGTERM reached uvicorn, which shut down and re-raised it.
    assert process.returncode == -signal.SIGTERM
    assert "Synkro sandbox is ready" in out


def test_info_file_alone_is_enough_for_the_documented_code_exchange(tmp_path: Path) -> None:
    """docs/apis/amocrm.md: `POST {account}/oauth2/access_token` with client_id, client_secret,
    grant_type, code and the integration's redirect_uri; a refresh sends redirect_uri again. Every
    value comes from the info file of a real `synkro sandbox serve`, including a consent-page code
    (bound to the registered redirect URI)."""
    info_file = tmp_path / "sandbox.json"
    process = subprocess.Popen(
        [SYNKRO, "sandbox", "serve", "--port", "0", "--info-file", str(info_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=WIDE,
    )
    try:
        amo = _wait_for(info_file, process)["amocrm"]
        token_url = f"{amo['base_url']}/oauth2/access_token"
        client = {"client_id": amo["client_id"], "client_secret": amo["client_secret"]}
        with httpx.Client(timeout=10) as http:
            exchange = {**client, "grant_type": "authorization_code", "redirect_uri": amo["redirect_uri"]}
            pair = http.post(token_url, json={**exchange, "code": amo["auth_code"]})
            assert pair.status_code == 200, pair.text
            assert pair.json()["token_type"] == "Bearer" and pair.json()["access_token"]
            refresh = {**client, "grant_type": "refresh_token", "redirect_uri": amo["redirect_uri"]}
            renewed = http.post(token_url, json={**refresh, "refresh_token": pair.json()["refresh_token"]})
            assert renewed.status_code == 200, renewed.text
            del exchange["redirect_uri"]  # what a client built from the file got before it named one
            refused = http.post(token_url, json={**exchange, "code": amo["auth_code"]})
            assert refused.status_code == 400 and "redirect_uri" in refused.json()["hint"]

            consent = http.post(
                f"{amo['oauth_url']}/oauth",
                data={"decision": "allow", "client_id": amo["client_id"], "state": "s1"},
            )
            assert consent.status_code == 302
            assert consent.headers["location"].startswith(amo["redirect_uri"] + "?")
            code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
            exchange["redirect_uri"] = amo["redirect_uri"]
            bound = http.post(token_url, json={**exchange, "code": code})
            assert bound.status_code == 200, bound.text
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)


@pytest.mark.parametrize(
    ("args", "env_faults", "named"),
    [
        (["--fault", "amocrm.no_such_knob=1"], None, "no_such_knob"),
        (["--fault", "crm.latency_ms=1"], None, "'crm'"),
        (["--fault", "radist.latency_ms=slow"], None, "radist.latency_ms expects a number"),
        (["--error-rate", "3"], None, "error_rate must be between 0 and 1"),
        (["--scenario", "huge"], None, "--scenario must be one of"),
        ([], '{"gemini": {"account_status": "gone"}}', "account_status must be one of"),
        ([], "[1, 2]", f"{FAULTS_ENV} must be a JSON object"),
        ([], "{not json", f"{FAULTS_ENV} is not valid JSON"),
    ],
)
def test_bad_faults_are_refused_with_exit_2_naming_the_problem(
    args: list[str], env_faults: str | None, named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env_faults:
        monkeypatch.setenv(FAULTS_ENV, env_faults)
    result = CliRunner().invoke(sandbox_app, ["serve", "--port", "0", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert named in result.stderr


def test_synkro_passes_the_sandbox_exit_code_and_error_through() -> None:
    result = subprocess.run(
        [SYNKRO, "sandbox", "serve", "--port", "0", "--fault", "amocrm.no_such_knob=1"],
        capture_output=True,
        text=True,
        env=WIDE,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "unknown fault setting 'no_such_knob'" in result.stderr


def test_env_faults_then_flags_merge_per_service() -> None:
    faults = parse_faults(
        ["amocrm.rate_limit_rps=none", "radist.burst_429=5", "telegram.filter_enabled=off"],
        '{"amocrm": {"latency_ms": 200}}',
    )
    assert faults == {
        "amocrm": {"latency_ms": 200, "rate_limit_rps": None},
        "radist": {"burst_429": 5},
        "telegram": {"filter_enabled": False},
    }


def test_sandbox_process_for_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    # A leftover fault variable from a `sandbox serve` session must not reach the demo's sandbox.
    monkeypatch.setenv(FAULTS_ENV, '{"amocrm": {"error_rate": 1.0}}')
    with SandboxProcess(scenario="small") as sandbox:
        info = sandbox.info()
        assert info["amocrm"]["base_url"] == f"{sandbox.urls.root}/amocrm"
        faults = httpx.get(f"{sandbox.urls.control}/faults", timeout=5).json()
        assert faults["amocrm"]["error_rate"] == 0.0
        process, folder = sandbox._process, sandbox._dir
    assert process is not None and process.returncode is not None
    assert folder is not None and not folder.exists()


def test_a_missing_sandbox_package_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "sandbox" else real_find_spec(name, *a)
    )
    result = synkro("sandbox", "serve", "--port", "0")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: the sandbox is not installed: install Synkro with its `sandbox` extra "
        "(make install, or pip install 'synkro[sandbox]')"
    ]
    with pytest.raises(SandboxError, match="not installed"):
        SandboxProcess().start()
