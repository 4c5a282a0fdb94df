"""The control plane: tenants, users/roles, integration configs, settings, runs, reports, audit.

Everything lives in schema `synkro` of the installation database (`synkro.db.database_url()`),
migrated by Alembic (`migrate(url)`, idempotent; `open_controlplane()` calls it for you).

Python API (what the rest of Synkro calls)::

    from synkro.controlplane import open_controlplane
    cp = open_controlplane()            # DATABASE_URL or embedded; migrates; master key from env/file

    cp.tenants.create(slug, name, timezone="Europe/Moscow", actor=None) -> Tenant
    cp.tenants.get(slug) / find(slug) / list(status=None) / set_status(slug, status) / update(...)
    cp.tenants.delete(slug)             # drops <slug>_raw/_staging/_marts/_analysis and the rows

    cp.users.add(email) / grant(email, role, tenant=None, amocrm_user_id=None) / revoke(...) / list()
    cp.accounts.set_password(email, pw) / verify(email, pw) / open_session(user) / session_user(token)
    cp.accounts.throttled(email, address) / record_failure(...) / clear_failures(email)
    cp.oauth_states.issue(provider, slug, user_id, secret, actor=) -> signed single-use state
    cp.oauth_states.consume(provider, state, secret, user_id=) -> ConsumedState  # OAuthStateError

    cp.configs.get_config(slug, kind) -> pydantic model (secrets decrypted, as SecretStr)
    cp.configs.get_record(slug, kind) -> ConfigRecord (config + status, version, timestamps)
    cp.configs.set_config(slug, kind, patch, actor)          # partial merge, validated, status=unknown
    cp.configs.update_config_fields(slug, kind, changes, expected_version)  # ConcurrentUpdateError
    cp.configs.set_config_status(slug, kind, "ok"|"error"|"pending"|"unknown", error=None)
    cp.configs.unset_config(slug, kind, fields=None)

    cp.settings.get_settings(slug) -> TenantSettings
    cp.settings.update_settings(slug, actor=None, **changes) -> TenantSettings
    cp.rubrics.save(slug, rubric, actor) -> RubricVersion   # validated; version N+1 kept forever
    cp.rubrics.current(slug) -> (number, Rubric) / versions(slug) -> [RubricVersion] newest first

    cp.jobs.create_run(slug, job, trigger, idempotency_key, window_start=, window_end=, ...) -> JobRun
    cp.jobs.update_run(run_id, status=, step=, progress=, dagster_run_id=, error=)
    cp.jobs.add_event(run_id, message, level="info", step=None, data=None)
    cp.jobs.finish_run(run_id, status="succeeded", error=None) / get_run / find_run / list_runs

    cp.reports.create_draft(slug, report_type, window_start, window_end, ...) -> Report
    cp.reports.set_status(report_id, "ready"|"sent"|"failed", delivery={...}, error=None)
    cp.reports.update_report(report_id, summary=, body=, data=, delivery=) / find_report / list_reports

    cp.audit.record(actor, action, tenant=None, details={})  # secret-looking keys are masked
    cp.audit.list(tenant=None, limit=100)

Every change made through these repositories writes an audit entry in the same transaction.
Errors: `BadInputError` (and `NotFoundError`, `AlreadyExistsError`, `ConfigValidationError`) mean
bad input and nothing was written; `ConcurrentUpdateError` means re-read and retry.
"""

from __future__ import annotations

from functools import cached_property

from synkro.controlplane.accounts import AccountRepository
from synkro.controlplane.audit import AuditRepository, default_actor
from synkro.controlplane.configs import ConfigRecord, ConfigRepository
from synkro.controlplane.errors import (
    AlreadyExistsError,
    BadInputError,
    ConcurrentUpdateError,
    ControlPlaneError,
    DuplicateRunError,
    NotFoundError,
)
from synkro.controlplane.jobs import JobRun, JobRunEvent, JobRunRepository
from synkro.controlplane.migrate import engine_for, migrate
from synkro.controlplane.oauth_states import OAuthStateRepository
from synkro.controlplane.reports import Report, ReportRepository
from synkro.controlplane.rubrics import RubricRepository
from synkro.controlplane.settings import SettingsRepository, TenantSettings
from synkro.controlplane.tenants import (
    Tenant,
    TenantRepository,
    tenant_schemas,
    validate_slug,
    validate_timezone,
)
from synkro.controlplane.users import User, UserRepository
from synkro.secrets import SecretBox

__all__ = [
    "AlreadyExistsError",
    "BadInputError",
    "ConcurrentUpdateError",
    "ConfigRecord",
    "ControlPlane",
    "ControlPlaneError",
    "DuplicateRunError",
    "JobRun",
    "JobRunEvent",
    "NotFoundError",
    "Report",
    "Tenant",
    "TenantSettings",
    "User",
    "default_actor",
    "migrate",
    "open_controlplane",
    "tenant_schemas",
    "validate_slug",
    "validate_timezone",
]


class ControlPlane:
    """One database's control plane; the repositories share its engine and secret box."""

    def __init__(self, url: str, box: SecretBox | None = None, *, auto_migrate: bool = True):
        from synkro.db import normalize_url

        self.url = normalize_url(url)
        if auto_migrate:
            migrate(self.url)
        self.engine = engine_for(self.url)
        self._box = box
        self.audit = AuditRepository(self.engine)
        self.tenants = TenantRepository(self)
        self.users = UserRepository(self)
        self.accounts = AccountRepository(self)
        self.oauth_states = OAuthStateRepository(self)
        self.configs = ConfigRepository(self)
        self.settings = SettingsRepository(self)
        self.rubrics = RubricRepository(self)
        self.jobs = JobRunRepository(self)
        self.reports = ReportRepository(self)

    @cached_property
    def box(self) -> SecretBox:
        """Loaded on first use, so commands that never touch secrets never create a key file."""
        return self._box or SecretBox.from_env()

    def __repr__(self) -> str:
        from synkro.db import masked_url

        return f"ControlPlane({masked_url(self.url)})"


def open_controlplane(url: str | None = None, box: SecretBox | None = None) -> ControlPlane:
    """The control plane of `url`, or of the installation database (DATABASE_URL / embedded)."""
    if url is None:
        from synkro.db import database_url

        url = database_url()
    return ControlPlane(url, box)
