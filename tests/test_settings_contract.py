"""Tenant settings: every field is read by the code, every documented setting is a field.

Why: settings used to reach the steps as a dict that renamed fields, and consumers read keys no one
could set (with a default each) while a documented setting was read nowhere. These tests read the
code (AST) and the README, so a field added without a reader, or documented without a field,
fails here instead of silently doing nothing.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from synkro.controlplane.settings import TenantSettings

ROOT = Path(__file__).resolve().parents[1]
CODE_DIRS = ("synkro", "synkro_dagster", "dlt_sources")
DEFINITION = ROOT / "synkro" / "controlplane" / "settings.py"


def _settings_reads() -> set[str]:
    """Attribute names read off a settings object: `settings.x`, `tctx.settings.x`, `self.settings.x`."""
    names: set[str] = set()
    for folder in CODE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            if path == DEFINITION:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Attribute):
                    continue
                owner = node.value
                owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
                if owner_name == "settings":
                    names.add(node.attr)
    return names


def _readme_settings() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Runtime settings", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)


def test_every_setting_is_read_somewhere() -> None:
    unread = sorted(set(TenantSettings.model_fields) - _settings_reads())
    assert unread == [], f"settings no code reads: {unread}"


def test_readme_documents_exactly_the_settings() -> None:
    documented = _readme_settings()
    assert len(documented) == len(set(documented))
    assert sorted(documented) == sorted(TenantSettings.model_fields)


def test_every_setting_has_a_description() -> None:
    missing = [name for name, field in TenantSettings.model_fields.items() if not field.description]
    assert missing == []
