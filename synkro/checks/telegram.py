"""`synkro check SLUG telegram`: token valid, chat reachable and deliverable, without posting.

Why these three probes: a wrong token, a chat the bot was never added to, and a user who blocked
the bot each fail differently, and only the last one is invisible to getChat. `--send-test` then
posts one visible line so the owner sees where reports will land.
"""

from __future__ import annotations

import asyncio
from typing import Any

from synkro.checks import CheckOptions, CheckResult
from synkro.delivery.telegram import TelegramTarget, probe_telegram_async


def run(tctx: Any, options: CheckOptions) -> CheckResult:
    result = CheckResult("telegram", on_line=options.on_line)
    target = TelegramTarget.from_config(tctx.config("telegram"))
    for probe in asyncio.run(probe_telegram_async(target, send_test=options.send_test)):
        result.add(probe.name, probe.ok, probe.detail)
    if not options.send_test and result.ok:
        result.add("test message", None, "not sent; use --send-test to post one")
    return result
