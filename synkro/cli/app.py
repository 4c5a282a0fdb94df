"""The `synkro` command: one root typer app, one sub-app per module `synkro/cli/<group>.py`.

To add a command group, create `synkro/cli/<group>.py` exposing `app = typer.Typer(...)` and add
its name to GROUPS below. Errors are one line on stderr (the traceback only with `--debug`).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import typer
from typer.core import TyperGroup

from synkro import logging_redaction
from synkro.cli.common import err_console, exit_code_and_message, state
from synkro.secrets import check_deployment_key

# Order = order in `synkro --help`.
GROUPS: list[str] = [
    "db",
    "tenant",
    "user",
    "config",
    "settings",
    "audit",
    "secrets",
    "sandbox",
    "supabase",
    "gemini",
    "amocrm",
]


class SynkroGroup(TyperGroup):
    """Turns any exception from a command into one line and an exit code (unless --debug)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer's own usage errors (exit 2), aborts and exits
        except Exception as exc:
            if state.debug:
                raise
            code, message = exit_code_and_message(exc)
            err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(code) from None


app = typer.Typer(
    name="synkro",
    cls=SynkroGroup,
    help="Synkro admin CLI: tenants, users, integration configs, settings, audit, secrets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks and debug logs."),
) -> None:
    state.debug = debug or bool(os.environ.get("SYNKRO_DEBUG"))
    logging_redaction.install()  # --debug shows httpx's request URLs, which hold bot tokens
    check_deployment_key()  # a blank key, or none where one is required: refuse before anything runs
    logging.basicConfig(level=logging.DEBUG if state.debug else logging.WARNING)


for _group in GROUPS:
    _module = importlib.import_module(f"synkro.cli.{_group}")
    app.add_typer(_module.app, name=_group)

# Top-level commands (`synkro run SLUG`, `synkro check SLUG KIND`, …): each module has register(app).
COMMAND_MODULES: list[str] = [
    "pipeline",
    "services",
    "devtools",
    "checks",
    "web",
    "bot",
]

for _name in COMMAND_MODULES:
    importlib.import_module(f"synkro.cli.{_name}").register(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SystemExit:
        raise
    except Exception as exc:  # raised only under --debug, or outside a command
        if state.debug:
            raise
        code, message = exit_code_and_message(exc)
        err_console.print(f"error: {message}", markup=False, highlight=False)
        sys.exit(code)


if __name__ == "__main__":
    main()
