"""Defect 6: `synkro --debug` printed the bot token, because httpx and python-telegram-bot log the
request URLs (`/bot<token>/getMe`). Every log record of every library is now redacted in the CLI,
the Dagster code location and the web app (`synkro.logging_redaction`)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

from sandbox.server import SandboxServer
from synkro import logging_redaction
from synkro.controlplane import open_controlplane

SYNKRO = Path(sys.executable).with_name("synkro")


def _telegram_tenant(sandbox: SandboxServer) -> tuple[str, str]:
    cp = open_controlplane()
    slug = "dbg" + uuid.uuid4().hex[:8]
    cp.tenants.create(slug, "Debug", actor="test")
    info = sandbox.info()["telegram"]
    cp.configs.set_config(slug, "telegram", info, actor="test")
    return slug, info["bot_token"]


def test_debug_output_of_a_real_check_holds_no_token(cli_env: str, sandbox: SandboxServer):
    slug, token = _telegram_tenant(sandbox)
    run = subprocess.run(
        [str(SYNKRO), "--debug", "check", slug, "telegram"],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    output = run.stdout + run.stderr
    assert "getMe" in output, output[-2000:]  # the libraries did log their request URLs
    secret_part = token.split(":", 1)[1]
    assert secret_part not in output
    assert "••••" in output  # masked where it was, not dropped silently


def test_records_of_any_logger_are_redacted_also_with_args_and_tracebacks(cli_env: str, caplog):
    logging_redaction.install()
    token = "7000001:AAE-" + "x" * 32
    log = logging.getLogger("some.library")
    with caplog.at_level(logging.DEBUG):
        log.debug("GET %s", f"https://api.telegram.org/bot{token}/getUpdates")
        try:
            raise RuntimeError(f"failed https://api.telegram.org/bot{token}/sendMessage")
        except RuntimeError:
            log.exception("request failed")
    text = "\n".join(caplog.text.splitlines())
    assert "x" * 32 not in text
    assert "api.telegram.org/bot••••xxxx/getUpdates" in text


def test_a_decrypted_secret_without_a_known_shape_is_masked_in_logs(cli_env: str, caplog):
    """A Radist key has no recognisable shape: once the control plane decrypts it, logs mask it."""
    logging_redaction.install()
    cp = open_controlplane()
    slug = "dbg" + uuid.uuid4().hex[:8]
    cp.tenants.create(slug, "Debug", actor="test")
    key = "plainradistkey" + uuid.uuid4().hex
    cp.configs.set_config(slug, "radist", {"api_key": key, "company_id": 1}, actor="test")
    cp.configs.get_config(slug, "radist")
    with caplog.at_level(logging.INFO):
        logging.getLogger("httpx").info("HTTP Request: GET https://api.radist.online/?key=%s", key)
    assert key not in caplog.text and "••••" in caplog.text
