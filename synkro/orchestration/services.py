"""`synkro up | down`: the local services runs need, started in the background and reused.

A fresh machine needs nothing installed, so Synkro runs what production runs as services itself:
the embedded Postgres (`synkro.db`), a Dagster code server (`dagster api grpc`, which also starts
each run's worker process: the DefaultRunLauncher), the Dagster daemon (run queue, sensors, run
monitoring) and, with `--ui`, the Dagster webserver. All of them open the one instance of
`synkro.orchestration.instance`. Their pids and ports live in `$DAGSTER_HOME/services/state.json`
(the services are per instance, so a test run with its own DAGSTER_HOME gets its own); a file lock
keeps two `synkro run` started together from starting two code servers.

When the code, the database or Synkro's environment changed since the services started, `up`
restarts them — a code server keeps the definitions it imported, so reusing it would run old code.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from synkro.orchestration.instance import dagster_home, open_instance, runtime_env
from synkro.orchestration.pools import ensure_pools
from synkro.paths import REPO_ROOT
from synkro.ports import free_port, port_is_free

LOCATION = "synkro"
ORDER = ("code_server", "daemon", "webserver")  # started in this order, stopped in reverse
CODE_DIRS = ("synkro", "synkro_dagster", "dlt_sources")
READY_TIMEOUT_S = 180.0
# The environment runs inherit from the code server: a change means a restart.
ENV_PREFIXES = ("SYNKRO_", "DATABASE_URL", "DAGSTER_HOME")
# The portal's own settings: a portal launching runs (`start_tenant_run`) with them set must not
# restart services that `synkro up` started without them.
ENV_IGNORED = ("SYNKRO_TEST_", "SYNKRO_DEBUG", "SYNKRO_PUBLIC_URL", "SYNKRO_DAGSTER_UI_URL")
STOP_TIMEOUT_S = 30.0


class ServiceError(RuntimeError):
    """A service did not start; the message names it and where its log is."""


@dataclass
class Service:
    name: str
    pid: int
    port: int | None
    log: str

    def alive(self) -> bool:
        return _pid_alive(self.pid)


@dataclass
class Services:
    """What runs: the code server's address is what launchers and the daemon connect to."""

    home: Path
    running: dict[str, Service]

    @property
    def code_server_port(self) -> int:
        return self.running["code_server"].port or 0

    @property
    def workspace_file(self) -> Path:
        return self.home / "workspace.yaml"

    @property
    def ui_url(self) -> str | None:
        ui = self.running.get("webserver")
        return f"http://127.0.0.1:{ui.port}" if ui else None


def services_dir() -> Path:
    path = dagster_home() / "services"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not alive.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            return False
    return True


def fingerprint(env: dict[str, str]) -> str:
    """What the services depend on: the code, the dbt manifest, the database and Synkro's env.

    Only a digest is stored, never a value (the env holds the database DSN and the master key).
    """
    digest = hashlib.sha256()
    for folder in CODE_DIRS:
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            stat = path.stat()
            digest.update(f"{path}:{stat.st_mtime_ns}:{stat.st_size}".encode())
    manifest = REPO_ROOT / "dbt_project" / "target" / "manifest.json"
    if manifest.exists():
        digest.update(str(manifest.stat().st_mtime_ns).encode())
    for name in sorted(env):
        if name.startswith(ENV_PREFIXES) and not name.startswith(ENV_IGNORED):
            digest.update(f"{name}={env[name]}".encode())
    return digest.hexdigest()


def _state_path() -> Path:
    return services_dir() / "state.json"


def _read_state() -> dict:
    try:
        return json.loads(_state_path().read_text())
    except (OSError, ValueError):
        return {}


def _write_state(state: dict) -> None:
    path = _state_path()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


