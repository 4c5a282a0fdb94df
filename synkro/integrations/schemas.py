"""One pydantic model per integration kind: the documented config interface (see README).

Field names are a public contract (config files and scripts use them): add fields, never rename.
Secret fields are `SecretStr` so that repr(), logs and tracebacks show `**********` instead of the
value; the control plane stores them encrypted and everything else as plain JSON.

`base_url` is optional everywhere and defaults to the real service. It exists because the same
API is served elsewhere: amoCRM's v4 API also runs on `{subdomain}.kommo.com`, Telegram has local
Bot API servers, and every kind can point at a proxy or at the sandbox emulators in tests.

Validation errors are reported per field *without the rejected value*: a malformed token is still
a token and must not end up in an error message.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Any, ClassVar, get_args
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from synkro.secrets import mask

KINDS = ("supabase", "amocrm", "radist", "gemini", "telegram")

AMOCRM_HOST_SUFFIXES = (".amocrm.ru", ".amocrm.com", ".kommo.com")
SUBDOMAIN_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
TELEGRAM_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_BAD_PERCENT_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
API_VERSION_RE = re.compile(r"^v\d+(alpha|beta)?\d*$")


class ConfigValidationError(ValueError):
    """A config document was refused; `problems` maps each bad field to what is wrong with it."""

    def __init__(self, kind: str, problems: list[tuple[str, str]]):
        self.kind = kind
        self.problems = problems
        listed = "; ".join(f"{field}: {message}" for field, message in problems)
        super().__init__(f"invalid {kind} config: {listed}")


class UnknownKindError(ValueError):
    def __init__(self, kind: str):
        self.kind = kind
        super().__init__(f"unknown integration kind {kind!r}; expected one of: {', '.join(KINDS)}")


def _check_http_url(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("must be an http(s) URL such as https://example.com")
    if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
        # Tokens and keys travel in these requests: plain http only to this machine (the sandbox).
        raise ValueError("must use https unless the host is this machine (localhost, 127.0.0.1, ::1)")
    return value.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_field(cls: type, value: str | None) -> str | None:
    return _check_http_url(value)


class IntegrationConfig(BaseModel):
    """Shared behaviour: secret/public split, masked view, effective base URL."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, validate_assignment=True)

    kind: ClassVar[str] = ""
    default_base_url: ClassVar[str | None] = None

    @classmethod
    def secret_fields(cls) -> frozenset[str]:
        return frozenset(
            name
            for name, info in cls.model_fields.items()
            if info.annotation is SecretStr or SecretStr in get_args(info.annotation)
        )

    @classmethod
    def public_fields(cls) -> frozenset[str]:
        return frozenset(cls.model_fields) - cls.secret_fields()

    def public_dict(self) -> dict[str, Any]:
        """Public fields that were given (defaults left out so a changed default still applies)."""
        given = self.model_fields_set & self.public_fields()
        return {
            name: value
            for name, value in self.model_dump(mode="json", include=given).items()
            if value is not None
        }

    def secret_dict(self) -> dict[str, str]:
        """Plaintext of every secret field that is set: only for encryption and API clients."""
        result: dict[str, str] = {}
        for name in self.secret_fields():
            value = getattr(self, name)
            if value is not None:
                result[name] = value.get_secret_value()
        return result

    def masked_dict(self) -> dict[str, Any]:
        """Everything, secrets masked to `••••1234`: the only form fit for display."""
        shown: dict[str, Any] = self.model_dump(mode="json", exclude=set(self.secret_fields()))
        for name in sorted(self.secret_fields()):
            value = getattr(self, name)
            shown[name] = mask(value) if value is not None else None
        shown["effective_base_url"] = self.effective_base_url
        return shown

    @property
    def effective_base_url(self) -> str | None:
        explicit = getattr(self, "base_url", None)
        return explicit or self.default_base_url


