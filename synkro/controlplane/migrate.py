"""Schema migrations and the engine the control plane uses.

`migrate(url)` is idempotent and cheap after the first call in a process, so every command that
touches the control plane simply calls it first ("run automatically by commands that need it").
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine

from synkro.db import normalize_url, sqlalchemy_url

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"

_migrated: set[str] = set()
_lock = threading.Lock()


@lru_cache(maxsize=16)
def engine_for(url: str) -> Engine:
    """One pooled engine per database; `hide_parameters` keeps bound values out of error messages."""
    return create_engine(sqlalchemy_url(url), pool_pre_ping=True, hide_parameters=True)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on `%` in URL-encoded passwords.
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return config


def migrate(url: str, *, force: bool = False) -> None:
    """Bring schema `synkro` of the database at `url` to the newest revision."""
    key = normalize_url(url)
    with _lock:
        if key in _migrated and not force:
            return
        config = alembic_config(key)
        with engine_for(key).connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        _migrated.add(key)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine_for(normalize_url(url)).connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table_schema": "synkro"})
        return context.get_current_revision()
