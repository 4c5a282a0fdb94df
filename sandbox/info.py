"""The sandbox's fake credentials and the `--info-file` JSON.

The info file has exactly the fields of the integration configs, so it can feed
`synkro config set`. Every value is obviously fake: nothing here looks like a real Google API key
(`AIza…`) or a real Telegram token (`<digits>:AA…` with 33 characters), so secret scanners and
humans never mistake it for a leak.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SandboxCredentials:
    """The one tenant the sandbox serves, as a tenant would type it into Synkro."""

    amocrm_subdomain: str = "synkro-sandbox"
    amocrm_account_id: int = 30123456
    amocrm_client_id: str = "sandbox-amocrm-client-id"
    amocrm_client_secret: str = "sandbox-amocrm-client-secret"
    amocrm_auth_code: str = "sandbox-amocrm-auth-code"
    radist_company_id: int = 163146
    radist_api_key: str = "sandbox-radist-api-key"
    # A key that sees the company but lacks the `messaging` scope (403 on chats and messages).
    radist_api_key_no_messaging: str = "sandbox-radist-key-without-messaging"
    gemini_api_key: str = "sandbox-gemini-api-key"
    telegram_bot_token: str = "123456:sandbox-bot-token"
    telegram_chat_id: int = -1001234567890


def info_dict(
    creds: SandboxCredentials, base_url: str, long_lived_token: str, redirect_uri: str
) -> dict[str, Any]:
    """The info-file payload for a sandbox listening at `base_url` (no trailing slash).

    `redirect_uri` is the integration's registered redirect URI: amoCRM's
    `POST /oauth2/access_token` refuses a code exchange (and a refresh) without it, and a code
    from the consent page only with exactly that value, so the documented exchange needs nothing
    but this file (docs/apis/amocrm.md, OAuth).
    """
    return {
        "amocrm": {
            "base_url": f"{base_url}/amocrm",
            "oauth_url": f"{base_url}/amocrm",
            "redirect_uri": redirect_uri,
            "subdomain": creds.amocrm_subdomain,
            "client_id": creds.amocrm_client_id,
            "client_secret": creds.amocrm_client_secret,
            "auth_code": creds.amocrm_auth_code,
            "long_lived_token": long_lived_token,
        },
        "radist": {
            "base_url": f"{base_url}/radist/v2",
            "company_id": creds.radist_company_id,
            "api_key": creds.radist_api_key,
        },
        "gemini": {"base_url": f"{base_url}/gemini", "api_key": creds.gemini_api_key},
        "telegram": {
            "base_url": f"{base_url}/telegram",
            "bot_token": creds.telegram_bot_token,
            "chat_id": creds.telegram_chat_id,
        },
    }


def write_info_file(path: str | os.PathLike[str], info: dict[str, Any]) -> None:
    """Write atomically, so a process polling for the file never reads half of it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, target)
