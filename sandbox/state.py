"""Everything one sandbox process knows: scenario, faults, request log, tokens, credentials.

Emulators are built as `build_app(state: SandboxState) -> Starlette` and keep no globals, so
tests can run several sandboxes side by side. The server runs one asyncio loop, so handlers
mutate the state without locks; tests in another thread only read it or replace fault settings.

Contract for emulator modules (`sandbox.<service>`):
- `build_app(state) -> Starlette` is mounted at `/<service>` (Radist at `/radist/v2`).
- optional `control_routes(state) -> list[BaseRoute]` is mounted at `/_sandbox/<service>`
  (e.g. Telegram's `GET /_sandbox/telegram/messages`).
- call `await sandbox.faults.check(state, "<service>", request, render=...)` first thing.
- keep private data in `state.service_data["<service>"]` and reset it in `reset_service_data`
  if needed (the dict is simply cleared by `SandboxState.reset`).
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sandbox.faults import FaultSettings, default_faults, new_fault_rng
from sandbox.info import SandboxCredentials, info_dict

if TYPE_CHECKING:
    from sandbox.scenario import Scenario

# The portal's callback at its default address (SYNKRO_PUBLIC_URL unset), so `make dev` connects.
DEFAULT_AMO_REDIRECT_URI = "http://127.0.0.1:8000/oauth/amocrm/callback"
# Keep at most this many timestamps per (service, account) for rate measurement.
_LOG_CAP = 200_000


class RequestLog:
    """Request timestamps per (service, account): the limiter's window and the rate report.

    Tests assert that our clients stay under amoCRM's 7 rps, so the log reports the highest
    number of requests seen in any 1-second window, not just an average.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], deque[float]] = defaultdict(lambda: deque(maxlen=_LOG_CAP))
        self._admitted: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._rejected: dict[tuple[str, str], int] = defaultdict(int)

    def record(self, service: str, account: str, now: float | None = None) -> None:
        self._seen[(service, account)].append(time.monotonic() if now is None else now)

    def record_rejection(self, service: str, account: str) -> None:
        self._rejected[(service, account)] += 1

    def admit(self, service: str, account: str, now: float, rps: float) -> bool:
        """Sliding 1-second window over admitted requests; rejected ones do not count."""
        window = self._admitted[(service, account)]
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= rps:
            return False
        window.append(now)
        return True

    def clear(self) -> None:
        self._seen.clear()
        self._admitted.clear()
        self._rejected.clear()

    def summary(self, service: str | None = None) -> dict[str, Any]:
        """Counts and the max requests in any 1 s window, per service and account."""
        out: dict[str, Any] = {}
        for (svc, account), stamps in sorted(self._seen.items()):
            if service and svc != service:
                continue
            out.setdefault(svc, {})[account] = {
                "requests": len(stamps),
                "rejected_429": self._rejected.get((svc, account), 0),
                "max_per_second": max_in_window(list(stamps), 1.0),
            }
        return out


def max_in_window(stamps: list[float], width: float) -> int:
    """Largest number of timestamps inside any half-open window of `width` seconds."""
    best = 0
    start = 0
    for end, t in enumerate(stamps):
        while t - stamps[start] >= width:
            start += 1
        best = max(best, end - start + 1)
    return best


@dataclass
class AmoToken:
    """An issued amoCRM access token; refresh tokens map to the access token they renew."""

    account_id: int
    expires_at: float
    grant_type: str


@dataclass
class SandboxState:
    """The whole mutable world of one sandbox process."""

    scenario: Scenario
    seed: int
    credentials: SandboxCredentials = field(default_factory=SandboxCredentials)
    faults: dict[str, FaultSettings] = field(default_factory=default_faults)
    requests: RequestLog = field(default_factory=RequestLog)
    # amoCRM OAuth: access token -> AmoToken; live refresh tokens; spent refresh tokens.
    amo_access_tokens: dict[str, AmoToken] = field(default_factory=dict)
    amo_refresh_tokens: dict[str, int] = field(default_factory=dict)
    amo_spent_refresh_tokens: set[str] = field(default_factory=set)
    amo_auth_codes: dict[str, float] = field(default_factory=dict)
    # The integration's registered redirect URI (the consent page sends the browser there) and
    # the codes the consent page issued, each valid only with that URI.
    amo_redirect_uri: str = DEFAULT_AMO_REDIRECT_URI
    amo_code_redirects: dict[str, str] = field(default_factory=dict)
    amo_long_lived_token: str = ""
    # Private stores of emulators written elsewhere (e.g. telegram's delivered messages).
    service_data: dict[str, Any] = field(default_factory=dict)
    # Set by the server once it listens, e.g. "http://127.0.0.1:8765".
    base_url: str = ""

    def __post_init__(self) -> None:
        self.fault_rng = new_fault_rng(self.seed)

    def info(self) -> dict[str, Any]:
        """The `--info-file` payload (see sandbox.info)."""
        return info_dict(self.credentials, self.base_url, self.amo_long_lived_token, self.amo_redirect_uri)

    def set_faults(self, service: str, **changes: Any) -> None:
        self.faults[service].update(changes)

    def reset_faults(self) -> None:
        """Back to documented defaults; also forgets rate-limit windows so tests start clean."""
        self.faults = default_faults()
        self.requests.clear()

    def ground_truth(self) -> dict[str, Any]:
        return self.scenario.ground_truth()
