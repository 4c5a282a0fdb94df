"""Where Synkro keeps its local state.

Everything a single installation writes to disk (embedded Postgres data, the master key file,
dlt pipeline working dirs, Dagster home, generated dbt profiles) lives under one folder so that
`rm -rf .synkro` is a complete reset and nothing leaks into the user's home directory.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def synkro_home() -> Path:
    """Return `$SYNKRO_HOME`, or `<repo>/.synkro` for a source checkout, creating it if needed."""
    configured = os.environ.get("SYNKRO_HOME")
    home = Path(configured) if configured else REPO_ROOT / ".synkro"
    home.mkdir(parents=True, exist_ok=True)
    return home
