"""`synkro user …`: users and their roles (super_admin global; admin/viewer per tenant or global)."""

from __future__ import annotations

import typer
from rich.table import Table

from synkro.cli.common import actor, console, controlplane, print_json

app = typer.Typer(help="Users and roles: add, grant, revoke, list.")

TENANT_OPTION = typer.Option(None, "--tenant", help="Tenant slug; omit for a global role.")


@app.command("add")
def add_cmd(email: str, name: str | None = typer.Option(None, "--name")) -> None:
    """Add a user."""
    from synkro.controlplane.users import validate_email

    validate_email(email)
    user = controlplane().users.add(email, name, actor=actor())
    console.print(f"added user {user.email}", highlight=False)


@app.command("grant")
def grant_cmd(email: str, role: str, tenant: str | None = TENANT_OPTION) -> None:
    """Grant ROLE (super_admin, admin, viewer) to a user, in a tenant or globally."""
    from synkro.controlplane import validate_slug
    from synkro.controlplane.users import validate_email, validate_role

    validate_email(email)
    validate_role(role, tenant)
    if tenant is not None:
        validate_slug(tenant)
    controlplane().users.grant(email, role, tenant, actor=actor())
    where = f"in tenant {tenant}" if tenant else "globally"
    console.print(f"granted {role} to {email.lower()} {where}", highlight=False)


@app.command("revoke")
def revoke_cmd(email: str, role: str, tenant: str | None = TENANT_OPTION) -> None:
    """Revoke a role from a user."""
    from synkro.controlplane.users import validate_role

    validate_role(role, tenant)
    controlplane().users.revoke(email, role, tenant, actor=actor())
    where = f"in tenant {tenant}" if tenant else "globally"
    console.print(f"revoked {role} from {email.lower()} {where}", highlight=False)


@app.command("list")
def list_cmd(
    tenant: str | None = typer.Option(None, "--tenant", help="Only users with a role in this tenant."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List users and their roles."""
    users = controlplane().users.list(tenant)
    if as_json:
        print_json([u.to_dict() for u in users])
        return
    table = Table("email", "name", "roles")
    for u in users:
        table.add_row(u.email, u.name or "", ", ".join(str(g) for g in u.roles))
    console.print(table)


@app.command("show")
def show_cmd(
    email: str,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Show one user and every role they hold (exit 2 when the user does not exist)."""
    user = controlplane().users.get(email)
    if as_json:
        print_json(user.to_dict())
        return
    console.print(f"{user.email}" + (f" ({user.name})" if user.name else ""), highlight=False)
    console.print(f"added {user.created_at:%Y-%m-%d %H:%M %Z}", highlight=False)
    if not user.roles:
        console.print("no roles")
    for grant in user.roles:
        console.print(f"  {grant}", highlight=False)
