"""Acceptance: ingestion through the product path, as an operator runs it.

`synkro amocrm connect` with a fresh authorization code, then `synkro load SLUG` twice in their own
processes (job_runs row, the run queue of the test session's Dagster services, dlt into the test database)
against a sandbox of its own (`small` scenario). The first load prints the row counts the scenario
implies; the second moves nothing new.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator

import httpx
import pytest

from sandbox.amocrm import REDIRECT_URI
from sandbox.server import SandboxServer
from synkro.controlplane import ControlPlane, open_controlplane
from tests.e2e_helpers import SYNKRO, synkro_cli
from tests.fixtures.services import DagsterServices

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def own_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(seed=4242, scenario="small") as server:
        yield server


@pytest.fixture
def setup(
    own_sandbox: SandboxServer, dagster_env: DagsterServices
) -> tuple[ControlPlane, str, dict[str, str]]:
    cp = open_controlplane()
    slug = "acc" + uuid.uuid4().hex[:6]
    cp.tenants.create(slug, "Acceptance", "Europe/Moscow", actor="test")
    return cp, slug, dagster_env.env()


def warehouse_counts(output: str) -> dict[str, int]:
    """The `<slug>_raw` table `synkro load` prints: table name and rows in the warehouse."""
    return {m[1]: int(m[2]) for m in re.finditer(r"(amocrm_\w+|radist_\w+)\s*│\s*(\d+)", output)}


def loaded_rows(output: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"(amocrm|radist) loaded (\d+) rows", output)}


def test_connect_then_load_twice(own_sandbox: SandboxServer, setup: tuple[ControlPlane, str, dict]) -> None:
    cp, slug, env = setup
    info = own_sandbox.info()
    code = httpx.post(f"{own_sandbox.urls.control}/amocrm/auth_codes", timeout=10).json()["auth_code"]
    amo = info["amocrm"]
    connect = ["amocrm", "connect", slug, "--subdomain", amo["subdomain"], "--base-url", amo["base_url"]]
    connect += ["--client-id", amo["client_id"], "--redirect-uri", REDIRECT_URI, "--code-stdin"]
    proc = subprocess.run(
        [str(SYNKRO), *connect],
        input=f"{amo['client_secret']}\n{code}\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cp.configs.set_config(slug, "radist", info["radist"], actor="test")

    first = synkro_cli(["load", slug], env)
    out = first.stdout + first.stderr
    assert first.returncode == 0, out
    sc = own_sandbox.state.scenario
    counts = warehouse_counts(out)
    assert counts["amocrm_leads"] == len(sc.leads)
    assert counts["amocrm_contacts"] == len(sc.contacts)
    assert counts["amocrm_contact_phones"] == sum(len(c.phones) for c in sc.contacts)
    assert counts["radist_chats"] > 0 and counts["radist_messages"] > 0
    moved = loaded_rows(out)
    assert moved["amocrm"] > 0 and moved["radist"] > 0
    assert code not in out and amo["client_secret"] not in out

    second = synkro_cli(["load", slug], env)
    out2 = second.stdout + second.stderr
    assert second.returncode == 0, out2
    assert loaded_rows(out2) == {"amocrm": 0, "radist": 0}
    assert warehouse_counts(out2) == counts
    runs = [r for r in cp.jobs.list_runs(slug) if r.job == "ingestion"]
    assert len(runs) == 2 and all(r.status == "succeeded" for r in runs)
