"""`synkro db …`: the installation database (embedded by default, DATABASE_URL when set)."""

from __future__ import annotations

import typer

from synkro import db
from synkro.cli.common import console, styled
from synkro.db import embedded

app = typer.Typer(help="The installation's Postgres: embedded server by default, DATABASE_URL when set.")


@app.command("status")
def status_cmd() -> None:
    """Show which database is used and whether the embedded server runs."""
    if not db.uses_embedded():
        url = db.database_url()
        console.print(styled("DATABASE_URL is set: ", (db.masked_url(url), "bold")))
        try:
            with db.connect(url, connect_timeout=5) as conn:
                version = conn.execute("show server_version").fetchone()[0]
            console.print(f"reachable, PostgreSQL {version}")
        except Exception as exc:  # a status command reports, it does not crash
            console.print(styled(("not reachable:", "red"), f" {type(exc).__name__}"))
            raise typer.Exit(1) from None
        return
    current = embedded.status()
    if current.running:
        console.print(f"embedded Postgres running: pid {current.pid}, 127.0.0.1:{current.port}")
    else:
        console.print("embedded Postgres stopped")
    console.print(f"data directory: {current.pgdata}")


@app.command("start")
def start_cmd() -> None:
    """Start the embedded server (no-op when DATABASE_URL is set or it already runs)."""
    if not db.uses_embedded():
        console.print("DATABASE_URL is set; nothing to start.")
        return
    current = embedded.start()
    db.ensure_database(db.database_url())
    console.print(f"embedded Postgres running on 127.0.0.1:{current.port} (pid {current.pid})")


@app.command("stop")
def stop_cmd() -> None:
    """Stop the embedded server cleanly."""
    if not db.uses_embedded():
        console.print("DATABASE_URL is set; the embedded server is not used.")
        return
    stopped = embedded.stop()
    console.print("embedded Postgres stopped" if stopped else "embedded Postgres was not running")


@app.command("url")
def url_cmd() -> None:
    """Print the database URL (any password masked)."""
    typer.echo(db.masked_url(db.database_url()))


@app.command("migrate")
def migrate_cmd() -> None:
    """Apply pending control-plane migrations now and print the revision.

    Commands migrate on first use anyway; this exists for deploys that want the schema change to
    happen at a chosen moment (and fail there, visibly) rather than inside the first real command.
    """
    from synkro.controlplane.migrate import current_revision, migrate

    url = db.database_url()
    before = current_revision(url)
    migrate(url, force=True)
    after = current_revision(url)
    if before == after:
        console.print(styled("schema synkro is up to date at revision ", (after, "bold")), highlight=False)
    else:
        console.print(
            styled(f"schema synkro migrated: {before or '(empty)'} → ", (after, "bold")), highlight=False
        )
