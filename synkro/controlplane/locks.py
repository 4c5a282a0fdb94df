"""Per-tenant Postgres advisory locks: one holder at a time per (purpose, tenant), across processes.

Why advisory locks and not row locks: the work they guard (a Telegram delivery) takes seconds to
minutes of network calls, during which no transaction should stay open. A session-level lock on a
dedicated connection is held for exactly as long as the `with` block, and Postgres releases it if
the process dies (the connection closes), so a crashed run never leaves a tenant locked.

Keys use the two-integer form `(namespace, tenant id)`, which never collides with the one-bigint
migration lock (synkro/migrations/env.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

import psycopg

from synkro.controlplane.errors import ControlPlaneError

if TYPE_CHECKING:
    from synkro.controlplane import ControlPlane

# Namespaces (the first key), one per purpose.
TELEGRAM_DELIVERY = 0x544C4752  # "TLGR"
# Master-key rotation (exclusive, key 0) against every secret write (shared, in its transaction).
SECRETS_ROTATION = 0x53454352  # "SECR"


class LockTimeout(ControlPlaneError):
    """Another holder kept the lock longer than the caller would wait; try again later."""


def lock_key(tenant_id: int) -> int:
    """The second key: the tenant id folded into Postgres' int4 (ids beyond 2^31 share a key)."""
    return tenant_id & 0x7FFFFFFF


@contextmanager
def tenant_lock(
    cp: ControlPlane, slug: str, namespace: int, *, timeout_seconds: float | None = None
) -> Iterator[None]:
    """Hold advisory lock (namespace, tenant) for the block; wait at most `timeout_seconds`.

    Raises `LockTimeout` (its cause is Postgres' lock_not_available) when the wait runs out.
    """
    key = lock_key(cp.tenants.get(slug).id)
    wait_ms = None if timeout_seconds is None else int(timeout_seconds * 1000)
    with psycopg.connect(cp.url, autocommit=True) as conn:
        if wait_ms is not None and wait_ms > 0:
            conn.execute("select set_config('lock_timeout', %s, false)", (f"{wait_ms}ms",))
        try:
            if wait_ms is not None and wait_ms <= 0:  # lock_timeout 0 would mean "wait forever"
                if not conn.execute("select pg_try_advisory_lock(%s, %s)", (namespace, key)).fetchone()[0]:
                    raise LockTimeout(f"lock {namespace:#x} of tenant {slug!r} is held elsewhere")
            else:
                conn.execute("select pg_advisory_lock(%s, %s)", (namespace, key))
        except psycopg.errors.LockNotAvailable as exc:
            raise LockTimeout(
                f"lock {namespace:#x} of tenant {slug!r} is held elsewhere; gave up after {timeout_seconds} s"
            ) from exc
        try:
            yield
        finally:
            with suppress(psycopg.OperationalError):  # a lost connection has released it already
                conn.execute("select pg_advisory_unlock(%s, %s)", (namespace, key))


def amocrm_token_lock_name(slug: str) -> str:
    """The amoCRM token refresh lock (`pg_advisory_xact_lock(hashtext(name))`): taken by a refresh
    and by every operator write of the amoCRM config, so neither loses the other's tokens."""
    return f"amocrm:{slug}"
