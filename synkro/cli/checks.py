"""`synkro check SLUG KIND`: verify one integration of a tenant and save its status."""

from __future__ import annotations

import typer

from synkro.cli.common import console, print_json
from synkro.controlplane.errors import BadInputError

MARK = {True: "[green]✓[/]", False: "[red]✗[/]", None: "[yellow]•[/]"}


def check(
    slug: str = typer.Argument(..., help="Tenant slug."),
    kind: str = typer.Argument(..., help="supabase, amocrm, radist, gemini or telegram."),
    sample: int = typer.Option(
        0,
        "--sample",
        help="amocrm: show N recent contacts with every number of their phones and the Radist dialogs "
        "of each, plus the matching quality (phone values with no valid number, chats matching no "
        "contact or several; masked examples).",
    ),
    send_test: bool = typer.Option(False, "--send-test", help="telegram: post a test message."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Check that an integration works (credentials, access, limits) and record the result."""
    from synkro.checks import KINDS, CheckOptions, run_check
    from synkro.tenant_context import TenantContext

    if kind not in KINDS:
        raise BadInputError(f"unknown integration kind {kind!r}; expected one of: {', '.join(KINDS)}")
    tctx = TenantContext.load(slug)
    if tctx.config(kind) is None:
        raise BadInputError(f"tenant {slug!r} has no {kind} config; `synkro config set {slug} {kind}` first")
    result = run_check(tctx, kind, CheckOptions(sample=sample, send_test=send_test))
    if as_json:
        print_json(
            {
                "kind": kind,
                "ok": result.ok,
                "checks": [{"name": x.name, "ok": x.ok, "detail": x.detail} for x in result.lines],
                "extra": result.extra,
            }
        )
    else:
        for line in result.lines:
            detail = f" — {line.detail}" if line.detail else ""
            console.print(f"{MARK[line.ok]} {line.name}{detail}", highlight=False)
        for block in result.extra:
            console.print()
            console.print(block, markup=False, highlight=False)
    raise typer.Exit(0 if result.ok else 1)


def register(app: typer.Typer) -> None:
    app.command()(check)
