"""Shared helpers for the control-plane tests: unique slugs, a fresh database, a CLI runner."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from typer.testing import CliRunner

from synkro.cli.app import app
from synkro.db import with_database

runner = CliRunner()


def new_slug(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def synkro(*args: str, input: str | None = None):
    """Run the real `synkro` CLI in-process; returns click's Result (exit_code, stdout, stderr)."""
    return runner.invoke(app, list(args), input=input)


@contextmanager
def fresh_database(url: str) -> Iterator[str]:
    """An empty database next to `url` (same server), dropped afterwards."""
    name = f"synkro_cp_{uuid.uuid4().hex[:10]}"
    admin_url = with_database(url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    try:
        yield with_database(url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')
