"""reports/README.md: artefact map, presence, run record, claims, disclaimer."""

import json

import pandas as pd

from emodubber.reports.index import artefact_rows, load_claims, partial_reruns, write_reports_readme
from emodubber.reports.claims import claims_check, write_claims
from emodubber.reports.tables import SYNTHETIC_LABEL

ENTRIES = [
    {"name": "10_table4_grid", "path": "notebooks/10_table4_grid.ipynb", "title": "Table 4", "paper": "Table 4 (GRID)",
     "produces": ["tables/table4.md", "tables/table4.csv"]},
    {"name": "11_fig3", "path": "notebooks/11_fig3_intensity.ipynb", "title": "Fig 3", "paper": "Figure 3",
     "produces": ["figures/fig3_intensity.png"]},
    {"name": "00_overview", "path": "notebooks/00_overview.ipynb", "title": "overview", "paper": "", "produces": []},
]

RECORD = {"profile": "cpu", "seed": 1234, "commit": "abc123", "machine": {"cpu": "TestCPU", "cpu_count": 2},
          "started": "2026-01-01T00:00:00+00:00", "ended": "2026-01-01T01:00:00+00:00", "wall_time_s": 3600.0,
          "status": "ok", "steps": [{"notebook": "10_table4_grid", "seconds": 61.5, "status": "ok"}]}


def test_readme_maps_artefacts_and_flags_missing(tmp_path):
    base = tmp_path / "cpu"
    (base / "tables").mkdir(parents=True)
    (base / "tables" / "table4.md").write_text("t")
    (base / "tables" / "table4.csv").write_text("t")
    claims = claims_check([{"claim": "EmoDubber better than lip-blind TTS on LSE-C ↑", "measured": "7 vs 5", "holds": True},
                           {"claim": "WER within 2 points", "measured": "3.1 worse", "holds": False}])
    write_claims(claims, "table4", base / "tables", RECORD, title="Table 4 claims")
    md = write_reports_readme(tmp_path, ENTRIES, RECORD, profile_dir="cpu").read_text()
    assert (tmp_path / "README.md").exists()
    assert SYNTHETIC_LABEL in md
    assert "| Table 4 (GRID) | `notebooks/10_table4_grid.ipynb` | [`tables/table4.md`](cpu/tables/table4.md) | yes |" in md
    assert "[`figures/fig3_intensity.png`](cpu/figures/fig3_intensity.png) | **missing** |" in md
    assert "2 of 3 listed files present" in md
    for needle in ("`cpu`", "1234", "`abc123`", "TestCPU", "60.0 min", "61.5"):
        assert needle in md
    assert "✅ holds" in md and "❌ does not hold" in md and "1 distinct claim(s) hold, 1 do not" in md
    # the same claim in a second notebook's file counts once; intervals are shown when a file has them
    again = claims_check([{"claim": "EmoDubber better than lip-blind TTS on LSE-C ↑", "measured": "7 vs 5",
                           "holds": True, "ci_separated": False}])
    write_claims(again, "ablations", base / "tables", RECORD, title="Ablation claims")
    md = write_reports_readme(tmp_path, ENTRIES, RECORD, profile_dir="cpu").read_text()
    assert "1 distinct claim(s) hold, 1 do not" in md
    assert "| EmoDubber better than lip-blind TTS on LSE-C ↑ | 7 vs 5 | ✅ holds | no |" in md
    assert "[NOTE3P]" in md and "unknown" in md


def test_readme_without_record_or_claims_says_so(tmp_path):
    md = write_reports_readme(tmp_path, ENTRIES[:1]).read_text()
    assert "No run record found" in md and "No claims file" in md
    (tmp_path / "run_record.json").write_text(json.dumps(RECORD))
    md = write_reports_readme(tmp_path, ENTRIES[:1]).read_text()
    assert "`abc123`" in md


def test_artefact_rows_and_claims_loading(tmp_path):
    rows = artefact_rows(tmp_path, ENTRIES)
    assert [r["exists"] for r in rows] == [False, False, False, None]
    (tmp_path / "x.claims.json").write_text("{not json")
    [c] = load_claims(tmp_path)
    assert c["path"] == "x.claims.json" and "unreadable" in c["error"]
    assert "unreadable" in write_reports_readme(tmp_path, ENTRIES).read_text()


def test_suite_yaml_entries_are_accepted(tmp_path):
    from emodubber.reports.suite import load_suite

    entries = load_suite()
    md = write_reports_readme(tmp_path, entries, RECORD).read_text()
    assert all(e.path in md for e in entries)
    assert isinstance(pd.DataFrame(artefact_rows(tmp_path, entries)), pd.DataFrame)


def test_partial_reruns_after_the_full_run_are_listed(tmp_path):
    old = {**RECORD, "started": "2025-12-31T00:00:00+00:00", "steps": [{"notebook": "02_old", "seconds": 1}]}
    new = {**RECORD, "commit": "def456", "started": "2026-01-01T02:00:00+00:00", "extra": {"params": {"REUSE": True}},
           "steps": [{"notebook": "02_pretrain_tts", "seconds": 95.2, "status": "ok"}]}
    (tmp_path / "run_record_02_old.json").write_text(json.dumps(old))
    (tmp_path / "run_record_02_pretrain_tts.json").write_text(json.dumps(new))
    (tmp_path / "run_record_bad.json").write_text("{")
    reruns = partial_reruns(tmp_path, RECORD)
    assert [r["commit"] for r in reruns] == ["def456"]  # the one before the full run and the unreadable one: no
    md = write_reports_readme(tmp_path, ENTRIES[:1], RECORD, reruns=reruns).read_text()
    assert "| 02_pretrain_tts | 95.2 | ok | `def456` | 2026-01-01T02:00:00+00:00 | `REUSE=True` |" in md
    assert "02_old" not in md


def test_budgets_are_checked_against_the_run():
    from emodubber.reports.index import budget_lines
    from emodubber.reports.suite import load_budgets

    rec = {"wall_time_s": 7500.0, "steps": [{"notebook": "a", "seconds": 500.0}, {"notebook": "b", "seconds": 650.0}]}
    budgets = {"suite": 7200, "groups": {"a+b": {"notebooks": ["a", "b"], "seconds": 1200},
                                         "a+c": {"notebooks": ["a", "c"], "seconds": 1200}}}
    lines = budget_lines(rec, budgets)
    assert lines[0] == "budget, whole suite: 125.0 min of 120 min → **over** by 5.0 min"
    assert lines[1] == "budget, a+b: 19.2 min of 20 min → **within**"
    assert "not all of them ran" in lines[2] and "c" in lines[2]
    cpu = load_budgets("cpu")  # the committed suite.yaml: the 2 h and 20 min
    assert cpu["suite"] == 7200 and any(g["seconds"] == 2400 for g in cpu["groups"].values())
    assert load_budgets("no-such-profile") == {}
    from emodubber.reports.suite import load_suite

    names = {e.name for e in load_suite()}
    for profile in ("cpu", "smoke"):
        for g in load_budgets(profile)["groups"].values():
            assert set(g["notebooks"]) <= names, f"{profile} budget names a notebook the suite does not have"
    md = write_reports_readme_with_budgets(rec, budgets)
    assert "**over** by 5.0 min" in md


def write_reports_readme_with_budgets(rec, budgets):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        return write_reports_readme(Path(d), ENTRIES[:1], {**RECORD, **rec}, budgets=budgets).read_text()
