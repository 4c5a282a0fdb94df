"""`synkro prepare | dev | docs | demo`: build artefacts, the Dagster UI, dbt docs, the demo story."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from synkro.cli.common import console, controlplane

if TYPE_CHECKING:
    from synkro.sandbox_process import SandboxProcess


def prepare() -> None:
    """Build the dbt manifest the Dagster code location loads (`dbt parse`; no database needed)."""
    from synkro.modeling.manifest import build_manifest

    console.print(f"dbt manifest ready: {build_manifest()}")


def _start_sandbox(port: int, scenario: str) -> SandboxProcess:
    """The sandbox as a child process (the product does not import it); `port` 0 = any free."""
    from synkro.sandbox_process import SandboxProcess

    return SandboxProcess(port=port, scenario=scenario, seed=42).start()


def _reconnect_demo(sandbox: SandboxProcess) -> None:
    """A fresh sandbox forgets issued tokens: give the demo tenant a new pair from a new code."""
    from synkro.clients.amocrm_oauth import OAuthApp, exchange_code
    from synkro.controlplane import NotFoundError
    from synkro.demo import DEMO_SLUG, REDIRECT_URI

    cp = controlplane()
    try:
        cp.tenants.get(DEMO_SLUG)
    except NotFoundError:
        return
    amo = sandbox.info()["amocrm"]
    app = OAuthApp(amo["base_url"], amo["client_id"], amo["client_secret"], REDIRECT_URI)
    pair = exchange_code(app, amo["auth_code"])
    record = cp.configs.get_record(DEMO_SLUG, "amocrm")
    cp.configs.update_config_fields(
        DEMO_SLUG,
        "amocrm",
        {
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "expires_at": pair.expires_at.isoformat() if pair.expires_at else None,
        },
        record.version,
    )


def dev(
    port: int = typer.Option(3000, help="Dagster UI port."),
    web_port: int = typer.Option(8000, "--web-port", help="Portal port."),
    sandbox: bool = typer.Option(
        True, "--sandbox/--no-sandbox", help="Also serve the sandbox (and create the demo tenant on it)."
    ),
) -> None:
    """The portal, the Dagster UI (services as `synkro up --ui`) and the sandbox, until Ctrl-C.

    Prints the portal's URL and demo logins (the demo tenant's admin and an operator) with a
    password made for this session. SIGINT and SIGTERM both end it: what it started (the portal,
    the UI, the sandbox, and the code server and daemon when they were not already up) is stopped.
    """
    import os

    import httpx

    from synkro.db import database_url, masked_url
    from synkro.demo import DEMO_PORT, DEMO_SLUG, configure_tenant, demo_logins
    from synkro.orchestration import services
    from synkro.web.app import create_app
    from synkro.web.config import DAGSTER_UI_ENV, PUBLIC_URL_ENV
    from synkro.web.server import PortalThread

    console.print(f"database: {masked_url(database_url())}")
    cp = controlplane()
    already = set(services.status().running) if services.status() else set()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server = portal = None
    try:
        if sandbox:
            server = _start_sandbox(DEMO_PORT, "small")
            if DEMO_SLUG in {t.slug for t in cp.tenants.list()}:
                _reconnect_demo(server)
            else:
                configure_tenant(cp, server.info())
            console.print(f"sandbox: {server.urls.root}")
        running = services.up(ui=True, ui_port=port, say=console.print)
        console.print(f"Dagster UI: {running.ui_url}")
        os.environ.setdefault(PUBLIC_URL_ENV, f"http://127.0.0.1:{web_port}")
        os.environ.setdefault(DAGSTER_UI_ENV, running.ui_url or "")
        portal = PortalThread(create_app(cp), port=web_port).start()
        if server is not None:
            # The sandbox plays the amoCRM integration: its registered redirect URI must be ours,
            # as amoCRM requires, for "Connect amoCRM" to come back here.
            callback = f"{os.environ[PUBLIC_URL_ENV]}/oauth/amocrm/callback"
            httpx.post(
                f"{server.urls.control}/amocrm/integration", json={"redirect_uri": callback}, timeout=10
            ).raise_for_status()
        password, logins = demo_logins(cp)
        console.print(f"portal: {os.environ[PUBLIC_URL_ENV]}  (Ctrl-C to stop)", highlight=False)
        for email, role in logins:
            console.print(f"  login {email} / {password}  ({role})", highlight=False)
        while not stop.wait(0.5):
            pass
    finally:
        if portal is not None:
            portal.stop()
        started = tuple(name for name in services.ORDER if name not in already or name == "webserver")
        services.down(only=started, say=console.print)
        if server is not None:
            server.stop()


def docs(
    port: int = typer.Option(8080, help="Port for the docs site."),
    tenant: str | None = typer.Option(None, help="Tenant whose warehouse the catalog describes."),
    build_only: bool = typer.Option(False, "--build-only", help="Generate the site and exit."),
) -> None:
    """Build the dbt docs (models, columns, lineage) and serve them locally."""
    from synkro.demo import DEMO_SLUG
    from synkro.modeling.dbt import dbt_vars
    from synkro.modeling.docs import build_docs, serve_docs
    from synkro.tenant_context import TenantContext

    cp = controlplane()
    slugs = [t.slug for t in cp.tenants.list()]
    # Descriptions and lineage are the same for every tenant; the catalog (column types, row
    # counts) is one tenant's. The demo tenant, when there is one, is what `make docs` shows.
    slug = tenant or (DEMO_SLUG if DEMO_SLUG in slugs else (slugs[0] if slugs else None))
    if slug is None:
        site = build_docs(cp.url)
    else:
        tctx = TenantContext.load(slug, cp)
        site = build_docs(tctx.warehouse_url(), dbt_vars(slug, tctx.settings, tctx.tenant.timezone))
    console.print(f"dbt docs built in {site}" + (f" (catalog of tenant {slug})" if slug else ""))
    if build_only:
        return
    console.print(f"serving on http://127.0.0.1:{port}  (Ctrl-C to stop)")
    serve_docs(port, directory=site)


def demo(
    scenario: str = typer.Option("small", help="Sandbox scenario size: small, medium or large."),
    port: int = typer.Option(0, help="Sandbox port (0 = 8765 if free, else any free port)."),
) -> None:
    """The whole product on the embedded Postgres and the local sandbox, end to end.

    The run goes through the local services (`synkro up`); those the demo started are stopped at
    the end, since the demo tenant's sandbox is gone then too.
    """
    from synkro.cli.pipeline import follow, start_run
    from synkro.db import database_url, masked_url, uses_embedded
    from synkro.demo import DEMO_PORT, DEMO_SLUG, configure_tenant, html_to_terminal, telegram_messages
    from synkro.orchestration import services
    from synkro.ports import port_is_free
    from synkro.windows import last_closed_business_day

    console.rule("1. Postgres")
    url = database_url()
    console.print(("embedded server " if uses_embedded() else "DATABASE_URL ") + masked_url(url))
    cp = controlplane()
    console.print("control plane migrated (schema synkro)")

    console.rule("2. Sandbox: amoCRM, Radist, Gemini and Telegram emulators")
    chosen = port or (DEMO_PORT if port_is_free(DEMO_PORT) else 0)
    sandbox = _start_sandbox(chosen, scenario)
    already = services.status()
    try:
        info = sandbox.info()
        for service in ("amocrm", "radist", "gemini", "telegram"):
            console.print(f"{service:<9} {info[service]['base_url']}")

        console.rule(f"3. Tenant '{DEMO_SLUG}' with sandbox credentials")
        configure_tenant(cp, info)
        for record in (
            cp.configs.get_record(DEMO_SLUG, k) for k in ("amocrm", "radist", "gemini", "telegram")
        ):
            console.print(f"{record.kind:<9} configured ({', '.join(sorted(record.config.public_dict()))})")
        console.print("amoCRM connected by exchanging an authorization code; tokens stored encrypted")

        console.rule("4. Forced report through Dagster")
        tenant = cp.tenants.get(DEMO_SLUG)
        window = last_closed_business_day(datetime.now(UTC), tenant.timezone, "22:01")
        console.print(
            f"window: {window.start.astimezone(tenant.zone):%d.%m %H:%M} → "
            f"{window.end.astimezone(tenant.zone):%d.%m %H:%M} {tenant.timezone}"
        )
        code = follow(start_run(DEMO_SLUG, "forced_report", window=window))
        if code != 0:
            raise typer.Exit(code)

        console.rule("5. The report as Telegram received it")
        for message in telegram_messages(sandbox.urls.control):
            kind = message.get("type", "text")
            if kind == "text":
                console.print(html_to_terminal(message.get("text") or ""), markup=False, highlight=False)
                console.print()
            else:
                name = message.get("file_name") or message.get("document", {}).get("file_name") or ""
                console.print(f"[{kind}] {name} {message.get('caption') or ''}".strip(), markup=False)
    finally:
        sandbox.stop()
        if already is None:
            services.down()

    console.rule("Next")
    console.print("Portal (sign in, settings, forced report):     make dev   → http://127.0.0.1:8000")
    console.print("Dagster UI (asset graph, runs, force a report): make dev   → http://127.0.0.1:3000")
    console.print("dbt docs (every mart and column):               make docs  → http://127.0.0.1:8080")
    console.print(f"Run history without the UI:                     .venv/bin/synkro runs {DEMO_SLUG}")


def register(app: typer.Typer) -> None:
    for command in (prepare, dev, docs, demo):
        app.command()(command)