@contextlib.contextmanager
def _lock() -> Iterator[None]:
    with open(services_dir() / "services.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _default_signals() -> None:
    """In the child: SIGINT/SIGTERM back to their defaults, even when the parent ignores them
    (a shell starting `make dev &` does), so `synkro down` can always stop the service."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _spawn(name: str, argv: list[str], env: dict[str, str], port: int | None) -> Service:
    log = services_dir() / f"{name}.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_default_signals,
        )
    return Service(name, process.pid, port, str(log))


def _wait(service: Service, ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if not service.alive():
            raise ServiceError(f"{what} exited while starting; see {service.log}")
        if ready():
            return
        time.sleep(0.2)
    raise ServiceError(f"{what} did not become ready in {READY_TIMEOUT_S:.0f} s; see {service.log}")


def _grpc_ready(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        from dagster._grpc.client import DagsterGrpcClient

        try:
            DagsterGrpcClient(port=port, host="127.0.0.1").ping("synkro")
        except Exception:
            return False
        return True

    return ready


def _http_ready(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        import httpx

        try:
            return httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    return ready


def _workspace_yaml(port: int) -> str:
    return (
        "# generated by synkro up: the code server every local Dagster process loads\n"
        "load_from:\n"
        "  - grpc_server:\n"
        "      host: 127.0.0.1\n"
        f"      port: {port}\n"
        f"      location_name: {LOCATION}\n"
    )


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _load(state: dict) -> dict[str, Service]:
    return {name: Service(**data) for name, data in state.get("services", {}).items()}


def status() -> Services | None:
    """The services that are up, or None when the code server is not."""
    running = {n: s for n, s in _load(_read_state()).items() if s.alive()}
    if "code_server" not in running:
        return None
    return Services(services_dir(), running)


def up(ui: bool = False, ui_port: int = 3000, say: Callable[[str], None] | None = None) -> Services:
    """Start what is not running yet (and restart everything if code or env changed)."""
    say = say or (lambda _message: None)
    from synkro.db import database_url

    database_url()  # starts the embedded server when DATABASE_URL is unset
    env = runtime_env()
    with _lock():
        state = _read_state()
        running = {n: s for n, s in _load(state).items() if s.alive()}
        wanted = fingerprint(env)
        if running and state.get("fingerprint") != wanted:
            say("code or settings changed since the services started: restarting them")
            _stop_all(running, say)
            running = {}
        home = services_dir()
        if "code_server" not in running:
            port = free_port()
            say(f"starting the Dagster code server on 127.0.0.1:{port}")
            argv = [_bin("dagster"), "api", "grpc", "-m", "synkro_dagster.definitions"]
            argv += ["-h", "127.0.0.1", "-p", str(port), "--location-name", LOCATION, "-d", str(REPO_ROOT)]
            service = _spawn("code_server", argv, env, port)
            _wait(service, _grpc_ready(port), "the Dagster code server")
            running["code_server"] = service
            ensure_pools(open_instance())
            # Whatever ran against an older code server must reload the workspace.
            for name in ("daemon", "webserver"):
                if name in running:
                    _stop(running.pop(name))
        (home / "workspace.yaml").write_text(_workspace_yaml(running["code_server"].port or 0))
        if "daemon" not in running:
            say("starting the Dagster daemon (run queue, sensors, run monitoring)")
            argv = [_bin("dagster-daemon"), "run", "-w", str(home / "workspace.yaml")]
            running["daemon"] = _spawn("daemon", argv, env, None)
        if ui and "webserver" not in running:
            if not port_is_free(ui_port):
                raise ServiceError(f"port {ui_port} is taken; pass another one (--port)")
            say(f"starting the Dagster UI on http://127.0.0.1:{ui_port}")
            argv = [_bin("dagster-webserver"), "-w", str(home / "workspace.yaml")]
            argv += ["-h", "127.0.0.1", "-p", str(ui_port)]
            service = _spawn("webserver", argv, env, ui_port)
            _wait(service, _http_ready(ui_port), "the Dagster webserver")
            running["webserver"] = service
        _write_state(
            {"fingerprint": wanted, "services": {n: vars(s) for n, s in running.items()}},
        )
        return Services(home, running)


def _stop(service: Service) -> None:
    """SIGTERM the service's process group (a code server's run workers are in it), then wait;
    SIGKILL what is left after STOP_TIMEOUT_S."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(service.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and _group_alive(service.pid):
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(service.pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(service.pid, os.WNOHANG)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _pid_alive(pgid) or any(_members(pgid))


def _members(pgid: int) -> Iterator[int]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().split(") ", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    yield int(entry.name)


def _stop_all(running: dict[str, Service], say: Callable[[str], None]) -> None:
    for name in reversed(ORDER):
        if name in running:
            say(f"stopping the {name.replace('_', ' ')} (pid {running[name].pid})")
            _stop(running[name])


def down(only: tuple[str, ...] = ORDER, say: Callable[[str], None] | None = None) -> list[str]:
    """Stop the services (all, or `only` some of them); returns the names that were running."""
    say = say or (lambda _message: None)
    with _lock():
        state = _read_state()
        services = _load(state)
        running = {n: s for n, s in services.items() if n in only and s.alive()}
        _stop_all(running, say)
        left = {n: vars(s) for n, s in services.items() if n not in only and s.alive()}
        _write_state({"fingerprint": state.get("fingerprint"), "services": left})
        return list(running)
