"""The report of the window, saved in the control plane, and its delivery to Telegram.

The report is built from the marts and analyses, stored (`reports`: draft → ready → sent|failed)
with its full body, then delivered exactly once: a re-run of the same window sends nothing unless
the run carries the resend tag (`synkro run --resend`).
"""

import dagster as dg

from synkro.clients.tenant_clients import amocrm_base_url
from synkro.db import connect
from synkro.delivery.telegram import ControlPlaneDeliveryStore, DeliveryFailed, TelegramTarget, deliver_report
from synkro.orchestration import pools
from synkro.orchestration.tags import RESEND
from synkro.report.build import build_report
from synkro.report.model import Report, ReportWindow
from synkro.report.render import html_document
from synkro_dagster.mirror import RunMirror
from synkro_dagster.partitions import tenant_partitions
from synkro_dagster.resources import SynkroResource
from synkro_dagster.window import run_window

REPORT_TYPE = "daily"


@dg.asset(
    key=dg.AssetKey(["report", "daily_report"]),
    partitions_def=tenant_partitions,
    deps=[
        dg.AssetKey(["dialog_analyses"]),
        dg.AssetKey(["marts", "mart_manager_days"]),
        dg.AssetKey(["marts", "mart_manager_dialog_days"]),
    ],
    group_name="report",
    kinds={"python"},
)
def daily_report(context: dg.AssetExecutionContext, synkro: SynkroResource) -> dg.MaterializeResult:
    """Headline numbers, quality, managers, riskiest and best dialogs, AI spend, source freshness."""
    tctx = synkro.tenant(context.partition_key)
    mirror = RunMirror.attach(context, tctx)
    mirror.start("report")
    window = run_window(context, tctx)
    mirror.set_window(window)
    try:
        amocrm = tctx.config("amocrm")
        with connect(tctx.warehouse_url()) as conn:
            report = build_report(
                conn,
                tctx.slug,
                ReportWindow(
                    start=window.start, end=window.end, timezone=tctx.tenant.timezone, label=window.label
                ),
                tctx.settings,
                mirror.step_states(),
                amocrm_base_url=amocrm_base_url(amocrm) if amocrm else None,
            )
        reports = tctx.cp.reports
        existing = reports.find_report(tctx.slug, REPORT_TYPE, window.start, window.end)
        body = html_document(report)
        data = report.model_dump(mode="json")
        summary = f"{report.headline.dialogs} dialogs, kind {report.kind}"
        if existing is not None and existing.status == "sent":
            # Keep the delivered report as it was sent; delivery decides about --resend.
            record = existing
        elif existing is not None:
            record = reports.update_report(existing.id, summary=summary, body=body, data=data)
        else:
            record = reports.create_draft(
                tctx.slug,
                REPORT_TYPE,
                window.start,
                window.end,
                job_run_id=mirror.job_run_id,
                summary=summary,
                body=body,
                data=data,
            )
        if record.status == "draft":
            record = reports.set_status(record.id, "ready")
    except Exception as exc:
        mirror.fail("report", exc)
    mirror.done("report", f"report {record.id} {record.status}: {summary}", {"report_id": record.id})
    return dg.MaterializeResult(
        metadata={
            "report_id": record.id,
            "status": record.status,
            "dialogs": report.headline.dialogs,
            "kind": report.kind,
            "window": f"{window.start.isoformat()} .. {window.end.isoformat()}",
        }
    )


@dg.asset(
    key=dg.AssetKey(["report", "telegram_delivery"]),
    partitions_def=tenant_partitions,
    deps=[dg.AssetKey(["report", "daily_report"])],
    group_name="report",
    pool=pools.TELEGRAM,
    kinds={"python"},
)
def telegram_delivery(context: dg.AssetExecutionContext, synkro: SynkroResource) -> dg.MaterializeResult:
    """Messages split under 4,096 characters, the chart as a photo, the full report as a document."""
    tctx = synkro.tenant(context.partition_key)
    mirror = RunMirror.attach(context, tctx)
    mirror.start("telegram")
    window = run_window(context, tctx)
    mirror.set_window(window)
    record = tctx.cp.reports.find_report(tctx.slug, REPORT_TYPE, window.start, window.end)
    if record is None:
        raise RuntimeError(f"no report for tenant {tctx.slug!r} and window {window.key()}")
    config = tctx.config("telegram")
    if config is None:
        note = "Telegram is not configured; the report is saved but not delivered"
        mirror.done("telegram", note, level="warning")
        return dg.MaterializeResult(metadata={"status": "not configured", "report_id": record.id})
    report = Report.model_validate(record.data)
    resend = context.run.tags.get(RESEND) == "true"
    try:
        result = deliver_report(
            report,
            TelegramTarget.from_config(config),
            ControlPlaneDeliveryStore(tctx.cp, tctx.slug),
            record.id,
            resend=resend,
        )
    except DeliveryFailed as exc:
        mirror.fail("telegram", exc, text=str(exc))
    except Exception as exc:
        mirror.fail("telegram", exc)
    mirror.done(
        "telegram",
        f"telegram: {result.status}, {len(result.message_ids)} messages",
        {"message_ids": result.message_ids},
    )
    return dg.MaterializeResult(
        metadata={"status": result.status, "report_id": record.id, "messages": len(result.message_ids)}
    )
