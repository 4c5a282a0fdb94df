"""Redact secrets from every log record of every library, in every Synkro process.

Why a record factory and not a `logging.Filter`: a filter on a handler sees only what that handler
emits, and libraries bring their own handlers (uvicorn's loggers do not propagate, Dagster adds
its own), while a filter on a logger misses records of its children. Every record, whoever logs
it, is made by `logging.getLogRecordFactory()`, so that is where redaction goes: httpx and
python-telegram-bot log request URLs that hold the bot token (`/bot<token>/getMe`) at DEBUG, which
`synkro --debug` shows.

What is masked: everything `synkro.redact` recognises as a credential, plus every secret this
process has decrypted (`synkro.redact.remember`, called by the control plane whenever it decrypts
a config), so a Radist key without a recognisable shape is masked too. The message, its
arguments, the formatted traceback and the stack are redacted; a record without a secret is left
exactly as it was.

`install()` is idempotent and is called by the CLI, the Dagster code location and the web app.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from synkro.redact import process_redactor

_installed = False


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask secrets in the record's message, traceback and stack (in place)."""
    redactor = process_redactor()
    try:
        message = record.getMessage()
    except Exception:  # a library's bad format string: logging reports it later, as it would
        return record
    cleaned = redactor(message)
    if cleaned != message:
        record.msg, record.args = cleaned, ()
    if record.exc_info and not record.exc_text:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        cleaned = redactor(text)
        if cleaned != text:
            record.exc_text = cleaned  # Formatter uses exc_text as is when it is set
    if record.stack_info:
        record.stack_info = redactor(record.stack_info)
    return record


def install() -> None:
    """Redact every record made from now on in this process; also uncaught tracebacks."""
    global _installed
    if _installed:
        return
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _install_excepthook()
    _installed = True


def _install_excepthook() -> None:
    """`--debug` lets a traceback through: print it redacted (exception texts quote URLs)."""
    original = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if kind in (KeyboardInterrupt, SystemExit):
            original(kind, value, tb)
            return
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(process_redactor()(text))

    sys.excepthook = hook
