"""The concurrency pools Synkro's steps claim (Dagster pools; limits in the instance config).

One owner for the names: the code location's steps use them, and `synkro up` creates their
rows before any run does — on a fresh instance, runs that claim a new pool at the same time race
to create its row, and Dagster fails the losers (`InFailedSqlTransaction` after a unique-key
violation in `initialize_concurrency_limit_to_default`).
"""

AMOCRM = "amocrm"
RADIST = "radist"
WAREHOUSE = "warehouse"
GEMINI = "gemini"
TELEGRAM = "telegram"
ALL = (AMOCRM, RADIST, WAREHOUSE, GEMINI, TELEGRAM)


def ensure_pools(instance) -> None:
    """Create every pool's concurrency row at the instance's default limit, one after another."""
    storage = instance.event_log_storage
    existing = set(storage.get_concurrency_keys())
    for pool in ALL:
        if pool not in existing:
            storage.initialize_concurrency_limit_to_default(pool)
