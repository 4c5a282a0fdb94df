"""Fault injection shared by every emulator.

Real integrations break on latency, 5xx bursts, rate limits, expiring tokens and connections
that die mid-page, so each emulator calls `check()` first thing and returns its answer when it
is not None. The *shape* of a fault response differs per service (amoCRM problem+json, Google
error JSON, Telegram `{"ok": false}`), so emulators pass an `ErrorRenderer`; the *decision* (is
this request faulted, and how) lives here so every service behaves the same under a setting.

A dropped connection cannot be decided by returning a response: `check()` marks the request
and the server's ASGI middleware (`DropConnectionMiddleware`) cuts the real response mid-body.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from sandbox.state import SandboxState

SERVICES = ("amocrm", "radist", "gemini", "telegram")

# Scope key holding a mutable dict shared between `check()` and the middleware.
SCOPE_KEY = "sandbox.faults"

# `account_status` values; amoCRM answers 402 for unpaid and 403 for blocked accounts.
ACCOUNT_STATUSES = ("active", "unpaid", "blocked")


@dataclass
class FaultSettings:
    """Per-service fault knobs. All default to "behave like the healthy real service".

    - latency_ms: added before every answer.
    - error_rate: probability (0..1) of a 5xx instead of the answer.
    - rate_limit_rps: accepted requests per second per account; None switches the limit off.
    - burst_429: the next N requests get 429 regardless of rate.
    - drop_connection: the next N responses are cut mid-body (the client sees a protocol error).
    - token_lifetime_s: lifetime of newly issued access tokens (amoCRM OAuth).
    - account_status: active | unpaid (402) | blocked (403); meaningful for amoCRM and Radist.
    - filter_enabled: amoCRM's paid `filter[...]` add-on; when False filters are silently ignored.
    """

    latency_ms: int = 0
    error_rate: float = 0.0
    rate_limit_rps: float | None = None
    burst_429: int = 0
    drop_connection: int = 0
    token_lifetime_s: int = 86400
    account_status: str = "active"
    filter_enabled: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update from the control endpoint or CLI flags, validating names."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        for name, value in changes.items():
            if name == "account_status" and value not in ACCOUNT_STATUSES:
                raise ValueError(f"account_status must be one of {ACCOUNT_STATUSES}")
            if name == "error_rate" and not 0.0 <= float(value) <= 1.0:
                raise ValueError("error_rate must be between 0 and 1")
            setattr(self, name, value)


def default_faults() -> dict[str, FaultSettings]:
    """Documented defaults: amoCRM limits each account to 7 requests/s; the rest are unthrottled."""
    return {
        "amocrm": FaultSettings(rate_limit_rps=7.0),
        "radist": FaultSettings(),
        "gemini": FaultSettings(),
        "telegram": FaultSettings(),
    }


# An emulator's way to render a fault in its own error shape.
# kind is one of "rate_limited" (429), "server_error" (5xx), "unpaid" (402), "blocked" (403).
ErrorRenderer = Callable[[int, str, float | None], Response]


def default_renderer(status: int, kind: str, retry_after: float | None) -> Response:
    body: dict[str, Any] = {"error": kind, "status": status}
    if retry_after is not None:
        body["retry_after"] = retry_after
    return JSONResponse(body, status_code=status)


async def check(
    state: SandboxState,
    service: str,
    request: Request,
    *,
    account: str = "default",
    render: ErrorRenderer = default_renderer,
    enforce_account_status: bool = False,
) -> Response | None:
    """Log the request, apply the service's faults, and return a fault response or None.

    Order matters and mirrors real front ends: latency first, then a forced 429 run, the
    per-account rate limit, random 5xx, and finally the account's billing state (only when
    `enforce_account_status`, because it applies after authentication identified the account).
    """
    settings = state.faults[service]
    now = time.monotonic()
    state.requests.record(service, account, now)
    if settings.latency_ms:
        await asyncio.sleep(settings.latency_ms / 1000)
    if settings.drop_connection > 0:
        settings.drop_connection -= 1
        request.scope.setdefault(SCOPE_KEY, {})["drop"] = True
    if settings.burst_429 > 0:
        settings.burst_429 -= 1
        state.requests.record_rejection(service, account)
        return render(429, "rate_limited", 1.0)
    if settings.rate_limit_rps is not None and not state.requests.admit(
        service, account, now, settings.rate_limit_rps
    ):
        state.requests.record_rejection(service, account)
        return render(429, "rate_limited", 1.0)
    if settings.error_rate and state.fault_rng.random() < settings.error_rate:
        status = state.fault_rng.choice((500, 502, 503, 504))
        return render(status, "server_error", None)
    if enforce_account_status:
        return account_status_response(settings, render)
    return None


def account_status_response(settings: FaultSettings, render: ErrorRenderer) -> Response | None:
    """402 for an unpaid account, 403 for a blocked one, None when active."""
    if settings.account_status == "unpaid":
        return render(402, "unpaid", None)
    if settings.account_status == "blocked":
        return render(403, "blocked", None)
    return None


def new_fault_rng(seed: int) -> random.Random:
    """Faults draw from their own RNG so the scenario stays deterministic whatever faults fire."""
    return random.Random(seed ^ 0x5A5A5A)