class SupabaseConfig(IntegrationConfig):
    """A tenant's own Supabase project; with `database_url` set, the tenant's data lives there."""

    kind: ClassVar[str] = "supabase"

    url: str | None = Field(None, description="Project URL, https://<project_ref>.supabase.co")
    database_url: SecretStr | None = Field(
        None, description="Postgres DSN (direct host or Supavisor session pooler on port 5432)"
    )
    anon_key: SecretStr | None = None
    service_role_key: SecretStr | None = None

    _check_url = field_validator("url")(_url_field)

    @field_validator("database_url")
    @classmethod
    def _check_dsn(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        dsn = value.get_secret_value().strip()
        if not dsn:
            return None
        # Checked before anything parses it: psycopg's error for a bad escape quotes the password.
        if _BAD_PERCENT_ESCAPE.search(dsn):
            raise ValueError(
                "has a '%' that does not start a percent-escape (two hex digits, e.g. %40 for '@'); "
                "URL-encode special characters of the password"
            )
        parts = urlsplit(dsn)
        if parts.scheme not in {"postgres", "postgresql"} or not parts.hostname:
            raise ValueError("must be a Postgres DSN: postgresql://user:password@host:5432/postgres")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("has an invalid port") from None
        if port == 6543:
            raise ValueError(
                "port 6543 is Supavisor transaction mode, which dlt and dbt cannot use; "
                "use the session pooler (port 5432) or the direct host"
            )
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        try:
            conninfo_to_dict(dsn)  # what libpq itself will make of it
        except psycopg.Error:
            raise ValueError(
                "is not a DSN libpq can read (check the URL-encoding of the user and password)"
            ) from None
        return SecretStr(dsn)

    @model_validator(mode="after")
    def _needs_something(self) -> SupabaseConfig:
        if self.url is None and self.database_url is None:
            raise ValueError("url, database_url: give at least one of them")
        return self

    @property
    def effective_base_url(self) -> str | None:
        return self.url


class AmoCRMConfig(IntegrationConfig):
    """amoCRM / Kommo account access: a long-lived token, or OAuth (client + tokens or auth code)."""

    kind: ClassVar[str] = "amocrm"

    subdomain: str = Field(description="Account name: <subdomain>.amocrm.ru")
    base_url: str | None = Field(None, description="Default https://{subdomain}.amocrm.ru")
    oauth_url: str | None = Field(
        None,
        description="Origin of the consent page: https://www.amocrm.ru (Kommo: https://www.kommo.com)",
    )
    client_id: str | None = Field(None, description="Integration ID")
    redirect_uri: str | None = Field(None, description="Must match the integration's setting exactly")
    expires_at: int | None = Field(None, description="Access token expiry, unix seconds")
    account_id: int | None = Field(None, description="Stable account id (subdomains can be renamed)")
    client_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    refresh_token: SecretStr | None = None
    long_lived_token: SecretStr | None = None
    auth_code: SecretStr | None = Field(None, description="One-time authorization code (valid 20 minutes)")

    @model_validator(mode="before")
    @classmethod
    def _split_host(cls, data: Any) -> Any:
        """Accept `name.amocrm.ru`, `name.kommo.com` or a full URL where only the name is asked for."""
        if not isinstance(data, dict) or not isinstance(data.get("subdomain"), str):
            return data
        raw = data["subdomain"].strip().lower()
        host = urlsplit(raw).hostname if "://" in raw else raw.split("/")[0]
        for suffix in AMOCRM_HOST_SUFFIXES:
            if host and host.endswith(suffix) and host.count(".") == suffix.count("."):
                data = dict(data)
                data["subdomain"] = host[: -len(suffix)]
                if suffix != ".amocrm.ru" and not data.get("base_url"):
                    data["base_url"] = f"https://{host}"
                return data
        if raw != data["subdomain"]:
            data = {**data, "subdomain": raw}
        return data

    @field_validator("subdomain")
    @classmethod
    def _check_subdomain(cls, value: str) -> str:
        if not SUBDOMAIN_RE.match(value):
            raise ValueError("must be the account name only, e.g. 'mycompany' for mycompany.amocrm.ru")
        return value

    _check_urls = field_validator("base_url", "oauth_url", "redirect_uri")(_url_field)

    @field_validator("expires_at", mode="before")
    @classmethod
    def _expiry_from_iso(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
            try:
                return int(datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp())
            except ValueError:
                raise ValueError("must be unix seconds or an ISO-8601 timestamp") from None
        if isinstance(value, datetime):
            return int(value.timestamp())
        return value

    @model_validator(mode="after")
    def _needs_credentials(self) -> AmoCRMConfig:
        if self.refresh_token is not None or self.auth_code is not None:
            missing = [
                name for name in ("client_id", "client_secret", "redirect_uri") if getattr(self, name) is None
            ]
            if missing:
                grant = "refresh_token" if self.refresh_token is not None else "auth_code"
                raise ValueError(f"{', '.join(missing)}: required to use {grant}")
        if not (self.long_lived_token or self.access_token or self.refresh_token or self.auth_code):
            # No grant yet is fine while the integration waits for "Connect amoCRM": the consent
            # round trip needs the client id and secret stored first.
            missing = [name for name in ("client_id", "client_secret") if getattr(self, name) is None]
            if missing:
                raise ValueError(
                    f"{', '.join(missing)}: give client_id and client_secret (then connect amoCRM), "
                    "a long_lived_token, or OAuth tokens"
                )
        return self

    @property
    def effective_base_url(self) -> str:
        return self.base_url or f"https://{self.subdomain}.amocrm.ru"

    @property
    def effective_oauth_url(self) -> str:
        """Where the consent page lives: `oauth_url`, else the www host of the account's family."""
        if self.oauth_url:
            return self.oauth_url
        host = urlsplit(self.effective_base_url).hostname or ""
        for family in ("kommo.com", "amocrm.com"):
            if host.endswith("." + family):
                return f"https://www.{family}"
        return "https://www.amocrm.ru"

    @property
    def connectable(self) -> bool:
        """The consent round trip can start: the integration's id and secret are stored."""
        return bool(self.client_id and self.client_secret)


class RadistConfig(IntegrationConfig):
    """Radist.Online API v2: key sent as `X-Api-Key`; everything lives under /companies/{company_id}."""

    kind: ClassVar[str] = "radist"
    default_base_url: ClassVar[str] = "https://api.radist.online/v2"

    company_id: int | None = Field(None, gt=0, description="One key may see several companies")
    base_url: str | None = None
    connection_ids: list[int] = Field(default_factory=list, description="Empty means all connections")
    api_key: SecretStr

    _check_base = field_validator("base_url")(_url_field)

    @field_validator("connection_ids", mode="before")
    @classmethod
    def _ids_from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("api_key")
    @classmethod
    def _key_not_blank(cls, value: SecretStr) -> SecretStr:
        text = value.get_secret_value().strip()
        if not text:
            raise ValueError("must not be empty")
        if text.lower().startswith("bearer "):
            raise ValueError("give the raw key; Radist expects it without a 'Bearer' prefix")
        return SecretStr(text)


class GeminiConfig(IntegrationConfig):
    """Google Gemini Developer API; the model is a per-tenant choice because model IDs retire fast."""

    kind: ClassVar[str] = "gemini"
    default_base_url: ClassVar[str] = "https://generativelanguage.googleapis.com"

    model: str = Field("gemini-3.5-flash-lite", description="Model ID used for scoring")
    fallback_model: str | None = Field(None, description="Used when the model is gone (404/503)")
    api_version: str = Field("v1beta", description="Set explicitly: google-genai 3.x defaults to v1")
    base_url: str | None = None
    api_key: SecretStr

    _check_base = field_validator("base_url")(_url_field)

    @field_validator("model", "fallback_model")
    @classmethod
    def _check_model(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.removeprefix("models/")
        if not re.match(r"^[a-z0-9][a-z0-9.\-]*$", value):
            raise ValueError("must be a model ID such as gemini-3.5-flash-lite")
        return value

    @field_validator("api_version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        if not API_VERSION_RE.match(value):
            raise ValueError("must look like v1 or v1beta")
        return value

    @field_validator("api_key")
    @classmethod
    def _key_not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value


class TelegramConfig(IntegrationConfig):
    """Telegram Bot API delivery target: the bot and the chat the tenant's reports go to."""

    kind: ClassVar[str] = "telegram"
    default_base_url: ClassVar[str] = "https://api.telegram.org"

    chat_id: int | str = Field(description="Numeric chat id (groups negative, supergroups -100…) or @channel")
    base_url: str | None = None
    bot_token: SecretStr

    _check_base = field_validator("base_url")(_url_field)

    @field_validator("chat_id", mode="before")
    @classmethod
    def _check_chat(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a chat id or @channel_username")
        if isinstance(value, str):
            text = value.strip()
            if re.match(r"^-?\d+$", text):
                return int(text)
            if re.match(r"^@[A-Za-z][A-Za-z0-9_]{3,}$", text):
                return text
            raise ValueError("must be a numeric chat id or @channel_username")
        return value

    @field_validator("bot_token")
    @classmethod
    def _check_token(cls, value: SecretStr) -> SecretStr:
        text = value.get_secret_value().strip()
        if not TELEGRAM_TOKEN_RE.match(text):
            raise ValueError("must look like <bot id>:<secret> as issued by @BotFather")
        return SecretStr(text)


MODELS: dict[str, type[IntegrationConfig]] = {
    "supabase": SupabaseConfig,
    "amocrm": AmoCRMConfig,
    "radist": RadistConfig,
    "gemini": GeminiConfig,
    "telegram": TelegramConfig,
}


def model_for(kind: str) -> type[IntegrationConfig]:
    try:
        return MODELS[kind]
    except KeyError:
        raise UnknownKindError(kind) from None


def _problems(error: ValidationError, model: type[IntegrationConfig]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for item in error.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = f"unknown field (known: {', '.join(sorted(model.model_fields))})"
        elif item["type"] == "missing":
            message = "required"
        if not field and ": " in message:
            # Model-level checks name their fields as "a, b: what is wrong".
            field, message = message.split(": ", 1)
        problems.append((field or "(document)", message))
    return problems


def validate_config(kind: str, document: dict[str, Any]) -> IntegrationConfig:
    """Build the kind's model from a plain dict, or raise ConfigValidationError naming each bad field."""
    model = model_for(kind)
    if not isinstance(document, dict):
        raise ConfigValidationError(kind, [("(document)", "must be a mapping of field names to values")])
    cleaned = {key: value for key, value in document.items() if value is not None}
    try:
        return model.model_validate(cleaned)
    except ValidationError as exc:
        raise ConfigValidationError(kind, _problems(exc, model)) from None
