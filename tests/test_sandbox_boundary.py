"""The product imports nothing from the sandbox: it runs it as a process (`python -m sandbox`).

The emulators are test and demo tooling installed with the `sandbox` extra; if a product module
imported them, a production install without the extra would break on that import.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRODUCT_PACKAGES = ("synkro", "synkro_dagster", "dlt_sources")
DYNAMIC_IMPORTS = {"import_module", "__import__"}


def _is_sandbox(module: str) -> bool:
    return module == "sandbox" or module.startswith("sandbox.")


def _imported(node: ast.AST) -> list[str]:
    """Modules a node imports: `import a, b`, `from a import x`, `importlib.import_module("a")`."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        # A relative import names a module of the product's own package, never the top-level one.
        return [node.module or ""] if node.level == 0 else []
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return [str(node.args[0].value)] if name in DYNAMIC_IMPORTS else []
    return []


def sandbox_imports(source: str) -> list[int]:
    """Line numbers of every import of `sandbox`, static or by `importlib.import_module("sandbox…")`."""
    nodes = ast.walk(ast.parse(source))
    return sorted(node.lineno for node in nodes if any(_is_sandbox(m) for m in _imported(node)))


def test_the_scan_recognises_every_import_form() -> None:
    source = (
        "import sandbox\n"
        "import os, sandbox.server as s\n"
        "from sandbox import faults\n"
        "from sandbox.server import SandboxServer\n"
        "importlib.import_module('sandbox.amocrm')\n"
        "from .sandbox import x\n"  # relative: a product module of that name, not the package
        "import sandboxes\n"
        "from synkro.sandbox_process import SandboxProcess\n"
    )
    assert sandbox_imports(source) == [1, 2, 3, 4, 5]


def test_product_packages_import_nothing_from_sandbox() -> None:
    files = [path for package in PRODUCT_PACKAGES for path in sorted((REPO / package).rglob("*.py"))]
    assert len(files) > 50, "the scan should see the whole product"
    offenders = [
        f"{path.relative_to(REPO)}:{line}"
        for path in files
        for line in sandbox_imports(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def imports_of(source: str, package: str) -> list[int]:
    """Line numbers of every import of `package` (static or dynamic)."""
    nodes = ast.walk(ast.parse(source))
    inside = (package, f"{package}.")
    return sorted(
        node.lineno for node in nodes if any(m == package or m.startswith(inside[1]) for m in _imported(node))
    )


def test_the_portal_and_the_core_never_import_the_dagster_code_location() -> None:
    """One-way layers: `synkro/` (and so `synkro/web/`) launches runs through the instance's queue;
    importing `synkro_dagster` would load the whole code location (dbt manifest, assets) in the portal."""
    files = sorted((REPO / "synkro").rglob("*.py"))
    assert any("web" in path.parts for path in files)
    offenders = [
        f"{path.relative_to(REPO)}:{line}"
        for path in files
        for line in imports_of(path.read_text(encoding="utf-8"), "synkro_dagster")
    ]
    assert offenders == []
