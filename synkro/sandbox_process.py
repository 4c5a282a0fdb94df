"""The sandbox as a separate process: how the product starts it without importing it.

The emulators live in the top-level `sandbox` package, installed with the `sandbox` extra for
the demo and the tests; the product imports nothing from it. `synkro sandbox serve` replaces
itself with `python -m sandbox serve`, and `synkro demo` / `synkro dev` run it as a child
(`SandboxProcess`): the child writes its info file once it listens, we read the base URL from
it and wait for `GET /_sandbox/info` to answer before using it.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from synkro.child_env import minimal_env

# The sandbox reads extra faults from this variable; a leftover one must not change the demo.
FAULTS_ENV = "SYNKRO_SANDBOX_FAULTS"


class SandboxError(RuntimeError):
    """The sandbox is not installed, or its process did not come up."""


def require_sandbox() -> None:
    """Fail in one line when the `sandbox` package is missing (installed without the extra)."""
    if importlib.util.find_spec("sandbox") is None:
        raise SandboxError(
            "the sandbox is not installed: install Synkro with its `sandbox` extra "
            "(make install, or pip install 'synkro[sandbox]')"
        )


def sandbox_command(*args: str) -> list[str]:
    """`python -P -m sandbox ARGS` on this interpreter.

    `-P` keeps the working directory off `sys.path`, so a folder named `sandbox` wherever the
    user happens to be cannot stand in for the installed package.
    """
    return [sys.executable, "-P", "-m", "sandbox", *args]


@dataclass(frozen=True)
class SandboxUrls:
    """Where a running sandbox listens: the root and its `/_sandbox` control API."""

    root: str
    control: str


def _root_url(info: dict[str, Any]) -> str:
    """The sandbox origin, taken from the amoCRM base URL in its info file."""
    parts = urlsplit(info["amocrm"]["base_url"])
    return f"{parts.scheme}://{parts.netloc}"


def _answer(control_url: str) -> dict[str, Any] | None:
    """`GET /_sandbox/info`, or None while the server does not answer yet."""
    try:
        response = httpx.get(f"{control_url}/info", timeout=2)
    except httpx.TransportError:
        return None
    return response.json() if response.status_code == 200 else None


class SandboxProcess:
    """`python -m sandbox serve` as a child process; use as a context manager or start()/stop().

    The child's stdout (its banner with every credential) is discarded, since callers print what
    they need; its stderr stays on the terminal so a failure to start is explained there.
    """

    def __init__(
        self, port: int = 0, scenario: str = "small", seed: int = 42, start_timeout: float = 300.0
    ) -> None:
        self.port = port
        self.scenario = scenario
        self.seed = seed
        self.start_timeout = start_timeout
        self.urls = SandboxUrls(root="", control="")
        self._info: dict[str, Any] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None

    def start(self) -> SandboxProcess:
        """Start the child and return once it answers; on any failure the child is stopped."""
        require_sandbox()
        self._dir = Path(tempfile.mkdtemp(prefix="synkro-sandbox-"))
        info_file = self._dir / "info.json"
        args = ["--port", str(self.port), "--seed", str(self.seed), "--scenario", self.scenario]
        # Only what it needs to run: never the master key or database passwords (synkro.child_env).
        env = minimal_env(names=("PYTHONPATH",))  # SYNKRO_SANDBOX_FAULTS stays out too
        self._process = subprocess.Popen(
            sandbox_command("serve", *args, "--info-file", str(info_file)),
            stdout=subprocess.DEVNULL,
            env=env,
        )
        try:
            self._wait_ready(self._process, info_file)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, process: subprocess.Popen[bytes], info_file: Path) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            code = process.poll()
            if code is not None:
                raise SandboxError(f"the sandbox exited with code {code} before it was ready")
            if info_file.exists():
                root = _root_url(json.loads(info_file.read_text(encoding="utf-8")))
                answer = _answer(f"{root}/_sandbox")
                if answer is not None:
                    self.urls = SandboxUrls(root=root, control=f"{root}/_sandbox")
                    self._info = answer
                    return
            if time.monotonic() > deadline:
                raise SandboxError(f"the sandbox did not answer within {self.start_timeout:.0f} s")
            time.sleep(0.05)

    def info(self) -> dict[str, Any]:
        """Base URLs and the sandbox's fake credentials (the `--info-file` payload).

        Fetched once at start: none of it changes while the process runs.
        """
        return copy.deepcopy(self._info)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (uvicorn shuts down gracefully), then SIGKILL if it is still there."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
