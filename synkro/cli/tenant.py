"""`synkro tenant …`: create, inspect, pause/resume/disable and delete tenants."""

from __future__ import annotations

import typer
from rich.table import Table

from synkro.cli.common import actor, console, controlplane, print_json, styled

app = typer.Typer(help="Tenants (client companies): create, list, show, pause, resume, disable, delete.")

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")


@app.command("create")
def create_cmd(
    slug: str = typer.Argument(
        ..., help="Immutable id: a lowercase letter, then 1-30 letters or digits; names the tenant's schemas."
    ),
    name: str = typer.Option(..., "--name", help="Display name."),
    timezone: str = typer.Option("Europe/Moscow", "--timezone", help="IANA timezone, e.g. Asia/Almaty."),
) -> None:
    """Create a tenant (with default runtime settings)."""
    from synkro.controlplane import validate_slug, validate_timezone

    validate_slug(slug)  # refuse bad input before touching the database
    validate_timezone(timezone)
    tenant = controlplane().tenants.create(slug, name, timezone, actor=actor())
    console.print(styled("created tenant ", (tenant.slug, "bold"), f" ({tenant.name}, {tenant.timezone})"))


@app.command("list")
def list_cmd(
    status: str | None = typer.Option(None, "--status", help="Only tenants with this status."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List tenants."""
    tenants = controlplane().tenants.list(status=status)
    if as_json:
        print_json([t.to_dict() for t in tenants])
        return
    table = Table("slug", "name", "status", "timezone", "created")
    for t in tenants:
        table.add_row(t.slug, t.name, t.status, t.timezone, t.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


@app.command("show")
def show_cmd(slug: str, as_json: bool = JSON_OPTION) -> None:
    """Show a tenant with its integration config statuses and runtime settings."""
    cp = controlplane()
    tenant = cp.tenants.get(slug)
    configs = [
        {"kind": r.kind, "status": r.status, "version": r.version, "last_error": r.last_error}
        for r in cp.configs.list_records(slug)
    ]
    settings = cp.settings.get_settings(slug).model_dump(mode="json")
    data = tenant.to_dict() | {"configs": configs, "settings": settings}
    if as_json:
        print_json(data)
        return
    console.print(
        styled((tenant.slug, "bold"), f" {tenant.name}  status={tenant.status}  timezone={tenant.timezone}")
    )
    table = Table("kind", "status", "version", "last error")
    for c in configs:
        table.add_row(c["kind"], c["status"], str(c["version"]), c["last_error"] or "")
    console.print(table)
    for key, value in settings.items():
        if key != "rubric":
            console.print(f"  {key} = {value}", highlight=False)


def _set_status(slug: str, status: str) -> None:
    tenant = controlplane().tenants.set_status(slug, status, actor=actor())
    console.print(styled("tenant ", (tenant.slug, "bold"), f" is now {tenant.status}"))


@app.command("pause")
def pause_cmd(slug: str) -> None:
    """Pause scheduled runs (status paused)."""
    _set_status(slug, "paused")


@app.command("resume")
def resume_cmd(slug: str) -> None:
    """Resume a paused or disabled tenant (status active)."""
    _set_status(slug, "active")


@app.command("disable")
def disable_cmd(slug: str) -> None:
    """Disable a tenant (no runs, no deliveries)."""
    _set_status(slug, "disabled")


@app.command("update")
def update_cmd(
    slug: str,
    name: str | None = typer.Option(None, "--name"),
    timezone: str | None = typer.Option(None, "--timezone"),
) -> None:
    """Change a tenant's name or timezone (the slug never changes)."""
    tenant = controlplane().tenants.update(slug, name=name, timezone=timezone, actor=actor())
    console.print(styled("tenant ", (tenant.slug, "bold"), f": {tenant.name}, {tenant.timezone}"))


@app.command("delete")
def delete_cmd(
    slug: str,
    yes: bool = typer.Option(False, "--yes", help="Confirm: drop the tenant's schemas and rows."),
) -> None:
    """Delete a tenant: drops its schemas (synkro.tenancy names them) and its control-plane rows."""
    from synkro.controlplane import tenant_schemas

    schemas = tenant_schemas(slug)
    cp = controlplane()
    cp.tenants.get(slug)
    if not yes:
        typer.confirm(f"Delete tenant {slug} and drop schemas {', '.join(schemas)}?", abort=True)
    warnings = cp.tenants.delete(slug, actor=actor())
    console.print(styled("deleted tenant ", (slug, "bold"), f"; dropped schemas {', '.join(schemas)}"))
    for warning in warnings:
        console.print(styled(("warning:", "yellow"), f" {warning}"))
