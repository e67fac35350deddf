"""The metrics package imports one way (no cycles) and never imports the reports; dub never imports train.

Read from the source (``ast``), so the check needs none of the judges' backends.
"""

import ast
from pathlib import Path

import emodubber

PKG = Path(emodubber.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every ``emodubber...`` module a file imports, at any depth."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("emodubber"):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("emodubber")}
    return out


def test_metrics_has_no_import_cycle_and_no_reports():
    graph = {p.stem: {m.rsplit(".", 1)[1] for m in _imports(p) if m.startswith("emodubber.metrics.")}
             for p in (PKG / "metrics").glob("*.py")}
    assert not any(m.startswith("emodubber.reports") for p in (PKG / "metrics").glob("*.py") for m in _imports(p))
    seen, done = set(), set()

    def visit(n, stack):
        assert n not in stack, f"import cycle: {' -> '.join([*stack, n])}"
        if n in done:
            return
        for m in graph.get(n, ()):
            visit(m, [*stack, n])
        done.add(n)

    for n in graph:
        visit(n, [])
        seen.add(n)
    assert {"syncnet", "lse", "sync_expert", "emotion_judge", "emotion_judge_train"} <= seen


def test_dub_never_imports_train():
    for p in (PKG / "dub").glob("*.py"):
        assert not any(m.startswith("emodubber.train") for m in _imports(p)), p.name
