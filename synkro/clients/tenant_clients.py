"""Build a tenant's amoCRM and Radist clients from its control-plane configs at run time.

Credentials never come from files or the environment: they are read (decrypted) from the control
plane when a load starts, and rotated amoCRM tokens go back there through `ControlPlaneTokenStore`
with the config's optimistic-lock version, before the new access token is used.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from synkro.clients.amocrm import AmoCRMClient, AmoCRMError, StaticTokenProvider, TokenProvider
from synkro.clients.amocrm_oauth import (
    OAuthApp,
    OAuthTokenProvider,
    StoredTokens,
    TokenConflictError,
    TokenPair,
)
from synkro.clients.radist import DEFAULT_MAX_IN_FLIGHT, RadistClient
from synkro.clients.ratelimit import shared_limiter

if TYPE_CHECKING:
    from synkro.controlplane import ControlPlane

DEFAULT_AMOCRM_RPS = 7.0


def _secret(value: object) -> str | None:
    if value is None:
        return None
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


class ControlPlaneTokenStore:
    """`TokenStore` over the tenant's `amocrm` integration config (encrypted, versioned)."""

    def __init__(self, cp: ControlPlane, slug: str) -> None:
        self.cp = cp
        self.slug = slug

    def __repr__(self) -> str:
        return f"ControlPlaneTokenStore(slug={self.slug!r})"

    def load(self) -> StoredTokens:
        record = self.cp.configs.get_record(self.slug, "amocrm")
        config = record.config
        expires = getattr(config, "expires_at", None)
        pair = TokenPair(
            access_token=_secret(getattr(config, "access_token", None)) or "",
            refresh_token=_secret(getattr(config, "refresh_token", None)),
            expires_at=datetime.fromtimestamp(int(expires), tz=UTC) if expires else None,
        )
        return StoredTokens(pair, record.version)

    def save(self, pair: TokenPair, expected_version: int) -> int:
        from synkro.controlplane import ConcurrentUpdateError

        changes: dict[str, object] = {
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "expires_at": int(pair.expires_at.timestamp()) if pair.expires_at else None,
        }
        try:
            record = self.cp.configs.update_config_fields(self.slug, "amocrm", changes, expected_version)
        except ConcurrentUpdateError as exc:
            raise TokenConflictError(
                f"amoCRM config of {self.slug!r} changed during a token refresh"
            ) from exc
        return record.version


def amocrm_base_url(config: Any) -> str:
    base = getattr(config, "base_url", None)
    return (base or f"https://{config.subdomain}.amocrm.ru").rstrip("/")


def amocrm_token_provider(cp: ControlPlane, slug: str) -> TokenProvider:
    """Long-lived token when the tenant stored one, else OAuth tokens with locked refresh."""
    config = cp.configs.get_config(slug, "amocrm")
    long_lived = _secret(getattr(config, "long_lived_token", None))
    if long_lived:
        return StaticTokenProvider(long_lived)
    if not _secret(getattr(config, "access_token", None)):
        raise AmoCRMError(f"tenant {slug!r} has no amoCRM token yet: run `synkro amocrm connect {slug}`")
    app = OAuthApp(
        base_url=amocrm_base_url(config),
        client_id=getattr(config, "client_id", None) or "",
        client_secret=_secret(getattr(config, "client_secret", None)) or "",
        redirect_uri=getattr(config, "redirect_uri", None) or "",
    )
    return OAuthTokenProvider(slug, app, ControlPlaneTokenStore(cp, slug), cp.url)


def amocrm_client_for(
    cp: ControlPlane, slug: str, rate_limit: float | None = DEFAULT_AMOCRM_RPS
) -> AmoCRMClient:
    """The tenant's amoCRM client; all clients of a tenant in this process share one rate window."""
    config = cp.configs.get_config(slug, "amocrm")
    return AmoCRMClient(
        amocrm_base_url(config),
        amocrm_token_provider(cp, slug),
        shared_limiter(f"amocrm:{slug}", rate_limit),
    )


def radist_concurrency() -> int:
    """Requests in flight to Radist: `SYNKRO_RADIST_MAX_IN_FLIGHT` (1-8), else the client default.

    An operator lowers it for an account that answers 429 often (the client halves it on each
    429 anyway) or raises it where Radist is known to take more; capped at 8 to stay modest.
    """
    raw = os.environ.get("SYNKRO_RADIST_MAX_IN_FLIGHT", "").strip()
    if not raw:
        return DEFAULT_MAX_IN_FLIGHT
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"SYNKRO_RADIST_MAX_IN_FLIGHT must be a whole number 1-8, not {raw!r}") from None
    if not 1 <= value <= 8:
        raise ValueError(f"SYNKRO_RADIST_MAX_IN_FLIGHT must be between 1 and 8, not {value}")
    return value


def radist_client_for(cp: ControlPlane, slug: str, max_in_flight: int | None = None) -> RadistClient:
    """The tenant's Radist client; its message workers and all its requests share one throttle."""
    config = cp.configs.get_config(slug, "radist")
    base = getattr(config, "base_url", None) or "https://api.radist.online/v2"
    return RadistClient(
        base,
        _secret(getattr(config, "api_key", None)) or "",
        getattr(config, "company_id", None),
        max_in_flight=max_in_flight or radist_concurrency(),
    )
