"""`synkro check SLUG KIND`: is an integration usable, and what exactly is wrong if not.

Each kind has a module `synkro/checks/<kind>.py` exposing
`run(tctx: TenantContext, options: CheckOptions) -> CheckResult`. The dispatcher saves the
outcome in the control plane (`integration_configs.status/last_error/last_checked_at`) and prints
it; exit code 0 when ok, 1 when the check failed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

KINDS = ("supabase", "amocrm", "radist", "gemini", "telegram")


@dataclass
class CheckOptions:
    sample: int = 0  # amocrm: show N contacts with their phones and Radist dialogs
    send_test: bool = False  # telegram: post a test message


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

    @property
    def ok(self) -> bool:
        return all(line.ok is not False for line in self.lines) and bool(self.lines)

    def add(self, name: str, ok: bool | None, detail: str = "") -> CheckLine:
        line = CheckLine(name, ok, detail)
        self.lines.append(line)
        return line

    def first_error(self) -> str | None:
        for line in self.lines:
            if line.ok is False:
                return f"{line.name}: {line.detail}" if line.detail else line.name
        return None


def run_check(tctx: Any, kind: str, options: CheckOptions) -> CheckResult:
    """Run the kind's check and save its status; errors inside a check become a failed line."""
    if kind not in KINDS:
        raise ValueError(f"unknown integration kind {kind!r}; expected one of: {', '.join(KINDS)}")
    module = importlib.import_module(f"synkro.checks.{kind}")
    try:
        result = module.run(tctx, options)
    except Exception as exc:  # a check reports what broke; it must not crash the CLI
        result = CheckResult(kind)
        result.add("check", False, f"{type(exc).__name__}: {exc}")
    status = "ok" if result.ok else "error"
    tctx.cp.configs.set_config_status(tctx.slug, kind, status, error=result.first_error())
    return result
