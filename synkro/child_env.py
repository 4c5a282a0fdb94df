"""The environment a child process gets: what it needs to run, never the installation's secrets.

Why: a child inherits the parent's environment, and a Synkro process holds `SYNKRO_SECRET_KEY`
(which decrypts every tenant's credentials), `DATABASE_URL` with its password and Dagster's
Postgres password. dbt can read any variable with `env_var()` and writes it to logs on request; a
sandbox or a tool has no business seeing them at all. So children get an allowlist: the
variables that locate programs, files, locale and certificates, plus the ones the caller names.

Only the standard library is imported here: `synkro-dbt` uses it before dbt starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

# Exact names a program may need to run at all.
BASE_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TEMP",
        "TMP",
        "TERM",
        "NO_COLOR",
        "FORCE_COLOR",
        "COLUMNS",
        "VIRTUAL_ENV",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "DO_NOT_TRACK",
        "XDG_RUNTIME_DIR",
    }
)
BASE_PREFIXES = ("LC_",)
# Never passed on, whatever a caller asks for.
FORBIDDEN = frozenset(
    {"SYNKRO_SECRET_KEY", "DATABASE_URL", "DAGSTER_PG_PASSWORD", "POSTGRES_PASSWORD", "SYNKRO_ADMIN_PASSWORD"}
)


def minimal_env(
    *,
    names: Iterable[str] = (),
    prefixes: Iterable[str] = (),
    extra: Mapping[str, str] | None = None,
    source: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The allowlisted variables of `source` (default os.environ), plus `names`/`prefixes`, plus `extra`."""
    source = os.environ if source is None else source
    wanted = BASE_NAMES | set(names)
    starts = BASE_PREFIXES + tuple(prefixes)
    env = {
        key: value
        for key, value in source.items()
        if (key in wanted or key.startswith(starts)) and key not in FORBIDDEN
    }
    env.update(extra or {})
    return env
