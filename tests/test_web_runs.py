"""Issue 10, item 4: a forced report started in the browser and watched to its end, live.

One tenant configured against the session sandbox (as tests/test_run_path.py does, with a fresh
amoCRM authorization code), the session's real Dagster services (code server and daemon), and
the portal in this process pointed at them (`dagster_env`): the admin's click takes the one run
path — job_runs row, the instance's queue, the daemon, the code server — and the page follows
the ledger over server-sent events. One full run (about a minute); the other tests read it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from playwright.sync_api import expect

from sandbox.server import SandboxServer
from synkro.demo import configure_tenant
from synkro.orchestration.ledger import STEPS
from tests.e2e_helpers import new_private_chat
from tests.fixtures.portal import DESKTOP, PHONE, Account, Portal, screenshot, sign_in
from tests.fixtures.services import DagsterServices

pytestmark = pytest.mark.timeout(900)

FINAL = ("succeeded", "failed", "cancelled", "skipped")
# Installed before any page script: every data-status a step element shows, in order, from the
# first paint on (Playwright's init scripts are not subject to the page's CSP).
COLLECTOR = """
window.__stepsSeen = [];
document.addEventListener("DOMContentLoaded", () => {
  const record = (el) => window.__stepsSeen.push([el.dataset.step, el.dataset.status]);
  document.querySelectorAll("[data-testid=step]").forEach(record);
  new MutationObserver((changes) => changes.forEach((c) => {
    if (c.target.dataset.testid === "step") record(c.target);
  })).observe(document.body, {subtree: true, attributes: true, attributeFilter: ["data-status"]});
});
"""


@dataclass
class RunTenant:
    slug: str
    admin: Account
    run_id: int | None = None
    report_id: int | None = None
    notes: dict = field(default_factory=dict)


@pytest.fixture(scope="module")
def tenant(portal: Portal, sandbox: SandboxServer, dagster_services: DagsterServices) -> Iterator[RunTenant]:
    slug = "wr" + uuid.uuid4().hex[:6]
    # An authorization code is spent once: this tenant connects amoCRM with a fresh one.
    info = sandbox.info()
    code = httpx.post(f"{sandbox.urls.control}/amocrm/auth_codes", timeout=10).json()["auth_code"]
    info["amocrm"] = {**info["amocrm"], "auth_code": code}
    configure_tenant(portal.cp, info, slug)
    portal.cp.settings.update_settings(slug, gemini_rpm=600)
    chat_id = new_private_chat(sandbox.urls.control)
    portal.cp.configs.set_config(slug, "telegram", {"chat_id": chat_id}, actor="test")
    yield RunTenant(slug, portal.account("admin", slug))


def _runs_of(portal: Portal, slug: str) -> list:
    return portal.cp.jobs.list_runs(slug)


def _sequences(seen: list[list[str]]) -> dict[str, list[str]]:
    """Per step, the statuses it showed, repeats collapsed."""
    out: dict[str, list[str]] = {step: [] for step in STEPS}
    for step, status in seen:
        if not out[step] or out[step][-1] != status:
            out[step].append(status)
    return out


def test_a_bad_window_is_refused_beside_its_field_and_starts_nothing(
    portal: Portal, tenant: RunTenant, page
) -> None:
    sign_in(page, portal, tenant.admin, f"/t/{tenant.slug}/runs")
    before = len(_runs_of(portal, tenant.slug))
    page.check("input[name=mode][value=window]")
    page.fill("input[name=start]", "2026-03-02T10:00")
    page.fill("input[name=end]", "2026-03-01T10:00")
    page.click("[data-testid=run-start]")
    error = page.locator("[data-testid=field-error]")
    assert error.count() == 1 and error.get_attribute("data-field") == "end"
    assert "позже начала" in error.inner_text()
    assert page.locator("input[name=end]").get_attribute("aria-invalid") == "true"
    assert page.locator("input[name=start]").input_value() == "2026-03-02T10:00"  # kept as typed
    screenshot(page, "runs-field-error")
    # Too far back (the tenant's look-back limit is 3 days): the error sits beside the start.
    page.fill("input[name=start]", "2020-01-01T10:00")
    page.fill("input[name=end]", "2020-01-01T20:00")
    page.click("[data-testid=run-start]")
    error = page.locator("[data-testid=field-error]")
    assert error.get_attribute("data-field") == "start" and "3 дн." in error.inner_text()
    page.fill("input[name=start]", "2026-03-01T10:00")
    page.fill("input[name=end]", "2026-03-03T10:00")
    page.click("[data-testid=run-start]")
    assert "24 ч" in page.inner_text("[data-testid=field-error]")
    assert len(_runs_of(portal, tenant.slug)) == before


def test_admin_forces_a_report_and_watches_every_step_to_its_end(
    portal: Portal, tenant: RunTenant, dagster_env: DagsterServices, page
) -> None:
    slug = tenant.slug
    sign_in(page, portal, tenant.admin, f"/t/{slug}/runs")
    page.add_init_script(COLLECTOR)
    screenshot(page, "runs-before")
    page.click("[data-testid=run-start]")  # the default: the last closed business day
    page.wait_for_url(re.compile(rf"/t/{slug}/runs/\d+$"))
    run_id = tenant.run_id = int(page.url.rsplit("/", 1)[1])
    row = portal.cp.jobs.get_run(run_id)
    assert row.tenant == slug and row.job == "forced_report" and row.trigger == "manual"
    assert row.details["launched_by"] == tenant.admin.email and row.window_start is not None
    steps = page.locator("[data-testid=step]")
    assert [s.get_attribute("data-step") for s in steps.all()] == STEPS

    page.wait_for_selector("[data-testid=step][data-status=running]", timeout=300_000)
    screenshot(page, "run-during")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "run-during-phone")
    page.set_viewport_size(DESKTOP)

    # A second start while this one is active: a clear message pointing at it, no second run.
    other = page.context.new_page()
    other.goto(f"{portal.url}/t/{slug}/runs")
    other.click("[data-testid=run-start]")
    alert = other.locator("[data-testid=run-alert]")
    assert f"#{run_id}" in alert.inner_text()
    assert other.locator("[data-testid=run-alert-link]").get_attribute("href") == f"/t/{slug}/runs/{run_id}"
    assert [r.id for r in _runs_of(portal, slug) if r.status not in FINAL] == [run_id]
    other.close()

    expect(page.locator("[data-testid=run-status]")).to_have_attribute(
        "data-status", re.compile("^(succeeded|failed|cancelled|skipped)$"), timeout=600_000
    )
    final = {s.get_attribute("data-step"): s.get_attribute("data-status") for s in steps.all()}
    assert page.get_attribute("[data-testid=run-status]", "data-status") == "succeeded", final
    assert set(final.values()) <= {"done", "skipped"}, final
    assert final["amocrm"] == final["telegram"] == "done", final
    sequences = _sequences(page.evaluate("window.__stepsSeen"))
    assert any("running" in seq for seq in sequences.values()), sequences
    order = ["waiting", "running", "done"]
    for step, seq in sequences.items():
        assert seq[0] == "waiting", (step, seq)  # the page opened before the run started
        if seq[-1] == "done":  # never backwards: waiting → (running →) done
            assert [order.index(s) for s in seq] == sorted(order.index(s) for s in seq), (step, seq)
    summaries = {
        s.get_attribute("data-step"): s.locator("[data-role=summary]").inner_text() for s in steps.all()
    }
    assert "amocrm loaded" in summaries["amocrm"] and "telegram: sent" in summaries["telegram"], summaries
    assert page.locator("[data-testid=steps]").get_attribute("data-live") == "false"  # the stream ended
    screenshot(page, "run-after")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "run-after-phone")
    page.set_viewport_size(DESKTOP)

    # The finished run links to its report, which the list shows and whose document opens.
    link = page.locator("[data-testid=run-report]")
    assert link.is_visible()
    report = portal.cp.reports.find_report(slug, "daily", row.window_start, row.window_end)
    assert report is not None and report.status == "sent"
    tenant.report_id = report.id
    assert link.get_attribute("href") == f"/t/{slug}/reports/{report.id}"
    link.click()
    page.wait_for_url(f"**/t/{slug}/reports/{report.id}")
    body = page.frame_locator("[data-testid=report-document]").locator("body")
    assert "Отчёт по продажам в мессенджерах" in body.inner_text()
    page.goto(f"{portal.url}/t/{slug}/reports")
    assert page.locator(f"[data-testid=report-row][data-report-id='{report.id}']").count() == 1

    page.goto(f"{portal.url}/t/{slug}/runs")
    listed = page.locator(f"[data-testid=run-row][data-run-id='{run_id}']")
    assert tenant.admin.email in listed.inner_text() and "готово" in listed.inner_text()
    screenshot(page, "runs-after")
    page.set_viewport_size(PHONE)
    screenshot(page, "runs-after-phone")


def test_viewer_sees_the_runs_but_cannot_start_one(portal: Portal, tenant: RunTenant, page) -> None:
    assert tenant.run_id, "needs the run of the test above"
    viewer = portal.account("viewer", tenant.slug)
    sign_in(page, portal, viewer, f"/t/{tenant.slug}/runs")
    assert page.locator(f"[data-testid=run-row][data-run-id='{tenant.run_id}']").count() == 1
    assert page.locator("[data-testid=run-start]").count() == 0
    token = page.get_attribute("meta[name=csrf-token]", "content")
    before = len(_runs_of(portal, tenant.slug))
    refused = page.request.post(
        f"{portal.url}/t/{tenant.slug}/runs", form={"csrftoken": token, "mode": "day"}
    )
    assert refused.status == 403
    assert len(_runs_of(portal, tenant.slug)) == before
    # The finished run's page: every step final, no stream opened.
    page.goto(f"{portal.url}/t/{tenant.slug}/runs/{tenant.run_id}")
    statuses = {s.get_attribute("data-status") for s in page.locator("[data-testid=step]").all()}
    assert statuses <= {"done", "skipped"}
    assert page.locator("[data-testid=steps]").get_attribute("data-live") == "false"
    assert page.locator("[data-testid=run-report]").is_visible()
    page.goto(f"{portal.url}/t/{tenant.slug}/runs?lang=en")
    assert "Run history" in page.inner_text("main") and "succeeded" in page.inner_text(
        "[data-testid=run-row]"
    )


def test_runs_and_reports_of_another_tenant_answer_404(portal: Portal, tenant: RunTenant, page) -> None:
    assert tenant.run_id and tenant.report_id, "needs the run of the test above"
    other = portal.tenant("wr")
    stranger = portal.account("admin", other)
    sign_in(page, portal, stranger, f"/t/{other}/runs")
    assert page.locator("[data-testid=run-row]").count() == 0
    for path in (
        f"/t/{other}/runs/{tenant.run_id}",
        f"/t/{other}/runs/{tenant.run_id}/events",
        f"/t/{other}/reports/{tenant.report_id}",
        f"/t/{other}/reports/{tenant.report_id}/document",
        f"/t/{tenant.slug}/runs",
        f"/t/{tenant.slug}/runs/{tenant.run_id}",
        f"/t/{tenant.slug}/runs/{tenant.run_id}/events",
    ):
        assert page.request.get(f"{portal.url}{path}").status == 404, path
    token = page.get_attribute("meta[name=csrf-token]", "content")
    assert page.request.post(f"{portal.url}/t/{tenant.slug}/runs", form={"csrftoken": token}).status == 404
