"""OAuth `state` values: signed, single use, bound to one tenant and one user, valid 20 minutes.

Why both a signature and a row: the signature (itsdangerous, keyed by the portal's state secret)
refuses a forged or altered value without touching the database; the row (`synkro.oauth_states`,
holding only the sha256 of the random nonce) makes the value single use and ties it to the tenant
and the user who pressed "Connect", so a callback replayed later, or opened in another person's
browser, is refused. amoCRM's authorization codes live 20 minutes, so a state lives as long.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, insert, select, update

from synkro.controlplane.errors import BadInputError
from synkro.controlplane.tables import oauth_states, tenants

if TYPE_CHECKING:
    from synkro.controlplane import ControlPlane

STATE_LIFETIME = timedelta(minutes=20)
# Spent and expired rows are of no use after this; each new state sweeps them away.
KEEP_ROWS = timedelta(days=1)
REASONS = ("forged", "unknown", "other_user", "used", "expired")


class OAuthStateError(BadInputError):
    """A `state` that must be refused; `reason` is one of REASONS (never echoes the value).

    `tenant` is the tenant the state was issued for, when it is known (for the audit log).
    """

    def __init__(self, reason: str, tenant: str | None = None):
        self.reason = reason
        self.tenant = tenant
        super().__init__(f"OAuth state refused: {reason}")


@dataclass(frozen=True)
class ConsumedState:
    """What a valid state was bound to, returned once when it is spent."""

    provider: str
    tenant: str
    user_id: int


def _nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def _serializer(secret: bytes, provider: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=f"synkro.oauth-state.{provider}")


class OAuthStateRepository:
    def __init__(self, cp: ControlPlane):
        self._cp = cp

    def issue(self, provider: str, slug: str, user_id: int, secret: bytes, *, actor: str | None) -> str:
        """A new signed state for `user_id` connecting `provider` in tenant `slug`."""
        nonce = secrets.token_urlsafe(32)
        with self._cp.engine.begin() as conn:
            tenant_id = self._cp.tenants.id_of(conn, slug)
            conn.execute(delete(oauth_states).where(oauth_states.c.expires_at < func.now() - KEEP_ROWS))
            conn.execute(
                insert(oauth_states).values(
                    nonce_hash=_nonce_hash(nonce),
                    provider=provider,
                    tenant_id=tenant_id,
                    user_id=user_id,
                    expires_at=datetime.now(UTC) + STATE_LIFETIME,
                )
            )
            self._cp.audit.record(actor, "oauth.start", slug, {"provider": provider}, conn=conn)
        return _serializer(secret, provider).dumps(nonce)

    def consume(self, provider: str, state: str, secret: bytes, *, user_id: int) -> ConsumedState:
        """Spend `state` if it is genuine, unused, unexpired and `user_id`'s; else OAuthStateError.

        The row is locked while it is checked and marked used, so two callbacks racing with the
        same state cannot both pass.
        """
        try:
            nonce = _serializer(secret, provider).loads(state, max_age=int(STATE_LIFETIME.total_seconds()))
        except SignatureExpired:
            raise OAuthStateError("expired") from None
        except BadSignature:
            raise OAuthStateError("forged") from None
        if not isinstance(nonce, str):
            raise OAuthStateError("forged")
        with self._cp.engine.begin() as conn:
            row = conn.execute(
                select(oauth_states, tenants.c.slug)
                .join(tenants, tenants.c.id == oauth_states.c.tenant_id)
                .where(oauth_states.c.nonce_hash == _nonce_hash(nonce))
                .with_for_update(of=oauth_states)
            ).first()
            if row is None or row.provider != provider:
                raise OAuthStateError("unknown")
            if row.user_id != user_id:
                raise OAuthStateError("other_user", row.slug)
            if row.used_at is not None:
                raise OAuthStateError("used", row.slug)
            if row.expires_at <= datetime.now(UTC):
                raise OAuthStateError("expired", row.slug)
            conn.execute(update(oauth_states).where(oauth_states.c.id == row.id).values(used_at=func.now()))
        return ConsumedState(provider=provider, tenant=row.slug, user_id=row.user_id)
