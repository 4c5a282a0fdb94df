"""`synkro up | down | services`: the local services that runs need, in the background.

`synkro run|load|transform` call `up` themselves; these commands are for starting the UI, for
seeing what runs where, and for stopping it all cleanly.
"""

from __future__ import annotations

import typer
from rich.table import Table

from synkro.cli.common import console, print_json


def _say(line: str) -> None:
    console.print(line, highlight=False)


def up(
    ui: bool = typer.Option(False, "--ui", help="Also serve the Dagster UI."),
    port: int = typer.Option(3000, "--port", help="Dagster UI port (with --ui)."),
) -> None:
    """Start the embedded Postgres, the Dagster code server and daemon (and UI), or reuse them."""
    from synkro.db import database_url, masked_url
    from synkro.orchestration import services

    console.print(f"database: {masked_url(database_url())}", highlight=False)
    running = services.up(ui=ui, ui_port=port, say=_say)
    for service in running.running.values():
        where = f" on 127.0.0.1:{service.port}" if service.port else ""
        console.print(f"{service.name.replace('_', ' '):<12} up (pid {service.pid}){where}", highlight=False)
    if running.ui_url:
        console.print(f"Dagster UI: {running.ui_url}", highlight=False)


def down(
    db: bool = typer.Option(False, "--db", help="Also stop the embedded Postgres."),
) -> None:
    """Stop the local Dagster services (SIGTERM, then SIGKILL after 30 s)."""
    from synkro.db import embedded, uses_embedded
    from synkro.orchestration import services

    stopped = services.down(say=_say)
    console.print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"), highlight=False)
    if db and uses_embedded():
        embedded.stop()
        console.print("embedded Postgres stopped")


def services_status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Which local services run, their pids, ports and logs."""
    from synkro.orchestration import services

    current = services.status()
    rows = list(current.running.values()) if current else []
    if as_json:
        print_json([vars(s) for s in rows])
        return
    if not rows:
        console.print("no local services are running (`synkro up` starts them)")
        raise typer.Exit(1)
    table = Table("service", "pid", "port", "log")
    for s in rows:
        table.add_row(s.name, str(s.pid), str(s.port or ""), s.log)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(down)
    app.command("services")(services_status)
