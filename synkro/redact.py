"""The one redactor: every error text that is shown or stored passes through it first.

Why one: an exception text can quote anything it was given — psycopg quotes a DSN's password when
the DSN has a bad percent-escape, httpx quotes request URLs that hold a Telegram bot token, an SDK
may echo an `Authorization` header. Texts flow from there into an integration's `last_error`, run
events, reports, CLI output and the portal. Each of those places calls this module, so there is one
list of what counts as a secret and one way of masking it.

Two layers, both always applied:
- the tenant's own secrets (decrypted from its configs), in every form a library may print them:
  raw, URL-decoded and URL-encoded, and for a DSN its password alone (raw and decoded);
- anything shaped like a credential, whoever's it is: Telegram bot tokens, Google `AIza…` keys,
  Supabase `sb_secret_…` keys, JWTs, `Bearer …` values and the password part of any `scheme://user:pw@`
  URL. This layer needs no tenant, so log records (`synkro.logging_redaction`) get it together with
  every secret the process has decrypted (`remember`, `process_redactor`).

Masks keep the last four characters (`••••1234`, `synkro.secrets.mask`) so an operator can still tell
which key is meant; a DSN password is masked completely.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote

from synkro.secrets import MASK_PREFIX, mask

# Shorter values are not treated as secrets: replacing "abc" everywhere would garble texts while
# protecting nothing (every secret field we accept is far longer).
MIN_SECRET_LENGTH = 4

# `scheme://user:password@host`: the password is everything up to the last `@` of the run of
# non-space characters (an unescaped `@` inside a password must not leak the rest of it).
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@'\"]*:)(?P<pw>[^\s'\"]+)(?=@)")
_TOKEN_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?<![0-9])\d{5,16}:[A-Za-z0-9_-]{30,}"),  # Telegram bot token, also in /bot<token>/
    re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"),  # Google / Gemini API key
    re.compile(r"\bsb_secret_[A-Za-z0-9_-]{8,}"),  # Supabase secret key
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),  # JWT (amoCRM, Supabase)
)
_BEARER = re.compile(r"(?i)(?P<head>\b(?:bearer|basic)\s+)(?P<value>[A-Za-z0-9._~+/=-]{8,})")


def secret_forms(value: str) -> set[str]:
    """Every form in which `value` may turn up in a library's message."""
    forms = {value, unquote(value), quote(value, safe="")}
    password = dsn_password(value)
    if password:
        forms |= {password, unquote(password)}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def dsn_password(value: str) -> str | None:
    """The password of `scheme://user:password@host…` as written (libpq splits at the last `@`)."""
    match = re.fullmatch(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@]*:(?P<pw>.*)@[^@]*", value.strip(), re.DOTALL)
    return match.group("pw") if match and match.group("pw") else None


def redact_tokens(text: str) -> str:
    """Mask everything shaped like a credential (no knowledge of any tenant needed)."""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK_PREFIX, text)
    for pattern in _TOKEN_PATTERNS:
        text = pattern.sub(lambda m: mask(m.group(0)), text)
    return _BEARER.sub(lambda m: m.group("head") + mask(m.group("value")), text)


class Redactor:
    """Masks a fixed set of secret values (in all their forms) and every token-shaped string."""

    def __init__(self, secrets: Iterable[str] = ()):
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms |= secret_forms(str(secret))
        # Longest first: a DSN is replaced whole before its password alone is looked for.
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: Any) -> str:
        """The text with secrets masked; None becomes ""."""
        if text is None:
            return ""
        text = str(text)
        for form in self._forms:
            if form in text:
                text = text.replace(form, mask(form))
        return redact_tokens(text)

    def optional(self, text: str | None) -> str | None:
        """Like calling it, but None stays None (for nullable columns)."""
        return None if text is None else self(text)

    def data(self, value: Any) -> Any:
        """Every string inside a JSON-like value redacted (run event data, report delivery)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {key: self.data(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(item) for item in value]
        return value


def for_tenant(cp: Any, slug: str | None) -> Redactor:
    """The redactor of one tenant: its decrypted secrets plus the token patterns.

    Never fails: a tenant that does not exist (any more) or a secret blob the key cannot decrypt
    yields the pattern-only redactor, since redaction must not turn one error into another.
    """
    if not slug:
        return Redactor()
    try:
        return Redactor(cp.configs.secret_values(slug))
    except Exception:  # see the docstring: redaction must never fail
        return Redactor()


# Every secret this process has decrypted, for redacting what carries no tenant (log records).
_process_secrets: set[str] = set()
_process_redactor = Redactor()
_process_lock = threading.Lock()


def remember(secrets: Iterable[str]) -> None:
    """Add decrypted secret values to what `process_redactor()` masks (called on every decrypt)."""
    global _process_redactor
    new = {value for value in secrets if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH}
    if new <= _process_secrets:
        return
    with _process_lock:
        _process_secrets.update(new)
        _process_redactor = Redactor(_process_secrets)


def process_redactor() -> Redactor:
    """Token patterns plus every secret this process has decrypted so far."""
    return _process_redactor
