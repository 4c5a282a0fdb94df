"""Which tenants the bot serves: active tenants whose Telegram config is not in error."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from synkro.controlplane import ControlPlane
from synkro.delivery.telegram import DEFAULT_BASE_URL

log = logging.getLogger("synkro.bot")


@dataclass(frozen=True)
class TenantBot:
    """What one tenant's bot needs; ``version`` changes whenever the config is edited."""

    slug: str
    token: str
    chat_id: int | str
    base_url: str
    language: str
    version: int

    def __repr__(self) -> str:  # the token must never reach a log line
        token = f"…{self.token[-4:]}"
        return f"TenantBot({self.slug!r}, token={token}, chat_id={self.chat_id!r}, v{self.version})"


def active_tenant_bots(cp: ControlPlane) -> dict[str, TenantBot]:
    """Every tenant the bot should serve now; paused/disabled tenants and broken configs are left out."""
    found: dict[str, TenantBot] = {}
    for tenant in cp.tenants.list(status="active"):
        try:
            bot = _tenant_bot(cp, tenant.slug)
        except Exception as exc:  # one unreadable config (e.g. a rotated key) must not stop the others
            log.error(
                "tenant %s: telegram config unreadable (%s); not served", tenant.slug, type(exc).__name__
            )
            continue
        if bot is not None:
            found[tenant.slug] = bot
    return found


def _tenant_bot(cp: ControlPlane, slug: str) -> TenantBot | None:
    record = cp.configs.find_record(slug, "telegram")
    if record is None or record.status == "error":
        return None
    config = record.config
    base = getattr(config, "effective_base_url", None) or config.base_url or DEFAULT_BASE_URL
    return TenantBot(
        slug=slug,
        token=config.bot_token.get_secret_value(),
        chat_id=config.chat_id,
        base_url=str(base).rstrip("/"),
        language=cp.settings.get_settings(slug).language,
        version=record.version,
    )
