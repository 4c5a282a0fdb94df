"""The audit log: who changed what, for which tenant. Append-only (a trigger refuses UPDATE/DELETE).

Callers should never put secrets into `details`, but the log is kept clean defensively: any key
that looks like it holds a credential is masked before the row is written.
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from synkro.controlplane.tables import audit_log, user_roles, users
from synkro.secrets import mask

SECRET_KEY_RE = re.compile(
    r"(secret|token|password|passwd|api_?key|private|credential|dsn|database_url|auth_code|anon_key|"
    r"service_role)",
    re.IGNORECASE,
)


def os_user() -> str:
    """The OS user running this process (``unknown`` without a passwd entry, as in some containers)."""
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def default_actor() -> str:
    """Who a change made from this process is recorded as, before ``$SYNKRO_ACTOR`` is checked: the OS
    user. ``AuditRepository.process_actor`` honours ``$SYNKRO_ACTOR`` only for a super_admin."""
    return os_user()


def scrub(value: Any) -> Any:
    """Mask values stored under secret-looking keys, recursively."""
    if isinstance(value, dict):
        cleaned: dict[str, Any] = {}
        for key, item in value.items():
            if SECRET_KEY_RE.search(str(key)) and isinstance(item, (str, int, float)) and item != "":
                cleaned[str(key)] = mask(item) or "••••"
            elif hasattr(item, "get_secret_value"):
                cleaned[str(key)] = mask(item)
            else:
                cleaned[str(key)] = scrub(item)
        return cleaned
    if isinstance(value, (list, tuple, set)):
        return [scrub(item) for item in value]
    if hasattr(value, "get_secret_value"):
        return mask(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    tenant: str | None
    action: str
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


class AuditRepository:
    def __init__(self, engine: Engine):
        self._engine = engine
        self._process_actor: str | None = None

    def process_actor(self) -> str:
        """The actor of changes this process makes without a signed-in user (CLI, jobs).

        Why not ``$SYNKRO_ACTOR`` as given: anyone can set an environment variable, so an audit
        entry naming a person must be earned. It names the account in ``$SYNKRO_ACTOR`` only when that
        account is a super_admin (an operator acting for someone, e.g. a support session); otherwise
        the OS user, which the machine vouches for.
        """
        if self._process_actor is None:
            claimed = (os.environ.get("SYNKRO_ACTOR") or "").strip().lower()
            actor = os_user()
            if claimed:
                query = (
                    select(user_roles.c.id)
                    .join(users, users.c.id == user_roles.c.user_id)
                    .where(users.c.email == claimed, user_roles.c.role == "super_admin")
                )
                with self._engine.connect() as conn:
                    if conn.execute(query).first() is not None:
                        actor = claimed
            self._process_actor = actor
        return self._process_actor

    def record(
        self,
        actor: str | None,
        action: str,
        tenant: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        conn: Connection | None = None,
    ) -> None:
        """Append one entry; pass `conn` to make it part of the change's own transaction."""
        row = {
            "actor": actor or self.process_actor(),
            "action": action,
            "tenant": tenant,
            "details": scrub(details or {}),
        }
        if conn is not None:
            conn.execute(insert(audit_log).values(**row))
            return
        with self._engine.begin() as own:
            own.execute(insert(audit_log).values(**row))

    def list(
        self, tenant: str | None = None, action: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Newest first."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if tenant is not None:
            query = query.where(audit_log.c.tenant == tenant)
        if action is not None:
            query = query.where(audit_log.c.action == action)
        with self._engine.connect() as conn:
            return [AuditEntry(**row._mapping) for row in conn.execute(query)]
