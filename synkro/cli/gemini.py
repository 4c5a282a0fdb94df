"""`synkro gemini …`: what the tenant's Gemini key can use, asked of the API at run time.

Why at run time: Google adds and retires models every few months, and which ones a key may call
depends on its project. A model list written into the code would be wrong within a quarter, so the
choice offered to the operator is always the live `models.list` filtered to generateContent.
"""

from __future__ import annotations

import typer

from synkro.cli.common import console, print_json, styled
from synkro.controlplane.errors import BadInputError

app = typer.Typer(help="Gemini: models the tenant's key can use for scoring.")


@app.command("models")
def models_cmd(
    slug: str = typer.Argument(..., help="Tenant slug."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Models that support generateContent for the tenant's key; the chosen one is marked."""
    from rich.table import Table

    from synkro.analysis.gemini import GeminiFatalError, GeminiSettings, list_models
    from synkro.tenant_context import TenantContext

    tctx = TenantContext.load(slug)
    config = tctx.config("gemini")
    if config is None:
        raise BadInputError(f"tenant {slug!r} has no gemini config; `synkro config set {slug} gemini` first")
    chosen = config.model
    try:
        models = list_models(GeminiSettings.from_config(config))
    except GeminiFatalError as exc:
        console.print(styled(("✗", "red"), f" {exc}"), highlight=False)
        raise typer.Exit(1) from None
    if as_json:
        print_json(
            {
                "tenant": slug,
                "chosen": chosen,
                "chosen_available": any(m.name == chosen for m in models),
                "models": [
                    {
                        "name": m.name,
                        "display_name": m.display_name,
                        "input_token_limit": m.input_token_limit,
                        "output_token_limit": m.output_token_limit,
                        "chosen": m.name == chosen,
                    }
                    for m in models
                ],
            }
        )
        return
    table = Table(title=f"Gemini models for {slug} (generateContent)")
    for column in ("", "model", "display name", "input tokens", "output tokens"):
        table.add_column(column)
    for m in models:
        table.add_row(
            "*" if m.name == chosen else "",
            m.name,
            m.display_name,
            f"{m.input_token_limit:,}" if m.input_token_limit else "—",
            f"{m.output_token_limit:,}" if m.output_token_limit else "—",
        )
    console.print(table)
    if any(m.name == chosen for m in models):
        console.print(f"* chosen model: {chosen}", highlight=False)
    else:
        console.print(
            styled(
                (
                    f"chosen model {chosen!r} is not in the list: pick one and set the field "
                    f"`model` with `synkro config set {slug} gemini`",
                    "yellow",
                )
            ),
            highlight=False,
        )
