"""`synkro config …`: a tenant's integration configs (secrets never shown, never in argv).

Secrets enter only through a file, stdin, or a hidden prompt: command-line arguments end up in
shell history and `ps` output, so no option takes a secret value.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.table import Table

from synkro.cli.common import actor, console, controlplane, print_json
from synkro.controlplane.errors import BadInputError

app = typer.Typer(help="Integration configs per tenant: set (file/stdin/prompt), show (masked), unset.")


def parse_document(text: str, origin: str) -> dict[str, Any]:
    """JSON or YAML (YAML is a superset of JSON). Parse errors name the position, never the content."""
    try:
        document = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise BadInputError(f"{origin} is not valid JSON or YAML{where}") from None
    if not isinstance(document, dict):
        raise BadInputError(f"{origin} must hold a mapping of field names to values")
    return {str(key): value for key, value in document.items()}


def _read_file(path: str) -> dict[str, Any]:
    if path == "-":
        return parse_document(sys.stdin.read(), "stdin")
    file = Path(path)
    if not file.is_file():
        raise BadInputError(f"config file {path} does not exist")
    return parse_document(file.read_text(), f"config file {path}")


def _prompt_document(slug: str, kind: str) -> dict[str, Any]:
    """Ask for each field; empty input keeps the current value; secrets are typed hidden."""
    from synkro.integrations.schemas import model_for

    cp = controlplane()
    cp.tenants.get(slug)
    model = model_for(kind)
    current = cp.configs.find_config(slug, kind)
    secret_fields = model.secret_fields()
    patch: dict[str, Any] = {}
    console.print(f"{kind} config for tenant {slug}: press Enter to keep a value (or to leave it unset).")
    for name, info in model.model_fields.items():
        hint = f" ({info.description})" if info.description else ""
        existing = getattr(current, name, None) if current is not None else None
        if name in secret_fields:
            label = f"{name}{hint} [secret{', set' if existing is not None else ''}]"
            value = typer.prompt(label, default="", show_default=False, hide_input=True)
        else:
            shown = existing if existing not in (None, []) else ""
            if isinstance(shown, list):
                shown = ",".join(str(v) for v in shown)
            value = typer.prompt(f"{name}{hint}", default=str(shown), show_default=bool(shown))
            if existing is not None and value == str(shown):
                continue
        if value != "":
            patch[name] = value
    return patch


@app.command("set")
def set_cmd(
    slug: str,
    kind: str,
    file: str | None = typer.Option(None, "--file", "-f", help="JSON or YAML document; '-' reads stdin."),
) -> None:
    """Set or change a config. A partial document changes only the fields it names (null removes)."""
    from synkro.controlplane import validate_slug
    from synkro.integrations.schemas import model_for

    validate_slug(slug)
    model_for(kind)
    patch = _read_file(file) if file is not None else _prompt_document(slug, kind)
    if not patch:
        raise BadInputError("nothing to change: the document is empty")
    record = controlplane().configs.set_config(slug, kind, patch, actor=actor())
    console.print(
        f"saved {kind} config for tenant {slug} (version {record.version}; "
        f"changed: {', '.join(sorted(patch))})",
        highlight=False,
    )


@app.command("show")
def show_cmd(
    slug: str,
    kind: str | None = typer.Argument(None, help="One kind; all configured kinds when omitted."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Show configs with secrets masked (••••1234)."""
    from synkro.controlplane import validate_slug
    from synkro.integrations.schemas import model_for

    validate_slug(slug)
    cp = controlplane()
    if kind is not None:
        model_for(kind)
        records = [cp.configs.get_record(slug, kind)]
    else:
        records = cp.configs.list_records(slug)
    data = [record.masked() for record in records]
    if as_json:
        print_json(data[0] if kind is not None else data)
        return
    if not data:
        console.print(f"tenant {slug} has no integration configs")
    for item in data:
        table = Table(title=f"{item['kind']}  status={item['status']}  version={item['version']}")
        table.add_column("field")
        table.add_column("value", overflow="fold")
        for name, value in item["fields"].items():
            table.add_row(name, "" if value is None else str(value))
        if item["last_error"]:
            table.add_row("last_error", item["last_error"])
        console.print(table)


@app.command("unset")
def unset_cmd(
    slug: str,
    kind: str,
    fields: list[str] | None = typer.Argument(None, help="Only these fields; the whole config if omitted."),
) -> None:
    """Remove a config, or some of its fields."""
    from synkro.controlplane import validate_slug
    from synkro.integrations.schemas import model_for

    validate_slug(slug)
    model_for(kind)
    controlplane().configs.unset_config(slug, kind, fields or None, actor=actor())
    what = f"fields {', '.join(fields)} of " if fields else ""
    console.print(f"removed {what}{kind} config of tenant {slug}", highlight=False)
