"""Transient or permanent: the one rule that says whether retrying a failed step can help.

Transient (a retry later may succeed): network and transport errors, timeouts, HTTP 408/425/429
and 5xx from our clients and SDKs (except Gemini's per-day quota), Telegram flood control and
network errors, a lost or refused Postgres connection, lock and serialization conflicts, a
concurrent-update conflict. Permanent (retrying only repeats it): bad or revoked credentials,
blocked or unpaid accounts, Telegram Forbidden / InvalidToken / BadRequest, Gemini's invalid key,
permission, billing and retired-model errors, validation and bad-input errors, SQL and data errors.

`is_transient(exc)` walks the exception and its causes (`__cause__`, else `__context__`, also
when suppressed with `from None`: the hidden cause is still the truth about the failure), outermost
first; the first one with a verdict decides. Exceptions with no verdict (a bare RuntimeError, a
library's wrapper such as dlt's PipelineStepFailed) are looked through. No verdict anywhere means
permanent: a step is retried only for failures known to pass.

Library exceptions are recognised by their classes in `sys.modules`: an exception of a library
exists only if that library was imported, so classifying never imports a heavy SDK.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

# HTTP answers that say "try again later".
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

# Connection-phase Postgres errors carry no SQLSTATE; these say the settings, not the server, are wrong.
_PG_PERMANENT_MESSAGES = ("authentication failed", "pg_hba.conf", "does not exist", "permission denied")
_PG_PERMANENT_SQLSTATES = ("28", "3D", "53100")  # invalid authorization, unknown database, disk full


def is_transient(exc: BaseException) -> bool:
    """True when retrying the failed work later may succeed; see the module docstring."""
    for link in exception_chain(exc):
        verdict = _verdict(link)
        if verdict is not None:
            return verdict
    return False


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then what caused it, and so on (each once)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _verdict(exc: BaseException) -> bool | None:
    for rule in _RULES:
        verdict = rule(exc)
        if verdict is not None:
            return verdict
    return None


def _classes(module: str, *names: str) -> tuple[type, ...]:
    """The named classes of an already imported module (none if it is not imported)."""
    loaded = sys.modules.get(module)
    return tuple(getattr(loaded, name) for name in names if hasattr(loaded, name)) if loaded else ()


def _is(exc: BaseException, module: str, *names: str) -> bool:
    classes = _classes(module, *names)
    return bool(classes) and isinstance(exc, classes)


def _status_verdict(status: int | None) -> bool | None:
    if status is None:
        return None
    return status in RETRYABLE_STATUSES or status >= 500


def _synkro(exc: BaseException) -> bool | None:
    """Our own error types."""
    if _is(exc, "synkro.controlplane.errors", "ConcurrentUpdateError"):
        return True  # "re-read and retry" is what it asks for
    if _is(exc, "synkro.controlplane.locks", "LockTimeout"):
        return True
    if _is(exc, "synkro.controlplane.errors", "BadInputError", "DuplicateRunError"):
        return False
    if _is(exc, "synkro.clients.amocrm", "AmoCRMUnavailableError"):
        return True
    if _is(exc, "synkro.clients.amocrm", "AmoCRMAuthError", "AmoCRMAccountError"):
        return False
    if _is(exc, "synkro.clients.amocrm", "AmoCRMHTTPError"):
        return _status_verdict(exc.status)  # type: ignore[attr-defined]
    if _is(exc, "synkro.clients.radist", "RadistUnavailableError"):
        return True
    if _is(exc, "synkro.clients.radist", "RadistAuthError"):
        return False
    if _is(exc, "synkro.clients.radist", "RadistError"):
        return _status_verdict(exc.status)  # type: ignore[attr-defined]
    if _is(exc, "synkro.analysis.gemini", "GeminiFatalError") or _is(
        exc, "synkro.analysis.run", "AnalysisStopped"
    ):
        return False
    if _is(exc, "synkro.delivery.telegram", "DeliveryBusy"):
        return True
    if _is(exc, "synkro.delivery.telegram", "DeliveryFailed"):
        return False
    return None


def _httpx(exc: BaseException) -> bool | None:
    if _is(exc, "httpx", "HTTPStatusError"):
        return _status_verdict(exc.response.status_code)  # type: ignore[attr-defined]
    if _is(exc, "httpx", "UnsupportedProtocol", "LocalProtocolError", "InvalidURL"):
        return False  # our URL or request is wrong
    if _is(exc, "httpx", "TransportError"):
        return True  # connect/read/write/pool timeouts, refused or dropped connections
    return None


def _telegram(exc: BaseException) -> bool | None:
    module = "telegram.error"
    if _is(exc, module, "RetryAfter", "TimedOut"):
        return True
    refused = ("Forbidden", "InvalidToken", "BadRequest", "ChatMigrated", "Conflict", "EndPointNotFound")
    if _is(exc, module, *refused):
        return False
    if _is(exc, module, "NetworkError"):
        return True  # what is left: connection problems and 5xx (502 Bad Gateway)
    return None


def _gemini(exc: BaseException) -> bool | None:
    if not _is(exc, "google.genai.errors", "APIError"):
        return None
    from synkro.analysis.gemini import classify_fatal  # google-genai is loaded already

    if classify_fatal(exc, model="") is not None:  # invalid key, billing, permission, day quota...
        return False
    return bool(_status_verdict(exc.code))  # type: ignore[attr-defined]


def _postgres(exc: BaseException) -> bool | None:
    for module in ("psycopg", "psycopg2"):
        if _is(exc, module, "OperationalError"):
            sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None) or ""
            if sqlstate.startswith(_PG_PERMANENT_SQLSTATES):
                return False
            text = str(exc).lower()
            return not any(marker in text for marker in _PG_PERMANENT_MESSAGES)
        if _is(exc, module, "InterfaceError"):
            text = str(exc).lower()
            return "closed" in text or "lost" in text
        if _is(exc, module, "Error"):
            return False  # SQL, data and integrity errors
    return None


def _sqlalchemy(exc: BaseException) -> bool | None:
    module = "sqlalchemy.exc"
    if _is(exc, module, "DBAPIError") and getattr(exc, "connection_invalidated", False):
        return True
    if _is(exc, module, "DisconnectionError", "TimeoutError"):  # TimeoutError: the pool is exhausted
        return True
    return None  # other DBAPI errors: judged by the driver error they wrap (their cause)


def _builtin(exc: BaseException) -> bool | None:
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, (ValueError, TypeError, KeyError, AttributeError, NotImplementedError)):
        return False  # validation errors (pydantic's too) and bugs
    return None


_RULES: tuple[Callable[[BaseException], bool | None], ...] = (
    _synkro,
    _httpx,
    _telegram,
    _gemini,
    _postgres,
    _sqlalchemy,
    _builtin,
)
