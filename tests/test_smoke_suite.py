"""The whole notebook suite under the smoke profile: every notebook runs and writes what it promises."""

import json

import pytest

from emodubber.config import load_profile, repo_root
from emodubber.reports.suite import load_suite, run_suite
from emodubber.reports.verify import SKIPPED_FILES, compare_reports, format_differences, reference_dir

REFERENCE = repo_root() / "tests" / "fixtures" / "smoke_reference"


@pytest.mark.slow
@pytest.mark.timeout(4800)  # a hang guard, not a speed test: ~5 min on 2 quiet cores, CI saw 4-5x that
def test_smoke_suite_runs_end_to_end():
    cfg = load_profile("smoke")
    record = run_suite("smoke")
    assert record.status == "ok"
    assert [s["notebook"] for s in record.steps] == [e.name for e in load_suite()]
    for e in load_suite():
        for artefact in e.produces:
            assert (cfg.reports_dir / artefact).exists(), f"{e.name} did not write {artefact}"
    saved = json.loads((cfg.reports_dir / "run_record.json").read_text())
    assert saved["status"] == "ok" and saved["profile"] == "smoke"
    readme = (cfg.reports_dir / "README.md").read_text()
    assert saved["commit"] in readme and "synthetic" in readme.lower()
    # same seed, same numbers: every table against the committed reference (tests/fixtures/smoke_reference);
    # a change that moves them must refresh it (`emodubber verify --profile smoke --update` after a smoke run)
    ref = reference_dir("smoke", cfg.reports_dir, repo_root())
    assert ref == REFERENCE, f"the smoke reference tables are not committed at {REFERENCE}"
    n, diffs = compare_reports(ref, cfg.reports_dir)
    assert not diffs, format_differences(n, diffs)


def test_the_committed_smoke_reference_holds_every_table_the_suite_writes():
    # the smoke suite test compares against these: a table the suite writes but the reference lacks goes unchecked
    assert REFERENCE.is_dir(), f"{REFERENCE} is missing (emodubber verify --profile smoke --update after a smoke run)"
    tables = {a for e in load_suite() for a in e.produces if a.endswith(".csv")}
    committed = {p.name for p in REFERENCE.glob("*.csv")}
    assert tables - committed == set(), f"not in the smoke reference: {sorted(tables - committed)}"
    assert committed - tables == set(), f"in the smoke reference but no longer written: {sorted(committed - tables)}"
    n, diffs = compare_reports(REFERENCE, REFERENCE)  # every reference table is readable and numeric where it matters
    assert n == len(tables - {a for a in tables if SKIPPED_FILES.search(a)}) and diffs == []
