"""Report delivery to the tenant (Telegram)."""
