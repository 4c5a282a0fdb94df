"""`synkro supabase …`: what an owner does in their own Supabase project for Synkro.

`sql` only prints: the owner runs the script as `postgres` in their project, so Synkro never needs
(or stores) a superuser-like credential for the setup. Verifying the result is `synkro check SLUG
supabase`.
"""

from __future__ import annotations

import typer

app = typer.Typer(help="Supabase as a tenant's warehouse: the one-time setup SQL.", no_args_is_help=True)


@app.command("sql")
def sql_cmd(
    slug: str = typer.Argument(
        ..., help="Tenant slug (its schemas are <slug>_raw, _staging, _marts, _analysis)."
    ),
    statement_timeout: str = typer.Option(
        "30min", "--statement-timeout", help="statement_timeout for the loader and transformer roles."
    ),
) -> None:
    """Print the SQL to run once in the tenant's Supabase project: schemas, roles, grants, RLS."""
    from synkro.controlplane import validate_slug
    from synkro.controlplane.errors import BadInputError
    from synkro.supabase_setup import setup_sql

    validate_slug(slug)
    try:
        script = setup_sql(slug, statement_timeout=statement_timeout)
    except ValueError as exc:
        raise BadInputError(str(exc)) from None
    typer.echo(script, nl=False)
