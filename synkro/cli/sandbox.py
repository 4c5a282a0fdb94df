"""`synkro sandbox serve`: the local emulators, run as `python -m sandbox serve` in this process.

The product imports nothing from the `sandbox` package, so this command replaces itself with the
sandbox's own CLI (exec): every option (`--port`, `--scenario`, `--info-file`, `--fault` …, and
`--help`), Ctrl+C, SIGTERM and the exit code are the sandbox's, with nothing in between to relay.
"""

from __future__ import annotations

import os
import sys

import typer

from synkro.cli.common import err_console
from synkro.sandbox_process import SandboxError, require_sandbox, sandbox_command

app = typer.Typer(help="Local emulators of amoCRM, Radist, Gemini and Telegram with generated tenant data.")

# Every argument, `--help` included, belongs to `python -m sandbox serve`.
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@app.command("serve", context_settings=PASS_THROUGH, add_help_option=False)
def serve_cmd(ctx: typer.Context) -> None:
    """Serve all four emulators until Ctrl+C: --port, --scenario, --info-file, --fault (see --help)."""
    try:
        require_sandbox()
    except SandboxError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    command = sandbox_command("serve", *ctx.args)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)
