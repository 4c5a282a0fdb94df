"""Integration configs: one row per tenant × kind, public JSON plus one encrypted blob of secrets.

Every write goes through the kind's pydantic model (merge, then validate the whole result), so an
invalid document is never saved. Writes are guarded by a `version` counter: token rotation (amoCRM
refresh tokens are single-use) must not silently overwrite a concurrent operator change or another
refresh, so `update_config_fields` takes the version it read and fails loudly on a mismatch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, insert, select, text, update

from synkro.controlplane.errors import BadInputError, ConcurrentUpdateError, NotFoundError
from synkro.controlplane.locks import SECRETS_ROTATION, amocrm_token_lock_name
from synkro.controlplane.tables import CONFIG_STATUSES, integration_configs, tenants
from synkro.controlplane.tenants import validate_slug
from synkro.integrations.schemas import IntegrationConfig, model_for, validate_config
from synkro.redact import Redactor, for_tenant, remember
from synkro.secrets import SecretBox, SecretKeyError

if TYPE_CHECKING:
    from synkro.controlplane import ControlPlane


@dataclass(frozen=True)
class ConfigRecord:
    """A stored config with its bookkeeping. `config` holds decrypted secrets as SecretStr."""

    tenant: str
    kind: str
    config: IntegrationConfig
    status: str
    last_error: str | None
    last_checked_at: datetime | None
    updated_at: datetime
    version: int

    def masked(self) -> dict[str, Any]:
        """Display form: secrets as `••••1234`, plus status columns."""
        return {
            "tenant": self.tenant,
            "kind": self.kind,
            "status": self.status,
            "last_error": self.last_error,
            "last_checked_at": self.last_checked_at.isoformat() if self.last_checked_at else None,
            "updated_at": self.updated_at.isoformat(),
            "version": self.version,
            "fields": self.config.masked_dict(),
        }


class ConfigRepository:
    def __init__(self, cp: ControlPlane):
        self._cp = cp

    # -- reading -------------------------------------------------------------------------------

    def _select(self, conn: Connection, slug: str, kind: str, *, lock: bool = False):
        query = (
            select(integration_configs, tenants.c.slug)
            .join(tenants, tenants.c.id == integration_configs.c.tenant_id)
            .where(tenants.c.slug == slug, integration_configs.c.kind == kind)
        )
        if lock:
            query = query.with_for_update(of=integration_configs)
        return conn.execute(query).first()

    def _document(self, row) -> dict[str, Any]:
        document = dict(row.public or {})
        if row.secrets_encrypted:
            try:
                plaintext = self._cp.box.decrypt(row.secrets_encrypted)
            except SecretKeyError:
                # The key may have been rotated by another process since ours was loaded:
                # reload it once from SYNKRO_SECRET_KEY / the key file before giving up.
                self._cp.box = SecretBox.from_env()
                plaintext = self._cp.box.decrypt(row.secrets_encrypted)
            secrets = json.loads(plaintext)
            remember(v for v in secrets.values() if isinstance(v, str))  # log records mask them too
            document.update(secrets)
        return document

    def _record(self, row) -> ConfigRecord:
        config = validate_config(row.kind, self._document(row))
        return ConfigRecord(
            tenant=row.slug,
            kind=row.kind,
            config=config,
            status=row.status,
            # Redacted on the way out too: rows stored before the redactor existed may hold secrets.
            last_error=Redactor(config.secret_dict().values()).optional(row.last_error),
            last_checked_at=row.last_checked_at,
            updated_at=row.updated_at,
            version=row.version,
        )

    def find_record(self, slug: str, kind: str) -> ConfigRecord | None:
        validate_slug(slug)
        model_for(kind)
        with self._cp.engine.connect() as conn:
            self._cp.tenants.id_of(conn, slug)
            row = self._select(conn, slug, kind)
        return self._record(row) if row is not None else None

    def get_record(self, slug: str, kind: str) -> ConfigRecord:
        record = self.find_record(slug, kind)
        if record is None:
            raise NotFoundError(f"tenant {slug!r} has no {kind} config")
        return record

    def get_config(self, slug: str, kind: str) -> IntegrationConfig:
        """The validated model with secrets decrypted (as SecretStr): what API clients are built from."""
        return self.get_record(slug, kind).config

    def find_config(self, slug: str, kind: str) -> IntegrationConfig | None:
        record = self.find_record(slug, kind)
        return record.config if record else None

    def list_records(self, slug: str) -> list[ConfigRecord]:
        validate_slug(slug)
        with self._cp.engine.connect() as conn:
            self._cp.tenants.id_of(conn, slug)
            rows = conn.execute(
                select(integration_configs, tenants.c.slug)
                .join(tenants, tenants.c.id == integration_configs.c.tenant_id)
                .where(tenants.c.slug == slug)
                .order_by(integration_configs.c.kind)
            ).all()
        return [self._record(row) for row in rows]

    def secret_values(self, slug: str) -> list[str]:
        """Plaintext of every secret the tenant stores, for `synkro.redact` only.

        Decrypted without validating the documents: a config saved before a validation rule
        tightened must still have its secrets masked out of the errors it causes.
        """
        with self._cp.engine.connect() as conn:
            blobs = conn.execute(
                select(integration_configs.c.secrets_encrypted)
                .join(tenants, tenants.c.id == integration_configs.c.tenant_id)
                .where(tenants.c.slug == slug, integration_configs.c.secrets_encrypted.is_not(None))
            ).scalars()
            values: list[str] = []
            for blob in blobs:
                secrets = json.loads(self._cp.box.decrypt(blob))
                remember(v for v in secrets.values() if isinstance(v, str))
                for value in secrets.values():
                    if isinstance(value, str) and value:
                        values.append(value)
        return values

    # -- writing -------------------------------------------------------------------------------

    def _split(self, config: IntegrationConfig, conn: Any) -> tuple[dict[str, Any], str | None]:
        """Public fields and the secrets encrypted under the *current* primary key.

        The shared rotation lock (held to the end of this transaction) keeps `secrets rotate` from
        retiring a key between our re-read of the key file and our commit.
        """
        secrets = config.secret_dict()
        if not secrets:
            return config.public_dict(), None
        conn.execute(text("select pg_advisory_xact_lock_shared(:ns, 0)"), {"ns": SECRETS_ROTATION})
        self._cp.box = self._cp.box.current()
        return config.public_dict(), self._cp.box.encrypt(json.dumps(secrets, sort_keys=True))

    @staticmethod
    def _merge(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
        """A partial document changes only the fields it names; `null` removes a field."""
        merged = dict(current)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        return merged

    def _write(
        self,
        slug: str,
        kind: str,
        patch: dict[str, Any],
        *,
        actor: str | None,
        action: str,
        expected_version: int | None,
        reset_status: bool,
    ) -> ConfigRecord:
        validate_slug(slug)
        model_for(kind)
        if not isinstance(patch, dict):
            raise BadInputError("config document must be a mapping of field names to values")
        with self._cp.engine.begin() as conn:
            if kind == "amocrm" and action != "config.update_fields":
                # An operator write waits for a token refresh in flight (and holds it off), so the
                # refresh can save its new pair whatever else changed (issue 13 item 9).
                conn.execute(
                    text("select pg_advisory_xact_lock(hashtext(:name))"),
                    {"name": amocrm_token_lock_name(slug)},
                )
            tenant_id = self._cp.tenants.id_of(conn, slug)
            row = self._select(conn, slug, kind, lock=True)
            current_version = row.version if row is not None else None
            # Versions start at 1, so an expected version 0 means "there must be no config yet".
            if expected_version is not None and (current_version or 0) != expected_version:
                raise ConcurrentUpdateError(
                    f"{kind} config of tenant {slug!r}", expected_version, current_version
                )
            current = self._document(row) if row is not None else {}
            merged = self._merge(current, patch)
            config = validate_config(kind, merged)  # raises ConfigValidationError: nothing written
            public, encrypted = self._split(config, conn)
            values: dict[str, Any] = {
                "public": public,
                "secrets_encrypted": encrypted,
                "updated_at": func.now(),
            }
            if reset_status:
                values.update(status="unknown", last_error=None)
            if row is None:
                result = conn.execute(
                    insert(integration_configs)
                    .values(tenant_id=tenant_id, kind=kind, version=1, **values)
                    .returning(integration_configs.c.id)
                )
            else:
                result = conn.execute(
                    update(integration_configs)
                    .where(integration_configs.c.id == row.id, integration_configs.c.version == row.version)
                    .values(version=integration_configs.c.version + 1, **values)
                    .returning(integration_configs.c.id)
                )
            if result.first() is None:  # pragma: no cover - the row lock makes this unreachable
                raise ConcurrentUpdateError(f"{kind} config of tenant {slug!r}", row.version, None)
            changed = sorted(key for key in patch if patch[key] is not None)
            removed = sorted(key for key in patch if patch[key] is None and key in current)
            self._cp.audit.record(
                actor,
                action,
                slug,
                {"kind": kind, "changed_fields": changed, "removed_fields": removed, "created": row is None},
                conn=conn,
            )
            stored = self._select(conn, slug, kind)
        return self._record(stored)

    def set_config(
        self,
        slug: str,
        kind: str,
        patch: dict[str, Any],
        actor: str | None = None,
        *,
        expected_version: int | None = None,
    ) -> ConfigRecord:
        """Merge a (partial) document into the stored config, validate the result, save it.

        The status goes back to `unknown`: the new values have not been checked yet. With
        `expected_version` (0: none stored yet) a concurrent change raises ConcurrentUpdateError,
        as for a form that was read before someone else saved.
        """
        return self._write(
            slug,
            kind,
            patch,
            actor=actor,
            action="config.set",
            expected_version=expected_version,
            reset_status=True,
        )

    def update_config_fields(
        self,
        slug: str,
        kind: str,
        changes: dict[str, Any],
        expected_version: int,
        actor: str | None = "system",
    ) -> ConfigRecord:
        """Apply `changes` only if the stored version is still `expected_version`.

        For machine writes such as token rotation: read the record, call the API, then write back
        with the version read. A concurrent writer makes this raise ConcurrentUpdateError instead
        of losing either update. The status is left alone.
        """
        return self._write(
            slug,
            kind,
            changes,
            actor=actor,
            action="config.update_fields",
            expected_version=expected_version,
            reset_status=False,
        )

    def unset_config(
        self, slug: str, kind: str, fields: list[str] | None = None, actor: str | None = None
    ) -> ConfigRecord | None:
        """Remove the whole config, or only `fields` of it (the rest must still validate)."""
        if fields:
            known = model_for(kind).model_fields
            unknown = [name for name in fields if name not in known]
            if unknown:
                raise BadInputError(f"unknown {kind} field(s): {', '.join(unknown)}")
            self.get_record(slug, kind)
            return self._write(
                slug,
                kind,
                dict.fromkeys(fields),
                actor=actor,
                action="config.unset_fields",
                expected_version=None,
                reset_status=True,
            )
        validate_slug(slug)
        model_for(kind)
        with self._cp.engine.begin() as conn:
            tenant_id = self._cp.tenants.id_of(conn, slug)
            result = conn.execute(
                delete(integration_configs)
                .where(integration_configs.c.tenant_id == tenant_id, integration_configs.c.kind == kind)
                .returning(integration_configs.c.id)
            )
            if result.first() is None:
                raise NotFoundError(f"tenant {slug!r} has no {kind} config")
            self._cp.audit.record(actor, "config.unset", slug, {"kind": kind}, conn=conn)
        return None

    def set_config_status(
        self, slug: str, kind: str, status: str, error: str | None = None, actor: str | None = "system"
    ) -> None:
        """Record the outcome of a connection check. Does not bump the version (no config change)."""
        if status not in CONFIG_STATUSES:
            raise BadInputError(
                f"invalid config status {status!r}; expected one of: {', '.join(CONFIG_STATUSES)}"
            )
        validate_slug(slug)
        error = for_tenant(self._cp, slug).optional(error)  # stored errors never hold a secret
        with self._cp.engine.begin() as conn:
            tenant_id = self._cp.tenants.id_of(conn, slug)
            result = conn.execute(
                update(integration_configs)
                .where(integration_configs.c.tenant_id == tenant_id, integration_configs.c.kind == kind)
                .values(status=status, last_error=error, last_checked_at=func.now())
                .returning(integration_configs.c.id)
            )
            if result.first() is None:
                raise NotFoundError(f"tenant {slug!r} has no {kind} config")
            self._cp.audit.record(actor, "config.status", slug, {"kind": kind, "status": status}, conn=conn)

    # -- key rotation --------------------------------------------------------------------------

    def undecryptable(self, box) -> list[int]:
        """Ids of config rows whose secrets `box` cannot decrypt (checked before a key is retired)."""
        with self._cp.engine.connect() as conn:
            rows = conn.execute(
                select(integration_configs.c.id, integration_configs.c.secrets_encrypted).where(
                    integration_configs.c.secrets_encrypted.is_not(None)
                )
            ).all()
        bad = []
        for row in rows:
            try:
                box.decrypt(row.secrets_encrypted)
            except SecretKeyError:
                bad.append(row.id)
        return bad

    def reencrypt_all(self, box, actor: str | None = None) -> int:
        """Re-encrypt every stored secret blob under `box`'s first key, in one transaction."""
        count = 0
        with self._cp.engine.begin() as conn:
            rows = conn.execute(
                select(integration_configs.c.id, integration_configs.c.secrets_encrypted)
                .where(integration_configs.c.secrets_encrypted.is_not(None))
                .with_for_update()
            ).all()
            for row in rows:
                conn.execute(
                    update(integration_configs)
                    .where(integration_configs.c.id == row.id)
                    .values(secrets_encrypted=box.rotate(row.secrets_encrypted))
                )
                count += 1
            self._cp.audit.record(actor, "secrets.rotate", None, {"reencrypted_configs": count}, conn=conn)
        return count
