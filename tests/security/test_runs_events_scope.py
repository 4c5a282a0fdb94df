"""`synkro runs SLUG --events ID` shows a run's events only when the run belongs to SLUG."""

from __future__ import annotations

import os

from synkro.controlplane import open_controlplane
from tests.controlplane_helpers import new_slug, synkro


def test_events_of_another_tenants_run_are_not_shown(cli_env: str) -> None:
    mine, theirs = new_slug(), new_slug()
    for slug in (mine, theirs):
        assert synkro("tenant", "create", slug, "--name", slug).exit_code == 0
    cp = open_controlplane(os.environ["DATABASE_URL"])
    run = cp.jobs.create_run(theirs, "forced_report", "manual", f"scope-{theirs}")
    cp.jobs.add_event(run.id, "their private step detail", step="amocrm")

    own = synkro("runs", theirs, "--events", str(run.id))
    assert own.exit_code == 0 and "their private step detail" in own.output

    peek = synkro("runs", mine, "--events", str(run.id))
    assert peek.exit_code != 0
    assert "their private step detail" not in peek.output
    assert f"job run {run.id} not found for tenant {mine}" in peek.output
