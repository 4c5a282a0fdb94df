"""`synkro secrets …`: the master key that encrypts tenant secrets at rest."""

from __future__ import annotations

import typer

from synkro.cli.common import actor, console, controlplane, print_json

app = typer.Typer(help="Master key: status and rotation (re-encrypts every stored secret).")


@app.command("rotate")
def rotate_cmd() -> None:
    """Re-encrypt all secrets under a new key (key file) or the first key of SYNKRO_SECRET_KEY."""
    from synkro.controlplane.rotation import rotate_master_key

    result = rotate_master_key(controlplane(), actor=actor())
    console.print(f"re-encrypted {result.reencrypted} config(s)", highlight=False)
    console.print(result.instructions, highlight=False, soft_wrap=True)


@app.command("status")
def status_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Where the master key comes from and how many keys are loaded (never the keys)."""
    from synkro.secrets import load_keys

    keys, source = load_keys()
    cp = controlplane()
    from sqlalchemy import func, select

    from synkro.controlplane.tables import integration_configs

    with cp.engine.connect() as conn:
        encrypted = conn.execute(
            select(func.count()).where(integration_configs.c.secrets_encrypted.is_not(None))
        ).scalar_one()
    data = {
        "source": "SYNKRO_SECRET_KEY" if source.kind == "env" else str(source.path),
        "keys_loaded": len(keys),
        "configs_with_secrets": encrypted,
    }
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        console.print(f"{key}: {value}", highlight=False)
