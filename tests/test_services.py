"""`synkro up | down | services | dev` against the test session's real services.

Why: every run command relies on `up` reusing what runs (not starting a second code server), and
`make dev` must end on SIGTERM or SIGINT with what it started stopped — the old `dagster dev`
child ignored both when started from a non-interactive shell.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time

import httpx

from synkro.ports import free_port, port_is_free
from tests.e2e_helpers import SYNKRO, synkro_cli
from tests.fixtures.services import DagsterServices


def test_up_reuses_the_running_services(dagster_services: DagsterServices) -> None:
    env = dagster_services.env()
    before = json.loads(synkro_cli(["services", "--json"], env, timeout=60).stdout)
    assert {s["name"] for s in before} >= {"code_server", "daemon"}
    again = synkro_cli(["up"], env, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "starting" not in again.stdout, again.stdout
    after = json.loads(synkro_cli(["services", "--json"], env, timeout=60).stdout)
    assert {s["name"]: s["pid"] for s in after} == {s["name"]: s["pid"] for s in before}


def test_dev_stops_what_it_started_on_sigterm_even_with_sigint_ignored(
    dagster_services: DagsterServices,
) -> None:
    env = dagster_services.env()
    port, web_port = free_port(), free_port()
    # As `make dev &` from a non-interactive shell starts it: SIGINT ignored.
    dev = subprocess.Popen(
        [str(SYNKRO), "dev", "--no-sandbox", "--port", str(port), "--web-port", str(web_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                ui = httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code
                portal = httpx.get(f"http://127.0.0.1:{web_port}/login", timeout=2).status_code
                if ui == portal == 200:
                    break
            except httpx.HTTPError:
                pass
            assert dev.poll() is None, dev.communicate()[0]
            time.sleep(0.5)
        else:
            raise AssertionError("the Dagster UI and the portal did not come up")
        dev.send_signal(signal.SIGTERM)
        output = dev.communicate(timeout=90)[0]
    finally:
        if dev.poll() is None:
            dev.kill()
    assert dev.returncode == 0, output
    # The portal's URL and a ready login (no demo tenant without the sandbox: the operator only).
    assert f"portal: http://127.0.0.1:{web_port}" in output, output
    assert "login operator@demo.synkro.local / demo-" in output, output
    assert port_is_free(web_port), "the portal still listens after SIGTERM"
    listed = {s["name"] for s in json.loads(synkro_cli(["services", "--json"], env, timeout=60).stdout)}
    assert "webserver" not in listed  # dev started it and stopped it
    assert {"code_server", "daemon"} <= listed  # they were up before dev and stay up
    try:
        httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2)
        raise AssertionError("the UI still answers after SIGTERM")
    except httpx.HTTPError:
        pass


def test_up_creates_every_pool_the_steps_claim(dagster_env: DagsterServices) -> None:
    """On a fresh instance, runs claiming a new pool together race to create its row and Dagster
    fails the losers; `up` creates the rows first, for exactly the pools the jobs use."""
    from synkro.orchestration import pools
    from synkro_dagster.definitions import defs

    job = defs.resolve_job_def("forced_report")
    claimed = {n.definition.pool for n in job.graph.node_dict.values() if n.definition.pool}
    assert claimed == set(pools.ALL)
    keys = set(dagster_env.instance().event_log_storage.get_concurrency_keys())
    assert keys >= set(pools.ALL)
