"""`synkro-dbt`: the dbt executable Synkro runs, and how the warehouse password reaches it.

dagster-dbt starts dbt as `[dbt_executable, *args]` with a copy of the parent's `os.environ` and
offers no public way to add a variable for the child alone (`DbtCliResource.cli()` has no `env`
argument; `DbtCliInvocation.run(env=...)` is not public and would skip the selection logic of
`cli()`). Putting the password into `os.environ` of the step process would hand it to every other
subprocess of that process and, with two tenants in one process (threads, the in-process
executor), to the wrong dbt. Writing it into `profiles.yml` would leave the secret in a file for
as long as dbt runs, and behind for good if the process is killed.

So the password travels through a FIFO (named pipe, mode 0600) in the invocation's own target
dir: the parent opens it for writing in a thread (`password_handoff`), this executable reads it
once at start-up, unlinked as soon as both ends are open, and sets `SYNKRO_DBT_PASSWORD` in its
own environment before handing over to dbt in the same process. A pipe holds its bytes in the
kernel, never on disk; only the same OS user can open it, the same user who could read the dbt
process's environment anyway. The child finds the pipe through `DBT_TARGET_PATH`, which
dagster-dbt sets per invocation and dbt itself honours. No pipe there (e.g. `dbt parse`, which
needs no connection): dbt starts without a password.

`synkro-dbt --version` answers from the installed package metadata. dagster-dbt runs
`<dbt> --version` once for every new resource to learn the version; dbt's own `--version` imports
all of dbt and asks PyPI for the latest dbt-core and adapter releases (4–15 s on a loaded 2-core
machine). Every other command is plain dbt (`dbt.cli.main.cli`).

This module imports only the standard library at start-up, so the executable starts fast.
"""

from __future__ import annotations

import os
import signal
import stat
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from importlib import metadata
from pathlib import Path

from synkro.child_env import minimal_env

PASSWORD_ENV = "SYNKRO_DBT_PASSWORD"
CLEAN_MARKER = "SYNKRO_DBT_MINIMAL_ENV"
HANDOFF_NAME = ".synkro-dbt-password"
HANDOFF_TIMEOUT_S = 60
VERSION_ARGS = (["--version"], ["-V"], ["-v"])


@contextmanager
def password_handoff(target_dir: Path, password: str) -> Iterator[None]:
    """Offer `password` to the one dbt process started in `target_dir` while the block runs.

    The writer thread blocks until dbt opens the pipe, removes the pipe's name (so nothing else
    can open it), writes and closes. Leaving the block releases a writer that is still waiting
    (dbt never started) without writing anything. An empty password offers nothing.
    """
    if not password:
        yield
        return
    path = target_dir / HANDOFF_NAME
    os.mkfifo(path, 0o600)
    abandoned = threading.Event()
    writer = threading.Thread(
        target=_feed, args=(path, password.encode(), abandoned), name="dbt-password", daemon=True
    )
    writer.start()
    try:
        yield
    finally:
        abandoned.set()
        try:  # no dbt read it: hold a read end open so the writer's open() returns, then let go
            release = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:  # the writer met its reader and already removed the name
            release = None
        writer.join(timeout=5)
        if release is not None:
            os.close(release)
        with suppress(FileNotFoundError):
            path.unlink()


def _feed(path: Path, secret: bytes, abandoned: threading.Event) -> None:
    try:
        fd = os.open(path, os.O_WRONLY)  # blocks until the reader opens the other end
    except OSError:
        return
    try:
        with suppress(FileNotFoundError):
            path.unlink()
        if not abandoned.is_set():
            os.write(fd, secret)
    except OSError:  # the reader went away (BrokenPipeError)
        pass
    finally:
        os.close(fd)


def receive_password(target_dir: Path) -> str | None:
    """The password offered in `target_dir`, or None when there is no pipe."""
    path = target_dir / HANDOFF_NAME
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    if not stat.S_ISFIFO(mode):
        raise SystemExit(f"{path} is not a pipe: refusing to read a password from a file")

    def give_up(signum: int, frame: object) -> None:
        raise SystemExit(f"no password was offered through {path} within {HANDOFF_TIMEOUT_S} s")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(HANDOFF_TIMEOUT_S)
    try:
        with open(path, "rb") as pipe:
            return pipe.read().decode()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def version_text() -> str:
    """What `dbt --version` says about the installed packages, without asking PyPI."""
    lines = ["Core:", f"  - installed: {metadata.version('dbt-core')}", "", "Plugins:"]
    with suppress(metadata.PackageNotFoundError):
        lines.append(f"  - postgres: {metadata.version('dbt-postgres')}")
    return "\n".join(lines)


def _restart_with_minimal_env() -> None:
    """Replace this process by itself with only what dbt needs in its environment.

    dagster-dbt starts us with a copy of the step's environment, master key included, and offers no
    way to choose the child's. Changing `os.environ` here would still leave the original in
    `/proc/<pid>/environ`, so the process executes itself again with the minimal environment
    (`synkro.child_env`): dbt's variables (`DBT_*`, dagster-dbt's `DAGSTER_DBT_*`) and the basics.
    """
    if os.environ.get(CLEAN_MARKER) == "1":
        return
    env = minimal_env(prefixes=("DBT_", "DAGSTER_DBT_"), extra={CLEAN_MARKER: "1"})
    script = sys.argv[0]
    os.execve(sys.executable, [sys.executable, script, *sys.argv[1:]], env)


def main() -> None:
    args = sys.argv[1:]
    if args in VERSION_ARGS:
        print(version_text())
        return
    _restart_with_minimal_env()
    target = os.environ.get("DBT_TARGET_PATH")
    if target:
        password = receive_password(Path(target))
        if password is not None:
            os.environ[PASSWORD_ENV] = password
    from dbt.cli.main import cli

    sys.argv[0] = "dbt"
    sys.exit(cli())
