"""`synkro web`: serve the portal (sign-in, settings wizard, forced reports, reports, admin)."""

from __future__ import annotations

import typer

from synkro.cli.common import console


def web(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
) -> None:
    """Serve the web portal until Ctrl-C. Users reach it at SYNKRO_PUBLIC_URL (default http://127.0.0.1:8000)."""
    from synkro.web.app import create_app
    from synkro.web.config import public_url
    from synkro.web.server import serve

    app = create_app()
    console.print(f"portal: {public_url()}  (listening on {host}:{port}; Ctrl-C to stop)", highlight=False)
    serve(app, host, port)


def register(app: typer.Typer) -> None:
    app.command()(web)
