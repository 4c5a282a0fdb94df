"""`synkro docs`: build the dbt documentation site for one tenant and serve it locally.

`dbt docs generate` needs a live warehouse (it reads the catalog of the tenant's schemas), so the
site is built for one tenant at a time; the model and column descriptions are the same for all.
The site lands in `<synkro_home>/dbt-docs`, outside the repo, and is served as static files
(the same thing `dbt docs serve` does, without it opening a browser or needing its own profile).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
from collections.abc import Mapping
from pathlib import Path

from synkro.modeling.dbt import DbtRun
from synkro.modeling.runner import run_dbt
from synkro.paths import synkro_home

SITE_FILES = ("index.html", "manifest.json", "catalog.json", "run_results.json")


class DocsBuildError(RuntimeError):
    """`dbt docs generate` failed; the message carries dbt's output tail (no secrets: dbt prints none)."""


def docs_dir() -> Path:
    return synkro_home() / "dbt-docs"


def build_docs(
    database_url: str, vars: Mapping[str, str] | None = None, site_dir: Path | None = None
) -> Path:
    """Generate the docs site and return the directory holding `index.html`.

    `vars` are one tenant's (`dbt_vars`), whose schemas the catalog describes; None: the project's
    defaults (no tenant). `site_dir` defaults to `docs_dir()`.
    """
    site = site_dir or docs_dir()
    slug = (vars or {}).get("tenant", "__none__")
    target = site.parent / f".dbt-target-docs-{slug}"
    run: DbtRun = run_dbt(["docs", "generate"], database_url, vars, target_path=target)
    if not run.ok or not (target / "index.html").exists():
        raise DocsBuildError(f"dbt docs generate failed for {slug}:\n{run.log[-4000:]}")
    site.mkdir(parents=True, exist_ok=True)
    for name in SITE_FILES:
        if (target / name).exists():
            shutil.copy2(target / name, site / name)
    return site


def docs_server(port: int = 8080, host: str = "127.0.0.1", directory: Path | None = None):
    """An HTTP server for the built site (not yet serving); port 0 picks a free port."""
    site = directory or docs_dir()
    if not (site / "index.html").exists():
        raise FileNotFoundError(f"no docs site in {site}; run build_docs first")
    handler = functools.partial(_QuietHandler, directory=str(site))
    return http.server.ThreadingHTTPServer((host, port), handler)


def serve_docs(port: int = 8080, host: str = "127.0.0.1", directory: Path | None = None) -> None:
    """Serve the built site until interrupted (blocks). Binds to localhost unless told otherwise."""
    with docs_server(port, host, directory) as server, contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static files without a log line per request on stderr."""

    def log_message(self, format: str, *args: object) -> None:
        return
