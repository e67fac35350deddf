"""Every citation in the package, tests, notebooks and configs resolves inside the repository.

A reader who meets a citation must be able to open it: ``docs/paper.md §X`` needs a heading numbered X in
``docs/paper.md``; the old out-of-repository forms ("DIGEST A.4", "issue 5") are refused outright, and so are
the working notes that never were in the repository ("FACTS", "DESIGN §5", "the digest", ``paper/NUMBERS.md``,
``shared/FACTS.md``): a measurement is stated where it is used, a published number cites docs/paper.md §D.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "docs" / "paper.md"
SCANNED = ("emodubber", "notebooks", "nbconfig", "benchmarks", "tests")
SUFFIXES = {".py", ".ipynb", ".yaml", ".yml", ".md", ".txt", ".toml", ".cfg"}
THIS = Path(__file__).resolve()

#: A heading "## 3.2 Lip-related ..." or "### A.1 Loss ..." or "## D. Published numbers" defines §3.2, §A.1, §D.
HEADING = re.compile(r"^#{1,6}\s+(?P<num>\d+(?:\.\d+)*|[A-Z](?:\.\d+)*)\.?\s", re.MULTILINE)
#: "docs/paper.md §3.2", "``docs/paper.md`` §D", "docs/paper.md §3.3.1, §3.3.2" (every § of the list is checked).
PAPER_CITE = re.compile(r"docs/paper\.md`{0,2}\s*(?P<secs>§\s*[0-9A-Z][0-9.]*(?:(?:\s*,\s*|\s+and\s+)§\s*[0-9A-Z][0-9.]*)*)")
ONE_SEC = re.compile(r"§\s*([0-9A-Z](?:\.\d+)*)")
DIGEST = re.compile(r"DIGEST")
ISSUE = re.compile(r"\bissues?\s+#?\d+", re.IGNORECASE)
#: notes outside the repository: FACTS / DESIGN (upper case, as they were cited), "the digest", paper/ and shared/
OUTSIDE = re.compile(r"\bFACTS\b|\bDESIGN\b|\bthe digest\b|\bdigest's\b|(?<![\w/.-])(?:paper|shared)/\w")


def paper_sections(text: str) -> set[str]:
    """Section numbers defined by the headings of docs/paper.md."""
    return {m.group("num") for m in HEADING.finditer(text)}


def _lines(path: Path) -> list[tuple[str, str]]:
    """(where, text) for every line a reader sees: notebook cell sources, or the file's lines."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".ipynb":
        return [(f"line {i}", line) for i, line in enumerate(text.splitlines(), 1)]
    out = []
    for c, cell in enumerate(json.loads(text).get("cells", [])):
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        out += [(f"cell {c} line {i}", line) for i, line in enumerate(src.splitlines(), 1)]
    return out


def scanned_files(root: Path = ROOT) -> list[Path]:
    files = []
    for d in SCANNED:
        for p in sorted((root / d).rglob("*")):
            if (p.is_file() and p.suffix in SUFFIXES and p.resolve() != THIS
                    and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts):
                files.append(p)
    return files


def find_problems(files: list[Path], sections: set[str], root: Path = ROOT) -> dict[str, list[str]]:
    """Unresolvable citations by kind: ``digest``, ``issue``, ``paper`` (a § with no heading), ``outside``."""
    problems: dict[str, list[str]] = {"digest": [], "issue": [], "paper": [], "outside": []}
    for path in files:
        rel = path.relative_to(root)
        for where, line in _lines(path):
            snippet = line.strip()[:140]
            if DIGEST.search(line):
                problems["digest"].append(f"{rel} {where}: {snippet}")
            if ISSUE.search(line):
                problems["issue"].append(f"{rel} {where}: {snippet}")
            if OUTSIDE.search(line):
                problems["outside"].append(f"{rel} {where}: {snippet}")
            for m in PAPER_CITE.finditer(line):
                for sec in ONE_SEC.findall(m.group("secs")):
                    if sec not in sections:
                        problems["paper"].append(f"{rel} {where}: §{sec} has no heading in docs/paper.md")
    return problems


@pytest.fixture(scope="module")
def problems() -> dict[str, list[str]]:
    assert PAPER.is_file(), "docs/paper.md is missing"
    return find_problems(scanned_files(), paper_sections(PAPER.read_text(encoding="utf-8")))


def _report(kind: str, items: list[str], fix: str) -> str:
    return f"{len(items)} {kind} that a reader cannot open ({fix}):\n  " + "\n  ".join(items)


def test_paper_md_sections_are_unique_and_cover_the_method():
    nums = [m.group("num") for m in HEADING.finditer(PAPER.read_text(encoding="utf-8"))]
    dupes = sorted({n for n in nums if nums.count(n) > 1})
    assert not dupes, f"docs/paper.md numbers these sections twice: {dupes}"
    # the paper's method sections and the appendices the code cites
    for sec in ("3.1", "3.2", "3.3", "3.4", "3.5", "A.1", "B.2", "C.3", "D.4", "F.4"):
        assert sec in nums, f"docs/paper.md has no section {sec}"


def test_paper_md_labels_every_equation_once():
    text = PAPER.read_text(encoding="utf-8")
    labels = [int(n) for n in re.findall(r"^(?!#).*\(Eq\. (\d+)\)\s*$", text, re.MULTILINE)]
    assert sorted(labels) == list(range(1, max(labels) + 1)), f"equation labels not 1..N once each: {labels}"


def test_checker_finds_planted_bad_citations(tmp_path):
    (tmp_path / "emodubber").mkdir()
    bad = tmp_path / "emodubber" / "m.py"
    bad.write_text('"""X (DIGEST A.4). Y (docs/paper.md §3.2, §9.9). Z (issue 5)."""\n'
                   '"""Fine: docs/paper.md §3.2 and ``docs/paper.md`` §D."""\n', encoding="utf-8")
    nb = tmp_path / "emodubber" / "n.ipynb"
    nb.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": ["see docs/paper.md §Z.1\n"]}]}),
                  encoding="utf-8")
    notes = tmp_path / "emodubber" / "o.py"
    notes.write_text("# A (FACTS: 2 s a step). B (DESIGN §5). C (the digest's reading). D (paper/NUMBERS.md).\n"
                     "# E (shared/FACTS.md).\n"
                     "# Fine: docs/paper.md §D, a paper, papers/ of others, docs/paper/x, FACTSHEET, design, digests.\n",
                     encoding="utf-8")
    found = find_problems([bad, nb, notes], {"3.2", "D"}, root=tmp_path)
    assert len(found["digest"]) == 1 and len(found["issue"]) == 1
    assert [p.split(": ", 1)[0] for p in found["outside"]] == ["emodubber/o.py line 1", "emodubber/o.py line 2"]
    assert [p.split(": ", 1)[1] for p in found["paper"]] == [
        "§9.9 has no heading in docs/paper.md", "§Z.1 has no heading in docs/paper.md"]


def test_every_paper_citation_resolves(problems):
    assert not problems["paper"], _report("docs/paper.md citations", problems["paper"],
                                          "add the heading to docs/paper.md or fix the §")


def test_no_digest_citations(problems):
    assert not problems["digest"], _report("DIGEST citations", problems["digest"],
                                           "cite docs/paper.md §X instead")


def test_no_notes_outside_the_repository(problems):
    assert not problems["outside"], _report("citations of notes outside the repository", problems["outside"],
                                            "state the measurement itself, or cite docs/paper.md §X")


def test_no_issue_references(problems):
    assert not problems["issue"], _report('"issue N" references', problems["issue"],
                                          "state the requirement the issue stood for")
