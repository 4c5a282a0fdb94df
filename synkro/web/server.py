"""The portal's HTTP server (uvicorn), in the foreground (`synkro web`) or in a thread (`synkro dev`, tests).

No access log: query strings carry OAuth authorization codes, and a code is a secret until spent.
`proxy_headers`: behind Caddy the client address (login throttling) comes from X-Forwarded-For,
trusted only from the addresses in FORWARDED_ALLOW_IPS (uvicorn's default: 127.0.0.1).
"""

from __future__ import annotations

import threading
import time

import uvicorn
from starlette.types import ASGIApp


def _config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app, host=host, port=port, access_log=False, log_level="warning", proxy_headers=True
    )


def serve(app: ASGIApp, host: str, port: int) -> None:
    """Serve until Ctrl-C / SIGTERM (uvicorn's own signal handling)."""
    uvicorn.Server(_config(app, host, port)).run()


class _ThreadServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the hosting process keeps its own handlers
        pass


class PortalThread:
    """The portal served from a daemon thread of this process; `stop()` ends it cleanly."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 8000):
        self.host, self.port = host, port
        self._server = _ThreadServer(_config(app, host, port))
        self._thread = threading.Thread(target=self._server.run, name="portal", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20) -> PortalThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the portal did not start on {self.host}:{self.port}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
