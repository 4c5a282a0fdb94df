"""Job runs and their events: what ran for which tenant, why, how far it got, how it ended.

The idempotency key is unique, so a schedule tick or a retried "run now" button that fires twice
creates one run, not two (the second `create_run` raises DuplicateRunError carrying the first).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from synkro.controlplane.errors import BadInputError, DuplicateRunError, NotFoundError
from synkro.controlplane.tables import (
    EVENT_LEVELS,
    RUN_STATUSES,
    RUN_TRIGGERS,
    job_run_events,
    job_runs,
    tenants,
)
from synkro.redact import Redactor, for_tenant

if TYPE_CHECKING:
    from synkro.controlplane import ControlPlane

FINAL_STATUSES = ("succeeded", "succeeded_with_warnings", "failed", "cancelled", "skipped")
# The chain went through; with warnings a step stopped short (e.g. the analysis on an invalid key)
# and the report went out without what that step adds.
SUCCEEDED_STATUSES = ("succeeded", "succeeded_with_warnings")


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class JobRun:
    id: int
    tenant: str
    job: str
    trigger: str
    status: str
    step: str | None
    progress: float
    window_start: datetime | None
    window_end: datetime | None
    idempotency_key: str
    attempt: int
    dagster_run_id: str | None
    error: str | None
    details: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {key: _iso(value) for key, value in asdict(self).items()}


@dataclass(frozen=True)
class JobRunEvent:
    id: int
    job_run_id: int
    at: datetime
    level: str
    step: str | None
    message: str
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {key: _iso(value) for key, value in asdict(self).items()}


def _run_query():
    columns = [c for c in job_runs.c if c.name != "tenant_id"]
    return select(*columns, tenants.c.slug.label("tenant")).join(
        tenants, tenants.c.id == job_runs.c.tenant_id
    )


class JobRunRepository:
    def __init__(self, cp: ControlPlane):
        self._cp = cp

    def create_run(
        self,
        slug: str,
        job: str,
        trigger: str,
        idempotency_key: str,
        *,
        window_start: datetime | None = None,
        window_end: datetime | None = None,
        attempt: int = 1,
        dagster_run_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> JobRun:
        if trigger not in RUN_TRIGGERS:
            raise BadInputError(f"invalid trigger {trigger!r}; expected one of: {', '.join(RUN_TRIGGERS)}")
        if not idempotency_key:
            raise BadInputError("idempotency_key must not be empty")
        try:
            with self._cp.engine.begin() as conn:
                tenant_id = self._cp.tenants.id_of(conn, slug)
                run_id = conn.execute(
                    insert(job_runs)
                    .values(
                        tenant_id=tenant_id,
                        job=job,
                        trigger=trigger,
                        idempotency_key=idempotency_key,
                        window_start=window_start,
                        window_end=window_end,
                        attempt=attempt,
                        dagster_run_id=dagster_run_id,
                        details=details or {},
                    )
                    .returning(job_runs.c.id)
                ).scalar_one()
        except IntegrityError:
            existing = self.find_run(idempotency_key)
            if existing is None:
                raise
            raise DuplicateRunError(existing) from None
        return self.get_run(run_id)

    def _redactor(self, run_id: int) -> Redactor:
        """The redactor of the run's tenant: errors and events are stored with secrets masked."""
        with self._cp.engine.connect() as conn:
            slug = conn.execute(
                select(tenants.c.slug)
                .join(job_runs, job_runs.c.tenant_id == tenants.c.id)
                .where(job_runs.c.id == run_id)
            ).scalar_one_or_none()
        return for_tenant(self._cp, slug)

    def get_run(self, run_id: int) -> JobRun:
        with self._cp.engine.connect() as conn:
            row = conn.execute(_run_query().where(job_runs.c.id == run_id)).first()
        if row is None:
            raise NotFoundError(f"job run {run_id} not found")
        return JobRun(**row._mapping)

    def find_run(self, idempotency_key: str) -> JobRun | None:
        with self._cp.engine.connect() as conn:
            row = conn.execute(_run_query().where(job_runs.c.idempotency_key == idempotency_key)).first()
        return JobRun(**row._mapping) if row else None

    def list_runs(
        self, slug: str | None = None, *, status: str | None = None, job: str | None = None, limit: int = 50
    ) -> list[JobRun]:
        """Newest first."""
        query = _run_query().order_by(job_runs.c.id.desc()).limit(limit)
        if slug is not None:
            query = query.where(tenants.c.slug == slug)
        if status is not None:
            query = query.where(job_runs.c.status == status)
        if job is not None:
            query = query.where(job_runs.c.job == job)
        with self._cp.engine.connect() as conn:
            return [JobRun(**row._mapping) for row in conn.execute(query)]

    def update_run(
        self,
        run_id: int,
        *,
        status: str | None = None,
        step: str | None = None,
        progress: float | None = None,
        dagster_run_id: str | None = None,
        error: str | None = None,
        details: dict[str, Any] | None = None,
        window_start: datetime | None = None,
        window_end: datetime | None = None,
    ) -> JobRun:
        """Move a run along: the first `running` stamps started_at, a final state stamps finished_at."""
        values: dict[str, Any] = {"updated_at": func.now()}
        if window_start is not None and window_end is not None:
            values["window_start"], values["window_end"] = window_start, window_end
        if status is not None:
            if status not in RUN_STATUSES:
                raise BadInputError(
                    f"invalid run status {status!r}; expected one of: {', '.join(RUN_STATUSES)}"
                )
            values["status"] = status
            if status == "running":
                values["started_at"] = func.coalesce(job_runs.c.started_at, func.now())
            if status in FINAL_STATUSES:
                values["finished_at"] = func.now()
        if step is not None:
            values["step"] = step
        if progress is not None:
            if not 0 <= progress <= 1:
                raise BadInputError("progress must be a fraction between 0 and 1")
            values["progress"] = progress
        if dagster_run_id is not None:
            values["dagster_run_id"] = dagster_run_id
        if error is not None:
            values["error"] = self._redactor(run_id)(error)
        if details is not None:
            values["details"] = job_runs.c.details.op("||")(func.cast(details, job_runs.c.details.type))
        with self._cp.engine.begin() as conn:
            result = conn.execute(
                update(job_runs).where(job_runs.c.id == run_id).values(**values).returning(job_runs.c.id)
            )
            if result.first() is None:
                raise NotFoundError(f"job run {run_id} not found")
        return self.get_run(run_id)

    def finish_run(self, run_id: int, status: str = "succeeded", error: str | None = None) -> JobRun:
        if status not in FINAL_STATUSES:
            raise BadInputError(f"a finished run's status must be one of: {', '.join(FINAL_STATUSES)}")
        progress = 1.0 if status in SUCCEEDED_STATUSES else None
        return self.update_run(run_id, status=status, error=error, progress=progress)

    def add_event(
        self,
        run_id: int,
        message: str,
        *,
        level: str = "info",
        step: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> JobRunEvent:
        if level not in EVENT_LEVELS:
            raise BadInputError(f"invalid event level {level!r}; expected one of: {', '.join(EVENT_LEVELS)}")
        from synkro.controlplane.audit import scrub

        redactor = self._redactor(run_id)
        message, data = redactor(message), redactor.data(scrub(data or {}))
        try:
            with self._cp.engine.begin() as conn:
                row = conn.execute(
                    insert(job_run_events)
                    .values(job_run_id=run_id, level=level, step=step, message=message, data=data)
                    .returning(*job_run_events.c)
                ).one()
        except IntegrityError:
            raise NotFoundError(f"job run {run_id} not found") from None
        return JobRunEvent(**row._mapping)

    def list_events(self, run_id: int, *, tenant: str | None = None) -> list[JobRunEvent]:
        """The run's events; with ``tenant``, a run of another tenant is not found (no peeking by id)."""
        if tenant is not None and self.get_run(run_id).tenant != tenant:
            raise NotFoundError(f"job run {run_id} not found for tenant {tenant}")
        with self._cp.engine.connect() as conn:
            rows = conn.execute(
                select(job_run_events)
                .where(job_run_events.c.job_run_id == run_id)
                .order_by(job_run_events.c.id)
            )
            return [JobRunEvent(**row._mapping) for row in rows]
