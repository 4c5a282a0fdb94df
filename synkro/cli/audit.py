"""`synkro audit list`: the append-only record of every change."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from synkro.cli.common import console, controlplane, print_json

app = typer.Typer(help="The audit log (append-only).")


@app.command("list")
def list_cmd(
    tenant: str | None = typer.Option(None, "--tenant", help="Only entries for this tenant."),
    action: str | None = typer.Option(None, "--action", help="Only this action, e.g. config.set."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List audit entries, newest first."""
    entries = controlplane().audit.list(tenant=tenant, action=action, limit=limit)
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    table = Table("at", "actor", "tenant", "action", "details")
    for e in entries:
        table.add_row(
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.actor,
            e.tenant or "",
            e.action,
            json.dumps(e.details, ensure_ascii=False),
        )
    console.print(table)
