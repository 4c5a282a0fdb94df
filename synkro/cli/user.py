"""`synkro user …`: users, their portal passwords and roles.

Roles: super_admin (global), and per tenant admin, viewer and manager (a manager needs
--amocrm-user-id: the amoCRM user whose dialogs they see). Passwords are never taken from argv:
a hidden prompt (asked twice), or one line of stdin with --password-stdin.
"""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from synkro.cli.common import actor, console, controlplane, print_json

app = typer.Typer(help="Users and roles: add, grant, revoke, list.")

TENANT_OPTION = typer.Option(None, "--tenant", help="Tenant slug; omit for a global role.")


PASSWORD_STDIN = typer.Option(
    False, "--password-stdin", help="Read the password from one line of stdin instead of a hidden prompt."
)


def read_password(from_stdin: bool) -> str:
    """The new password, validated before anything is written; never an argument."""
    from synkro.controlplane.accounts import validate_password
    from synkro.controlplane.errors import BadInputError

    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise BadInputError("no password on stdin (one line expected)")
    else:
        value = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return validate_password(value)


@app.command("add")
def add_cmd(
    email: str,
    name: str | None = typer.Option(None, "--name"),
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """Add a user who can sign in to the portal (asks for the password, or reads it from stdin)."""
    from synkro.controlplane.errors import AlreadyExistsError
    from synkro.controlplane.users import validate_email

    email = validate_email(email)
    cp = controlplane()
    if any(u.email == email for u in cp.users.list()):
        raise AlreadyExistsError(f"user {email!r} already exists")
    password = read_password(password_stdin)
    user = cp.users.add(email, name, actor=actor())
    cp.accounts.set_password(user.email, password, actor=actor())
    console.print(f"added user {user.email}", highlight=False)


@app.command("password")
def password_cmd(email: str, password_stdin: bool = PASSWORD_STDIN) -> None:
    """Set a new password for a user (a reset: their open portal sessions end)."""
    from synkro.controlplane.users import validate_email

    email = validate_email(email)
    cp = controlplane()
    cp.users.get(email)
    cp.accounts.set_password(email, read_password(password_stdin), actor=actor())
    console.print(f"password set for {email}", highlight=False)


@app.command("grant")
def grant_cmd(
    email: str,
    role: str,
    tenant: str | None = TENANT_OPTION,
    amocrm_user_id: int | None = typer.Option(
        None, "--amocrm-user-id", help="manager: the amoCRM user whose dialogs they see."
    ),
) -> None:
    """Grant ROLE (super_admin, admin, viewer, manager) to a user, in a tenant or globally."""
    from synkro.controlplane import validate_slug
    from synkro.controlplane.users import validate_amocrm_user_id, validate_email, validate_role

    validate_email(email)
    validate_role(role, tenant)
    validate_amocrm_user_id(role, amocrm_user_id)
    if tenant is not None:
        validate_slug(tenant)
    controlplane().users.grant(email, role, tenant, amocrm_user_id=amocrm_user_id, actor=actor())
    where = f"in tenant {tenant}" if tenant else "globally"
    who = f" (amoCRM user {amocrm_user_id})" if amocrm_user_id else ""
    console.print(f"granted {role}{who} to {email.lower()} {where}", highlight=False)


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
