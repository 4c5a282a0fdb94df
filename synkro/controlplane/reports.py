"""Reports: one row per tenant × window × type, from draft to ready to sent (or failed).

The database enforces the one row (unique `reports_tenant_type_window`); `create_draft` of a window
that already has a report returns that report unchanged instead of failing.

Delivery metadata (chat id, Telegram message ids, document file id, attempts) is kept with the
report so a retried delivery can tell what was already sent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from synkro.controlplane.errors import BadInputError, NotFoundError
from synkro.controlplane.tables import REPORT_STATUSES, reports, tenants
from synkro.redact import Redactor, for_tenant

if TYPE_CHECKING:
    from synkro.controlplane import ControlPlane


@dataclass(frozen=True)
class Report:
    id: int
    tenant: str
    job_run_id: int | None
    report_type: str
    window_start: datetime
    window_end: datetime
    status: str
    summary: str | None
    body: str | None
    data: dict[str, Any]
    delivery: dict[str, Any]
    error: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items()}


def _query():
    columns = [c for c in reports.c if c.name != "tenant_id"]
    return select(*columns, tenants.c.slug.label("tenant")).join(tenants, tenants.c.id == reports.c.tenant_id)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise BadInputError(f"{name} must be timezone-aware")
    return value


class ReportRepository:
    def __init__(self, cp: ControlPlane):
        self._cp = cp

    def create_draft(
        self,
        slug: str,
        report_type: str,
        window_start: datetime,
        window_end: datetime,
        *,
        job_run_id: int | None = None,
        summary: str | None = None,
        body: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> Report:
        """A new draft, or the window's existing report (as it is) when there is one already."""
        _aware(window_start, "window_start")
        _aware(window_end, "window_end")
        if window_end <= window_start:
            raise BadInputError("window_end must be after window_start")
        redactor = for_tenant(self._cp, slug)  # report text never carries a secret of the tenant
        summary, body = redactor.optional(summary), redactor.optional(body)
        with self._cp.engine.begin() as conn:
            tenant_id = self._cp.tenants.id_of(conn, slug)
            # A concurrent create_draft of the same window waits here for the other to commit and
            # then inserts nothing; the caller gets the report that exists (one window, one report).
            report_id = conn.execute(
                pg_insert(reports)
                .values(
                    tenant_id=tenant_id,
                    job_run_id=job_run_id,
                    report_type=report_type,
                    window_start=window_start,
                    window_end=window_end,
                    summary=summary,
                    body=body,
                    data=data or {},
                )
                .on_conflict_do_nothing(constraint="reports_tenant_type_window")
                .returning(reports.c.id)
            ).scalar_one_or_none()
        if report_id is None:
            existing = self.find_report(slug, report_type, window_start, window_end)
            if existing is None:  # its tenant was deleted between our insert and this read
                raise NotFoundError(f"report of {slug} {report_type} {window_start}..{window_end} vanished")
            return existing
        return self.get_report(report_id)

    def _redactor(self, report_id: int) -> Redactor:
        with self._cp.engine.connect() as conn:
            slug = conn.execute(
                select(tenants.c.slug)
                .join(reports, reports.c.tenant_id == tenants.c.id)
                .where(reports.c.id == report_id)
            ).scalar_one_or_none()
        return for_tenant(self._cp, slug)

    def get_report(self, report_id: int) -> Report:
        with self._cp.engine.connect() as conn:
            row = conn.execute(_query().where(reports.c.id == report_id)).first()
        if row is None:
            raise NotFoundError(f"report {report_id} not found")
        return Report(**row._mapping)

    def find_report(
        self, slug: str, report_type: str, window_start: datetime, window_end: datetime
    ) -> Report | None:
        """The report of this type for exactly this window, if any (there is at most one)."""
        query = (
            _query()
            .where(
                tenants.c.slug == slug,
                reports.c.report_type == report_type,
                reports.c.window_start == _aware(window_start, "window_start"),
                reports.c.window_end == _aware(window_end, "window_end"),
            )
            .order_by(reports.c.id.desc())
            .limit(1)
        )
        with self._cp.engine.connect() as conn:
            row = conn.execute(query).first()
        return Report(**row._mapping) if row else None

    def list_reports(
        self, slug: str | None = None, *, status: str | None = None, limit: int = 50
    ) -> list[Report]:
        query = _query().order_by(reports.c.id.desc()).limit(limit)
        if slug is not None:
            query = query.where(tenants.c.slug == slug)
        if status is not None:
            query = query.where(reports.c.status == status)
        with self._cp.engine.connect() as conn:
            return [Report(**row._mapping) for row in conn.execute(query)]

    def update_report(
        self,
        report_id: int,
        *,
        status: str | None = None,
        summary: str | None = None,
        body: str | None = None,
        data: dict[str, Any] | None = None,
        delivery: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> Report:
        """Set content and/or status; `delivery` is merged into the stored delivery metadata."""
        values: dict[str, Any] = {"updated_at": func.now()}
        if status is not None:
            if status not in REPORT_STATUSES:
                raise BadInputError(
                    f"invalid report status {status!r}; expected one of: {', '.join(REPORT_STATUSES)}"
                )
            values["status"] = status
            if status == "sent":
                values["sent_at"] = func.now()
        redactor = self._redactor(report_id)
        summary, body, error = redactor.optional(summary), redactor.optional(body), redactor.optional(error)
        for name, value in (("summary", summary), ("body", body), ("data", data), ("error", error)):
            if value is not None:
                values[name] = value
        if delivery is not None:
            values["delivery"] = reports.c.delivery.op("||")(func.cast(delivery, reports.c.delivery.type))
        with self._cp.engine.begin() as conn:
            result = conn.execute(
                update(reports).where(reports.c.id == report_id).values(**values).returning(reports.c.id)
            )
            if result.first() is None:
                raise NotFoundError(f"report {report_id} not found")
        return self.get_report(report_id)

    def set_status(
        self, report_id: int, status: str, *, delivery: dict[str, Any] | None = None, error: str | None = None
    ) -> Report:
        return self.update_report(report_id, status=status, delivery=delivery, error=error)
