"""Issue 10, item 6: a tenant's reports in the portal — the list and each report's document.

The reports here are written the way the report step writes them (the control plane's
repository, the body from `synkro.report.render.html_document`); a report made by a real run is
opened in tests/test_web_runs.py. The document is served sandboxed under a policy of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from synkro.report.model import DialogHighlight, Headline, ManagerRow, Report, ReportWindow
from synkro.report.render import html_document
from tests.fixtures.portal import DESKTOP, PHONE, Account, Portal, screenshot, sign_in

EVIL = "<script>alert('x')</script> & Co"


@dataclass
class Reports:
    slug: str
    sent_id: int
    ready_id: int
    viewer: Account


def _report(portal: Portal, slug: str, start: datetime, *, sent: bool) -> int:
    end = start + timedelta(days=1)
    model = Report(
        tenant_slug=slug,
        window=ReportWindow(start=start, end=end, timezone="Europe/Moscow", label=f"{end.date()}"),
        generated_at=datetime.now(UTC),
        headline=Headline(dialogs=3, messages_in=10, messages_out=8, left_waiting=1),
        managers=[
            ManagerRow(
                manager_name=EVIL,
                dialogs=3,
                median_first_response_seconds=90,
                left_waiting=1,
                average_score=61,
            )
        ],
        riskiest=[
            DialogHighlight(
                dialog_id="d1",
                manager_name="Анна",
                score=20,
                risk_flags=["no_next_step"],
                summary=f"Клиент спросил цену, ответа нет {EVIL}",
                lead_id=7,
                lead_url="https://example.amocrm.ru/leads/detail/7",
            )
        ],
    )
    record = portal.cp.reports.create_draft(
        slug,
        "daily",
        start,
        end,
        summary="3 dialogs, kind full",
        body=html_document(model),
        data=model.model_dump(mode="json"),
    )
    record = portal.cp.reports.set_status(record.id, "ready")
    if sent:
        record = portal.cp.reports.set_status(record.id, "sent", delivery={"message_ids": [1]})
    return record.id


@pytest.fixture(scope="module")
def reports(portal: Portal) -> Iterator[Reports]:
    slug = portal.tenant("rep")
    day = datetime(2026, 3, 1, 19, 1, tzinfo=UTC)
    sent_id = _report(portal, slug, day, sent=True)
    ready_id = _report(portal, slug, day + timedelta(days=1), sent=False)
    yield Reports(slug, sent_id, ready_id, portal.account("viewer", slug))


def test_viewer_sees_the_tenants_reports_and_opens_a_document(portal: Portal, reports: Reports, page) -> None:
    sign_in(page, portal, reports.viewer, f"/t/{reports.slug}/reports")
    rows = page.locator("[data-testid=report-row]")
    assert rows.count() == 2
    newest, older = rows.nth(0), rows.nth(1)
    assert newest.get_attribute("data-report-id") == str(reports.ready_id)
    assert "готов" in newest.inner_text()
    assert "отправлен" in older.inner_text()
    sent_at = portal.cp.reports.get_report(reports.sent_id).sent_at.astimezone(ZoneInfo("Europe/Moscow"))
    assert f"{sent_at:%Y-%m-%d %H:%M}" in older.inner_text()  # in the tenant's zone
    assert "01.03.2026 22:01 → 02.03.2026 22:01" in older.inner_text()
    screenshot(page, "reports-list")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "reports-list-phone")
    page.set_viewport_size(DESKTOP)

    older.locator("a").click()
    page.wait_for_url(f"**/t/{reports.slug}/reports/{reports.sent_id}")
    frame = page.frame_locator("[data-testid=report-document]")
    body = frame.locator("body")
    body.wait_for()
    text = body.inner_text()
    assert "Отчёт по продажам в мессенджерах" in text
    assert EVIL in text  # shown as text, never as markup
    assert frame.locator("script").count() == 0
    screenshot(page, "report-document")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "report-document-phone")


def test_the_document_carries_its_own_sandboxing_policy(portal: Portal, reports: Reports, page) -> None:
    sign_in(page, portal, reports.viewer, f"/t/{reports.slug}/reports")
    url = f"{portal.url}/t/{reports.slug}/reports/{reports.sent_id}/document"
    answer = page.request.get(url)
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy and "script-src" not in policy
    assert "frame-ancestors 'self'" in policy and answer.headers["x-frame-options"] == "SAMEORIGIN"
    assert answer.text() == portal.cp.reports.get_report(reports.sent_id).body.replace(
        "<head>", '<head><base target="_blank">', 1
    )
    download = page.request.get(f"{url}?download=1")
    assert download.headers["content-disposition"].startswith("attachment;")
    # The page that frames it keeps the portal's strict policy.
    framing = page.request.get(f"{portal.url}/t/{reports.slug}/reports/{reports.sent_id}")
    assert "script-src 'self'" in framing.headers["content-security-policy"]
    assert framing.headers["x-frame-options"] == "DENY"


def test_reports_of_another_tenant_answer_404_and_managers_403(
    portal: Portal, reports: Reports, page
) -> None:
    other = portal.tenant("rep")
    stranger = portal.account("admin", other)
    sign_in(page, portal, stranger, f"/t/{other}/reports")
    assert page.locator("[data-testid=report-row]").count() == 0
    for path in (
        f"/t/{other}/reports/{reports.sent_id}",
        f"/t/{other}/reports/{reports.sent_id}/document",
        f"/t/{reports.slug}/reports",
        f"/t/{reports.slug}/reports/{reports.sent_id}",
        f"/t/{reports.slug}/reports/{reports.sent_id}/document",
        f"/t/{other}/reports/999999999",
    ):
        assert page.request.get(f"{portal.url}{path}").status == 404, path
    manager = portal.account("manager", reports.slug, amocrm_user_id=1)
    page.context.clear_cookies()
    sign_in(page, portal, manager, f"/t/{reports.slug}")
    for path in (f"/t/{reports.slug}/reports", f"/t/{reports.slug}/reports/{reports.sent_id}/document"):
        assert page.request.get(f"{portal.url}{path}").status == 403, path
