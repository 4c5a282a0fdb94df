"""Run the sandbox's Gemini and Telegram emulator apps in a thread for the analysis/delivery tests.

Why not the full sandbox server: these tests need only two emulators, and starting just them keeps
each test file at a few seconds. The apps are the sandbox's own (sandbox.gemini/telegram),
served over real HTTP by uvicorn, so our real clients (google-genai, python-telegram-bot) talk to
them exactly as to the live services.
"""

from __future__ import annotations

import importlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from sandbox.state import SandboxState


@dataclass
class Emulators:
    state: SandboxState
    root: str

    @property
    def gemini(self) -> str:
        return f"{self.root}/gemini"

    @property
    def telegram(self) -> str:
        return f"{self.root}/telegram"

    @property
    def control(self) -> str:
        return f"{self.root}/_sandbox"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_emulators(*services: str) -> Iterator[Emulators]:
    state = SandboxState(scenario=None, seed=7)  # type: ignore[arg-type]
    routes, control = [], []
    for service in services:
        module = importlib.import_module(f"sandbox.{service}")
        routes.append(Mount(f"/{service}", app=module.build_app(state)))
        if hasattr(module, "control_routes"):
            control.append(Mount(f"/{service}", routes=module.control_routes(state)))
    app = Starlette(routes=[*routes, Mount("/_sandbox", routes=control)])
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("emulators did not start")
        time.sleep(0.01)
    state.base_url = f"http://127.0.0.1:{port}"
    try:
        yield Emulators(state, state.base_url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
