"""Notebook hygiene and authoring: metadata papermill needs, one ``parameters`` cell, no outputs, one set-up.

Notebooks are written as percent-format scripts (``# %%`` code cells, ``# %% [markdown]`` markdown
cells, ``# %% tags=["parameters"]`` for the parameters cell) and converted by :func:`from_percent`;
``python -m emodubber.reports.notebooks SRC.py DST.ipynb`` does it from the shell. papermill's translator is
imported only when a parameter is checked (an optional, heavy third-party backend).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["KERNELSPEC", "LANGUAGE_INFO", "hygiene_problems", "setup_problems", "from_percent"]

KERNELSPEC = {"name": "emodubber", "display_name": "Python (emodubber)", "language": "python"}
LANGUAGE_INFO = {"name": "python", "version": "3.11", "mimetype": "text/x-python", "file_extension": ".py",
                 "pygments_lexer": "ipython3", "codemirror_mode": {"name": "ipython", "version": 3},
                 "nbconvert_exporter": "python"}


def _tags(cell: dict[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def hygiene_problems(path: str | Path) -> list[str]:
    """Everything wrong with a committed notebook (empty list: clean)."""
    nb = json.loads(Path(path).read_text())
    problems = []
    meta = nb.get("metadata", {})
    if not meta.get("kernelspec", {}).get("name"):
        problems.append("metadata.kernelspec is missing (papermill refuses the notebook)")
    if not meta.get("language_info", {}).get("name"):
        problems.append("metadata.language_info is missing (papermill refuses the notebook)")
    cells = nb.get("cells", [])
    n_params = sum("parameters" in _tags(c) for c in cells)
    if n_params != 1:
        problems.append(f"{n_params} cells tagged 'parameters' (exactly one is required)")
    for i, c in enumerate(cells):
        if c.get("cell_type") == "code" and (c.get("outputs") or c.get("execution_count") is not None):
            problems.append(f"cell {i} has outputs or an execution count (commit notebooks stripped)")
            break
    for c in cells:
        if "parameters" in _tags(c):
            src = "".join(c.get("source", []))
            for line in src.splitlines():
                s = line.strip()
                if s and not s.startswith("#") and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*\s*=\s*(['\"].*['\"]|[-+0-9.eE]+|True|False|None|\[.*\]|\{.*\})\s*(#.*)?$", s):
                    problems.append(f"parameters cell holds more than plain literals: {s!r}")
            problems += _unseen_by_papermill(src)
    return problems


#: set-up steps that belong to :func:`emodubber.reports.notebook_setup.begin`, not to a notebook's own code
_HAND_SETUP = re.compile(r"\b(load_profile|seed_everything|RunRecord|set_num_threads)\(")
#: the calls that do the set-up: ``begin`` (every notebook) or the explorer's ``open_session`` (notebook 20)
_SETUP_CALL = re.compile(r"\b(begin|open_session)\(")


def setup_problems(path: str | Path) -> list[str]:
    """How a notebook sets itself up by hand (profile, seed, threads, run record) instead of through
    :func:`emodubber.reports.notebook_setup.begin` (empty list: it uses the one helper)."""
    nb = json.loads(Path(path).read_text())
    code = ["".join(c.get("source", [])) for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    problems = [f"code cell {i} does {m.group(1)}(...) itself: call notebook_setup.begin instead"
                for i, src in enumerate(code) for m in _HAND_SETUP.finditer(src)]
    if not any(_SETUP_CALL.search(src) for src in code):
        problems.append("no code cell calls notebook_setup.begin(...)")
    return problems


def _unseen_by_papermill(src: str) -> list[str]:
    """Parameter lines papermill's own parser cannot read (e.g. an '=' inside the comment, as in '<='): such a
    parameter is invisible to ``papermill.inspect_notebook`` and so to ``emodubber reproduce --param``."""
    try:
        from papermill.translators import PythonTranslator
    except ImportError:  # papermill absent: nothing to check against
        return []
    out = []
    for line in src.splitlines():
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=", line.strip())
        if m and m.group(1) not in {p.name for p in PythonTranslator.inspect({"source": line})}:
            out.append(f"papermill cannot read the parameter line {line.strip()!r} (avoid '=' in its comment)")
    return out


_HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?: tags=(?P<tags>\[.*\]))?\s*$")


def from_percent(text: str) -> dict[str, Any]:
    """Build a stripped notebook (nbformat 4 JSON) from percent-format source."""
    cells: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = None
    lines: list[str] = []

    def flush() -> None:
        if cur is None:
            return
        body = "\n".join(lines).strip("\n")
        if cur["cell_type"] == "markdown":
            body = "\n".join(re.sub(r"^# ?", "", ln) for ln in body.splitlines())
        src = [ln + "\n" for ln in body.splitlines()]
        if src:
            src[-1] = src[-1].rstrip("\n")
        cur["source"] = src
        cells.append(cur)

    for line in text.splitlines():
        m = _HEADER.match(line)
        if m:
            flush()
            tags = json.loads(m.group("tags")) if m.group("tags") else []
            md = {"tags": tags} if tags else {}
            if m.group("md"):
                cur = {"cell_type": "markdown", "metadata": md, "source": []}
            else:
                cur = {"cell_type": "code", "metadata": md, "source": [], "outputs": [], "execution_count": None}
            lines = []
        elif cur is not None:
            lines.append(line)
    flush()
    for i, c in enumerate(cells):
        c["id"] = f"cell-{i:02d}"
    return {"cells": cells, "metadata": {"kernelspec": KERNELSPEC, "language_info": LANGUAGE_INFO},
            "nbformat": 4, "nbformat_minor": 5}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m emodubber.reports.notebooks SRC.py DST.ipynb", file=sys.stderr)
        return 2
    nb = from_percent(Path(argv[0]).read_text())
    Path(argv[1]).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    problems = hygiene_problems(argv[1])
    for p in problems:
        print(f"{argv[1]}: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
