"""What several benches need: a sandbox in its own process, and a limiter that records its calls.

The sandbox runs in a separate process so its event loop does not compete with the bench's
threads for the GIL; the recording limiter is the product's RateLimiter plus timestamps, so a
bench measures the limiter that really paces requests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from synkro.clients.ratelimit import RateLimiter  # noqa: E402


class RecordingLimiter(RateLimiter):
    """Remembers when each request was let through, to measure the achieved rate."""

    def __init__(self, rate: float | None, period: float = 1.0, margin: float = 1.01) -> None:
        super().__init__(rate, period=period, margin=margin)
        self.stamps: list[float] = []
        self._stamp_lock = threading.Lock()

    def acquire(self) -> int:
        slot = super().acquire()
        with self._stamp_lock:
            self.stamps.append(time.monotonic())
        return slot


def start_sandbox(scenario: str, seed: int, timeout: float = 600) -> tuple[subprocess.Popen, dict]:
    """`synkro sandbox serve` in a child process; returns it and the info-file payload."""
    info_file = Path(tempfile.mkdtemp(prefix="synkro-bench-")) / "info.json"
    code = (
        "from sandbox.server import serve; "
        f"serve(port=0, seed={seed}, scenario={scenario!r}, info_file={str(info_file)!r})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    deadline = time.monotonic() + timeout
    while not info_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("sandbox did not start")
        time.sleep(0.2)
    return proc, json.loads(info_file.read_text())
