"""What the portal needs to know about where it runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from synkro.controlplane.errors import BadInputError
from synkro.secrets import SecretBox

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
PUBLIC_URL_ENV = "SYNKRO_PUBLIC_URL"
DAGSTER_UI_ENV = "SYNKRO_DAGSTER_UI_URL"
SESSION_COOKIE = "synkro_session"
LANG_COOKIE = "synkro_lang"


def public_url() -> str:
    """The address users reach the portal at (`SYNKRO_PUBLIC_URL`), without a trailing slash."""
    url = (os.environ.get(PUBLIC_URL_ENV) or DEFAULT_PUBLIC_URL).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadInputError(
            f"{PUBLIC_URL_ENV}={url!r} is not an http(s) URL (e.g. https://synkro.example.com)"
        )
    return url


@dataclass(frozen=True)
class WebConfig:
    public_url: str
    session_secret: str
    csrf_secret: str
    state_secret: bytes  # signs OAuth `state` values
    dagster_ui_url: str | None = None

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry `Secure` whenever users reach us over https."""
        return self.public_url.startswith("https://")

    @property
    def amocrm_redirect_uri(self) -> str:
        return f"{self.public_url}/oauth/amocrm/callback"

    @classmethod
    def from_env(cls, box: SecretBox) -> WebConfig:
        """Signing keys derive from the master key: nothing more to provision or leak."""
        return cls(
            public_url=public_url(),
            session_secret=box.derive("portal-session").hex(),
            csrf_secret=box.derive("portal-csrf").hex(),
            state_secret=box.derive("portal-oauth-state"),
            dagster_ui_url=os.environ.get(DAGSTER_UI_ENV) or None,
        )
