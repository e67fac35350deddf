"""The package's shape: layers and no cycles (import-linter), files of one idea (≤ 500 lines), imports at the top.

docs/architecture.md §3 draws the layers; ``pyproject.toml`` holds the import-linter contracts this test runs.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "emodubber"
MAX_LINES = 500
#: share of the package's imports of itself that may sit inside functions (lazy heavy backends are third-party)
MAX_LOCAL_SHARE = 0.10


def _lint_imports() -> str | None:
    exe = Path(sys.executable).with_name("lint-imports")
    return str(exe) if exe.exists() else shutil.which("lint-imports")


def test_layers_and_no_cycles_by_import_linter():
    exe = _lint_imports()
    if exe is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    r = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True,
                       timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def test_no_module_over_500_lines():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}, f"split these by idea: {long}"


def internal_imports(path: Path) -> tuple[int, int]:
    """(imports of ``emodubber`` at module level, inside functions) in one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = local = 0

    def is_internal(node: ast.AST) -> bool:
        if isinstance(node, ast.ImportFrom):
            return node.level > 0 or (node.module or "").split(".")[0] == "emodubber"
        return isinstance(node, ast.Import) and any(a.name.split(".")[0] == "emodubber" for a in node.names)

    def visit(node: ast.AST, in_function: bool) -> None:
        nonlocal top, local
        for child in ast.iter_child_nodes(node):
            if is_internal(child):
                if in_function:
                    local += 1
                else:
                    top += 1
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return top, local


def test_package_imports_itself_at_module_top():
    counts = {p: internal_imports(p) for p in PACKAGE.rglob("*.py")}
    top, local = sum(t for t, _ in counts.values()), sum(n for _, n in counts.values())
    worst = sorted(((n, str(p.relative_to(ROOT))) for p, (_, n) in counts.items() if n), reverse=True)[:8]
    assert local / max(top + local, 1) < MAX_LOCAL_SHARE, f"{local} of {top + local} inside functions; most: {worst}"


def test_the_counter_sees_function_level_imports(tmp_path):
    p = tmp_path / "m.py"
    p.write_text("from emodubber.config import X\nimport numpy\n\ndef f():\n    from emodubber.utils import Y\n"
                 "    import emodubber.text\n    return Y\n")
    assert internal_imports(p) == (1, 2)
