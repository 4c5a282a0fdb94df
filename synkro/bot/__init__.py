"""The Telegram bot service (`synkro bot`): one python-telegram-bot Application per tenant, one loop.

Modules: ``tenants`` (which tenants have a bot, read from the control plane), ``access`` (which chats
and which group messages are served), ``commands`` (/help, /report), ``service`` (polling, refresh, stop).
"""
