"""How every part of Synkro reaches its Postgres.

`DATABASE_URL` wins when set (production: Supabase or any Postgres). Otherwise the embedded
server under `.synkro/pg` is started on demand and the `synkro` database on it is used, so a
fresh machine needs nothing installed.
"""

from __future__ import annotations

import os
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

import psycopg

from synkro.db import embedded

EMBEDDED_DATABASE = "synkro"


def uses_embedded() -> bool:
    return not os.environ.get("DATABASE_URL")


def database_url() -> str:
    """The installation's database URL (libpq form, `postgresql://`)."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        return normalize_url(configured)
    url = embedded.server_url(EMBEDDED_DATABASE)
    ensure_database(url)
    return url


def normalize_url(url: str) -> str:
    """Accept `postgres://` and SQLAlchemy-style `postgresql+psycopg://` spellings too."""
    scheme, rest = url.split("://", 1)
    if scheme in {"postgres", "postgresql+psycopg", "postgresql+psycopg2"}:
        scheme = "postgresql"
    return f"{scheme}://{rest}"


def sqlalchemy_url(url: str | None = None) -> str:
    return normalize_url(url or database_url()).replace("postgresql://", "postgresql+psycopg://", 1)


def masked_url(url: str) -> str:
    """The URL with any password replaced, safe to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":****@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def ensure_database(url: str) -> None:
    """Create the URL's database if it does not exist (connecting to `postgres` to do so)."""
    name = urlsplit(url).path.lstrip("/")
    try:
        with psycopg.connect(url, connect_timeout=10):
            return
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as admin:
        exists = admin.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            admin.execute(f'create database "{name}"')


def connect(url: str | None = None, **kwargs) -> psycopg.Connection:
    """A psycopg 3 connection to the installation's database (or `url`)."""
    return psycopg.connect(url or database_url(), **kwargs)


@lru_cache(maxsize=8)
def _engine_for(url: str):
    from sqlalchemy import create_engine

    return create_engine(sqlalchemy_url(url), pool_pre_ping=True, future=True)


def engine(url: str | None = None):
    """A cached SQLAlchemy engine (psycopg 3 driver) for the database."""
    return _engine_for(url or database_url())
