"""Helpers of the end-to-end tests: a tenant on the sandbox, runs through the product's own paths,
and read-backs of what the Gemini and Telegram emulators received.

Why a helper module: the forced-report tests drive one expensive full chain and several cheap
partial re-runs; both must go through the same run path the product uses (job_runs row, the
instance's run queue, the daemon, the code server), not through shortcuts that would hide bugs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sandbox.server import SandboxServer
from synkro.controlplane import ControlPlane
from synkro.controlplane.jobs import SUCCEEDED_STATUSES
from synkro.paths import REPO_ROOT
from synkro.windows import Window

SYNKRO = Path(sys.executable).parent / "synkro"
PHONE_RE = re.compile(r"(?<![\d.:])\+?\d[\d\s\-()]{8,}\d(?![\d.:])")
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


@dataclass
class E2ETenant:
    """A tenant configured against the session sandbox, with its own Telegram chat."""

    slug: str
    cp: ControlPlane
    sandbox: SandboxServer
    chat_id: int
    env: dict[str, str]
    window: Window | None = None
    first_run_id: int | None = None
    first_run_output: str = ""
    gemini_before: int = 0
    notes: dict[str, Any] = field(default_factory=dict)
    services: Any = None  # tests.fixtures.services.DagsterServices, for tests that steer sensors

    @property
    def control(self) -> str:
        return self.sandbox.urls.control


def control_get(tenant: E2ETenant, path: str, **params: Any) -> Any:
    response = httpx.get(f"{tenant.control}{path}", params=params or None, timeout=10)
    response.raise_for_status()
    return response.json()


def control_post(tenant: E2ETenant, path: str, payload: dict[str, Any]) -> Any:
    response = httpx.post(f"{tenant.control}{path}", json=payload, timeout=10)
    response.raise_for_status()
    return response.json()


def new_private_chat(control_url: str) -> int:
    """A private chat whose user pressed Start, unique to this test run."""
    chat_id = 710_000_000 + uuid.uuid4().int % 10_000_000
    httpx.post(
        f"{control_url}/telegram/chats",
        json={"chat_id": chat_id, "type": "private", "first_name": "E2E Owner", "started": True},
        timeout=10,
    ).raise_for_status()
    return chat_id


def telegram_messages(tenant: E2ETenant, chat_id: int | None = None) -> list[dict[str, Any]]:
    """What Telegram received in a chat, in order (the sandbox's log of sent messages)."""
    chat = tenant.chat_id if chat_id is None else chat_id
    return control_get(tenant, "/telegram/messages", chat_id=str(chat))["messages"]


def gemini_requests(tenant: E2ETenant) -> list[dict[str, Any]]:
    return control_get(tenant, "/gemini/requests")["requests"]


def generate_calls(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in requests if r["path"].endswith(":generateContent")]


def request_texts(request: dict[str, Any]) -> list[str]:
    """Every text part of a generateContent body: system instruction and contents."""
    body = request.get("body") or {}
    texts: list[str] = []
    if not isinstance(body, dict):
        return [str(body)]
    blocks = list(body.get("contents") or [])
    system = body.get("systemInstruction") or body.get("system_instruction")
    if system:
        blocks.append(system)
    for block in blocks:
        for part in block.get("parts") or []:
            if part.get("text"):
                texts.append(part["text"])
    return texts


def synkro_cli(args: list[str], env: dict[str, str], timeout: float = 420) -> subprocess.CompletedProcess:
    """`synkro ARGS` as an operator runs it, in its own process."""
    return subprocess.run(
        [str(SYNKRO), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_assets(
    tenant: E2ETenant,
    window: Window,
    asset_keys: list[list[str]] | None,
    *,
    resend: bool = False,
) -> tuple[int, int]:
    """Run (part of) the forced_report chain for a window through the product's run path.

    `launch_run` opens the job_runs row and submits the Dagster run to the instance's queue, as
    `synkro run` does; the daemon launches it on the code server, and the row is followed to its
    end by the same watcher the CLI uses. Returns (0 if it succeeded, with warnings or not, else 1, row id).
    """
    import dagster as dg

    from synkro.orchestration import services
    from synkro.orchestration.instance import open_instance
    from synkro.orchestration.launch import launch_run
    from synkro.orchestration.watch import wait_for_run

    instance = open_instance()
    launched = launch_run(
        tenant.cp,
        instance,
        services.up(),
        tenant.slug,
        "forced_report",
        trigger="manual",
        launched_by="test",
        window=window,
        resend=resend,
        assets=[dg.AssetKey(k) for k in asset_keys] if asset_keys else None,
    )
    row = wait_for_run(tenant.cp, instance, launched.job_run.id)
    return (0 if row.status in SUCCEEDED_STATUSES else 1), row.id


def child_env(database_url: str, dagster_home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "DAGSTER_HOME": str(dagster_home),
            "COLUMNS": "200",
            "NO_COLOR": "1",
            "TERM": "dumb",
        }
    )
    return env
