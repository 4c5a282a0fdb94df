"""Connecting a tenant's amoCRM account: one rule for `synkro amocrm connect` and the portal.

An authorization code is single use: once amoCRM has answered the exchange, the returned pair is
the tenant's only access. So the pair is stored (encrypted, through the control plane) before
anything else is tried, and only then is the account asked for its stable id
(`GET /api/v4/account`; subdomains can be renamed). A stored grant replaces any other: a new
OAuth pair clears a long-lived token and a pasted code, and the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from synkro.clients.amocrm_oauth import OAuthApp, TokenPair, exchange_code

if TYPE_CHECKING:
    from synkro.controlplane import ControlPlane


@dataclass(frozen=True)
class Connected:
    """The outcome of a stored grant: the account (None when it did not answer) and why not."""

    account: dict[str, Any] | None
    expires_at: datetime | None
    problem: str | None = None

    def __repr__(self) -> str:
        account_id = self.account.get("id") if self.account else None
        return f"Connected(account_id={account_id}, expires_at={self.expires_at})"


def pair_fields(pair: TokenPair) -> dict[str, Any]:
    """The config fields an OAuth pair is stored in (a long-lived token or pasted code goes)."""
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "expires_at": int(pair.expires_at.timestamp()) if pair.expires_at else None,
        "long_lived_token": None,
        "auth_code": None,
    }


def account_of(base_url: str, token: str) -> tuple[dict[str, Any] | None, str | None]:
    """`GET /api/v4/account` with `token`: the account, or None and what went wrong."""
    from synkro.clients.amocrm import AmoCRMClient, AmoCRMError, StaticTokenProvider

    with AmoCRMClient(base_url, StaticTokenProvider(token), max_attempts=3) as client:
        try:
            return client.get("/api/v4/account"), None
        except AmoCRMError as exc:
            return None, str(exc)


def connect_with_code(
    cp: ControlPlane, slug: str, app: OAuthApp, code: str, public: dict[str, Any], *, actor: str | None
) -> Connected:
    """Exchange `code`, store the pair with the `public` fields, then record the account id.

    Raises `AmoCRMError` (nothing stored) when amoCRM refuses the code or cannot be reached.
    """
    pair = exchange_code(app, code)
    cp.configs.set_config(slug, "amocrm", {**public, **pair_fields(pair)}, actor=actor)
    account, problem = account_of(app.base_url, pair.access_token)
    if account and account.get("id"):
        cp.configs.set_config(slug, "amocrm", {"account_id": account["id"]}, actor=actor)
    return Connected(account, pair.expires_at, problem)
