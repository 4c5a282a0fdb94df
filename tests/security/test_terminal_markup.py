"""Defect 7: a Telegram chat title rendered by `synkro check` became a clickable terminal link
(rich markup). Text from an API or a customer is now printed with markup off."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from sandbox.server import SandboxServer
from synkro.controlplane import open_controlplane

SYNKRO = Path(sys.executable).with_name("synkro")
TITLE = "[link=https://evil.example/phish]Sales team[/link] [bold red]URGENT[/]"
OSC8 = "\x1b]8;"  # a terminal hyperlink


def _terminal(*args: str) -> str:
    """Run the real CLI as a colour terminal would see it (rich emits links and styles)."""
    env = os.environ.copy() | {"FORCE_COLOR": "1", "COLUMNS": "300", "TERM": "xterm-256color"}
    run = subprocess.run([str(SYNKRO), *args], capture_output=True, text=True, timeout=120, env=env)
    return run.stdout + run.stderr


def test_a_chat_title_with_markup_prints_as_text(cli_env: str, sandbox: SandboxServer):
    cp = open_controlplane()
    slug = "mk" + uuid.uuid4().hex[:8]
    cp.tenants.create(slug, "Markup", actor="test")
    chat_id = -random.randint(4_000_000_000, 4_999_999_999)
    payload = {"chat_id": chat_id, "type": "group", "title": TITLE}
    httpx.post(f"{sandbox.urls.control}/telegram/chats", json=payload).raise_for_status()
    cp.configs.set_config(slug, "telegram", sandbox.info()["telegram"] | {"chat_id": chat_id}, actor="test")
    output = _terminal("check", slug, "telegram")
    assert "evil.example" in output  # the title is shown …
    assert OSC8 not in output  # … but never as a link
    assert "[link=https://evil.example/phish]" in output


def test_a_tenant_name_with_markup_prints_as_text(cli_env: str):
    slug = "mk" + uuid.uuid4().hex[:8]
    output = _terminal("tenant", "create", slug, "--name", TITLE)
    assert OSC8 not in output and "[link=https://evil.example/phish]" in output
    output = _terminal("tenant", "show", slug)
    assert OSC8 not in output and "[bold red]URGENT[/]" in output
