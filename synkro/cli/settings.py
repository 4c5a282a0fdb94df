"""`synkro settings …`: a tenant's runtime settings (mode, schedule, limits, AI budget, rubric)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from synkro.cli.common import actor, console, controlplane, print_json
from synkro.controlplane.errors import BadInputError

app = typer.Typer(help="Runtime settings per tenant: set key=value ..., show.")


def parse_assignment(item: str) -> tuple[str, Any]:
    """`key=value`: value as JSON when it parses (numbers, true/false, objects), else a string.

    `key=@path` reads the value from a JSON or YAML file (for the rubric). YAML is not used for
    plain values because it would read `22:01` as the number 1321.
    """
    if "=" not in item:
        raise BadInputError(f"expected key=value, got {item!r}")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key:
        raise BadInputError(f"expected key=value, got {item!r}")
    if raw.startswith("@"):
        from synkro.cli.config import parse_document

        path = Path(raw[1:])
        if not path.is_file():
            raise BadInputError(f"{key}: file {path} does not exist")
        return key, parse_document(path.read_text(), f"file {path}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


@app.command("set")
def set_cmd(
    slug: str,
    assignments: list[str] = typer.Argument(..., help="key=value pairs, e.g. run_time=21:30 min_dialogs=3"),
) -> None:
    """Change runtime settings; invalid values are refused and nothing is saved."""
    from synkro.controlplane import validate_slug

    validate_slug(slug)
    changes = dict(parse_assignment(item) for item in assignments)
    settings = controlplane().settings.update_settings(slug, actor=actor(), **changes)
    for key in changes:
        value = getattr(settings, key)
        shown = f"version {settings.rubric_version}" if key == "rubric" else value
        console.print(f"{key} = {shown}", highlight=False)


@app.command("show")
def show_cmd(
    slug: str, as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")
) -> None:
    """Show all runtime settings (defaults included)."""
    settings = controlplane().settings.get_settings(slug)
    data = settings.model_dump(mode="json")
    if as_json:
        print_json(data)
        return
    overridden = settings.overrides()
    for key, value in data.items():
        marker = "" if key in overridden else "  (default)"
        if key == "rubric" and value is not None:
            value = json.dumps(value, ensure_ascii=False)
        console.print(f"{key} = {value}{marker}", highlight=False)
