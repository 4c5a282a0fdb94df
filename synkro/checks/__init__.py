"""`synkro check SLUG KIND`: is an integration usable, and what exactly is wrong if not.

Each kind has a module `synkro/checks/<kind>.py` exposing
`run(tctx: TenantContext, options: CheckOptions) -> CheckResult`. The dispatcher saves the
outcome in the control plane (`integration_configs.status/last_error/last_checked_at`) and prints
it; exit code 0 when ok, 1 when the check failed.

`CheckOptions.on_line` (optional) is called with each line as the check adds it, so the portal can
show lines live while a slow check is still running. Every line — streamed or returned — passes
through the tenant's redactor (`synkro.redact`) first (an exception text may quote a URL with a bot token in
it), so no caller can leak one by printing what a check said.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from synkro.redact import Redactor, for_tenant

KINDS = ("supabase", "amocrm", "radist", "gemini", "telegram")


@dataclass
class CheckOptions:
    sample: int = 0  # amocrm: show N contacts with their phones and Radist dialogs
    send_test: bool = False  # telegram: post a test message
    # Called with each CheckLine as it is added (from the check's thread); None: nobody listens.
    on_line: Callable[[CheckLine], None] | None = None


@dataclass
class CheckLine:
    """One verified property: `ok` True/False, or None for an informational line or warning."""

    name: str
    ok: bool | None
    detail: str = ""


@dataclass
class CheckResult:
    kind: str
    lines: list[CheckLine] = field(default_factory=list)
    # Free-form output printed after the lines (sample dialogs, a test analysis, ...).
    extra: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    on_line: Callable[[CheckLine], None] | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return all(line.ok is not False for line in self.lines) and bool(self.lines)

    def add(self, name: str, ok: bool | None, detail: str = "") -> CheckLine:
        line = CheckLine(name, ok, detail)
        self.lines.append(line)
        if self.on_line is not None:
            self.on_line(line)
        return line

    def first_error(self) -> str | None:
        for line in self.lines:
            if line.ok is False:
                return f"{line.name}: {line.detail}" if line.detail else line.name
        return None


def redact_line(line: CheckLine, redactor: Redactor) -> CheckLine:
    line.name = redactor(line.name)
    line.detail = redactor(line.detail)
    return line


def run_check(tctx: Any, kind: str, options: CheckOptions) -> CheckResult:
    """Run the kind's check and save its status; errors inside a check become a failed line."""
    if kind not in KINDS:
        raise ValueError(f"unknown integration kind {kind!r}; expected one of: {', '.join(KINDS)}")
    module = importlib.import_module(f"synkro.checks.{kind}")
    redactor = for_tenant(tctx.cp, tctx.slug)
    listener = options.on_line
    if listener is not None:
        options = replace(options, on_line=lambda line: listener(redact_line(line, redactor)))
    try:
        result = module.run(tctx, options)
    except Exception as exc:  # a check reports what broke; it must not crash the CLI
        result = CheckResult(kind, on_line=options.on_line)
        result.add("check", False, f"{type(exc).__name__}: {exc}")
    for line in result.lines:
        redact_line(line, redactor)
    result.extra = [redactor(block) for block in result.extra]
    status = "ok" if result.ok else "error"
    tctx.cp.configs.set_config_status(tctx.slug, kind, status, error=result.first_error())
    return result
