"""What every `synkro` command group shares: the control plane, output helpers, error mapping.

Exit codes: 0 ok, 1 a check or operation failed, 2 bad input (nothing was written).
"""

from __future__ import annotations

import json
import os
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

# Markup off: text from an API or a customer (a chat title, a tenant name, an error) must print as
# it is, never as rich markup (`[link=…]` would become a clickable link). Our own styling is built
# as rich `Text` (`styled`), which never parses the values it holds.
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line from plain strings and (text, style) pairs; nothing in it is read as markup."""
    return Text.assemble(*parts)


class CliState:
    debug: bool = bool(os.environ.get("SYNKRO_DEBUG"))


state = CliState()


def controlplane():
    """The installation's control plane, migrated on first use."""
    from synkro.controlplane import open_controlplane

    return open_controlplane()


def actor() -> str:
    """Who this command's changes are recorded as (see ``AuditRepository.process_actor``)."""
    return controlplane().audit.process_actor()


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def exit_code_and_message(exc: BaseException) -> tuple[int, str]:
    """Map an exception to (exit code, one clear line) without leaking values it may carry.

    The line passes through the token redactor (`synkro.redact`): a library's message may quote a
    URL with a bot token or a DSN with its password.
    """
    from synkro.redact import redact_tokens

    code, message = _exit_code_and_message(exc)
    return code, redact_tokens(message)


def _exit_code_and_message(exc: BaseException) -> tuple[int, str]:
    from sqlalchemy.exc import DBAPIError, OperationalError

    from synkro.controlplane.errors import ControlPlaneError
    from synkro.integrations.schemas import ConfigValidationError, UnknownKindError
    from synkro.secrets import SecretKeyError

    if isinstance(exc, ControlPlaneError):
        return exc.exit_code, str(exc)
    if isinstance(exc, (ConfigValidationError, UnknownKindError)):
        return 2, str(exc)
    if isinstance(exc, SecretKeyError):
        return 1, str(exc)
    if isinstance(exc, OperationalError):
        return 1, f"database unreachable: {type(exc.orig).__name__}"
    if isinstance(exc, DBAPIError):
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        return 1, f"database error: {first}"
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return 1, f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
