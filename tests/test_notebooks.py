"""Notebook hygiene for every notebook of the suite, and the papermill runner on a toy suite."""

import json
import time
from pathlib import Path

import pytest

from emodubber.reports.notebooks import from_percent, hygiene_problems, setup_problems
from emodubber.reports.suite import SuiteError, artefact_table, load_suite, parse_params, run_suite, select

ROOT = Path(__file__).resolve().parents[1]
SUITE = load_suite()


def test_suite_lists_notebooks_in_order_and_they_exist():
    names = [e.name for e in SUITE]
    assert names == sorted(names), "suite.yaml must list the notebooks in their numbered order"
    for e in SUITE:
        assert e.abspath.exists(), f"{e.path} is listed in suite.yaml but missing"
    listed = {Path(e.path).name for e in SUITE}
    on_disk = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert on_disk <= listed, f"notebooks not in suite.yaml: {sorted(on_disk - listed)}"


@pytest.mark.parametrize("entry", SUITE, ids=[e.name for e in SUITE])
def test_notebook_hygiene(entry):
    assert hygiene_problems(entry.abspath) == []


def test_hygiene_catches_problems(tmp_path):
    nb = from_percent("# %%\nx = 1\n")
    p = tmp_path / "a.ipynb"
    p.write_text(json.dumps(nb))
    assert any("parameters" in m for m in hygiene_problems(p))
    nb = from_percent('# %% tags=["parameters"]\nA = 1\nB = f(2)\n')
    nb["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["1"]}]
    del nb["metadata"]["kernelspec"]
    p.write_text(json.dumps(nb))
    problems = " ".join(hygiene_problems(p))
    assert "kernelspec" in problems and "outputs" in problems and "plain literals" in problems


@pytest.mark.parametrize("entry", SUITE, ids=[e.name for e in SUITE])
def test_notebook_sets_up_through_the_one_helper(entry):
    # profile, seed, threads and run record come from notebook_setup.begin, never from a copied block
    assert setup_problems(entry.abspath) == []


def test_setup_check_catches_a_hand_written_block(tmp_path):
    p = tmp_path / "a.ipynb"
    p.write_text(json.dumps(from_percent(
        '# %% tags=["parameters"]\nPROFILE = "x"\nSEED = 0\n# %%\nfrom emodubber.config import load_profile\n'
        'cfg = load_profile(PROFILE, overrides={"seed": SEED})\nseed_everything(SEED)\n'
        'torch.set_num_threads(cfg.train.threads)\nrecord = RunRecord(profile=cfg.name, seed=SEED)\n')))
    problems = setup_problems(p)
    assert [m.split(" does ")[1].split("(")[0] for m in problems[:-1]] == [
        "load_profile", "seed_everything", "set_num_threads", "RunRecord"]
    assert problems[-1] == "no code cell calls notebook_setup.begin(...)"
    p.write_text(json.dumps(from_percent(
        '# %% tags=["parameters"]\nPROFILE = "x"\nSEED = 0\n# %%\n'
        'session = begin(PROFILE, SEED, "", "", 0, kind="k")\n')))
    assert setup_problems(p) == []


def test_select_only_and_from():
    names = [e.name for e in SUITE]
    assert [e.name for e in select(SUITE, only=[names[0]])] == [names[0]]
    assert [e.name for e in select(SUITE, start=names[-1])] == [names[-1]]
    with pytest.raises(Exception, match="no notebook named"):
        select(SUITE, only=["99_nope"])


def test_artefact_table_reads_the_suite():
    table = artefact_table(SUITE)
    for e in SUITE:
        assert e.path in table


def _toy_suite(tmp_path, fail: bool):
    nbdir = tmp_path / "nbs"
    nbdir.mkdir()
    good = from_percent('# %% tags=["parameters"]\nPROFILE = "x"\nSEED = 0\nWORK_DIR = ""\nREPORTS_DIR = ""\nTAG = ""\n'
                        '# %%\nfrom pathlib import Path\nPath(REPORTS_DIR, "seen.txt").write_text(PROFILE + TAG)\n')
    bad = from_percent('# %% tags=["parameters"]\nPROFILE = "x"\n# %%\nx = 1\n# %%\nraise ValueError("boom")\n')
    (nbdir / "01_good.ipynb").write_text(json.dumps(good))
    (nbdir / "02_bad.ipynb").write_text(json.dumps(bad if fail else good))
    (nbdir / "03_after.ipynb").write_text(json.dumps(good))
    suite = tmp_path / "suite.yaml"
    suite.write_text("notebooks:\n" + "".join(
        f"  - {{name: {n}, path: {nbdir / (n + '.ipynb')}}}\n" for n in ("01_good", "02_bad", "03_after")))
    return suite


@pytest.mark.slow
def _reports_in(tmp_path, monkeypatch):
    """Point the runner's profile at ``tmp_path/reports`` (and a work dir beside it); returns the reports dir."""
    from emodubber import config

    reports = tmp_path / "reports"
    orig = config.load_profile
    monkeypatch.setattr("emodubber.reports.suite.load_profile",
                        lambda p: orig(p, overrides={"paths.reports_dir": str(reports), "paths.work_dir": str(tmp_path / "w")}, local=None))
    return reports


def test_runner_injects_parameters_and_records(tmp_path, monkeypatch):
    suite = _toy_suite(tmp_path, fail=False)
    monkeypatch.setenv("EMODUBBER_TEST", "1")
    reports = _reports_in(tmp_path, monkeypatch)
    lines = []
    rec = run_suite("smoke", suite=suite, only=["01", "03"], log=lines.append)
    assert (reports / "seen.txt").read_text() == "smoke"
    assert [s["notebook"] for s in rec.steps] == ["01_good", "03_after"]
    assert len(lines) == 3 and all("ok" in ln for ln in lines[:2])
    assert (reports / "executed" / "01_good.ipynb").exists()
    record = json.loads(next(reports.glob("run_record*.json")).read_text())
    assert record["profile"] == "smoke" and record["status"] == "ok" and record["commit"]
    assert {"host", "cpu_count"} <= set(record["machine"])


def test_params_are_parsed_as_yaml_and_refused_when_malformed():
    assert parse_params(["REUSE=true", "N=4", "NAME=abc", "EMPTY="]) == {"REUSE": True, "N": 4, "NAME": "abc",
                                                                       "EMPTY": ""}
    with pytest.raises(SuiteError, match="NAME=VALUE"):
        parse_params(["REUSE"])
    with pytest.raises(SuiteError, match="NAME=VALUE"):
        parse_params(["1X=2"])


@pytest.mark.slow
def test_runner_sets_declared_params_and_refuses_unknown_ones(tmp_path, monkeypatch):
    suite = _toy_suite(tmp_path, fail=False)
    reports = _reports_in(tmp_path, monkeypatch)
    with pytest.raises(SuiteError, match=r"no selected notebook has the parameter\(s\) \['TAGG'\]"):
        run_suite("smoke", suite=suite, only=["01"], params={"TAGG": "b"}, log=lambda s: None)
    assert not (reports / "executed" / "01_good.ipynb").exists()  # refused before anything ran
    run_suite("smoke", suite=suite, log=lambda s: None)  # a full run writes the index ...
    assert "Re-run since" not in (reports / "README.md").read_text()
    rec = run_suite("smoke", suite=suite, only=["01"], params={"TAG": "-b"}, log=lambda s: None)
    assert (reports / "seen.txt").read_text() == "smoke-b" and rec.extra["params"] == {"TAG": "-b"}
    md = (reports / "README.md").read_text()  # ... which a partial re-run refreshes, naming itself
    assert "Re-run since" in md and "| 01_good |" in md and "`TAG=-b`" in md


@pytest.mark.slow
def test_a_param_reaches_every_declaring_notebook_after_one_that_lacks_it(tmp_path, monkeypatch):
    """--param TAG=… skips a notebook without TAG and still reaches the ones after it; each step records
    what it received."""
    suite = _toy_suite(tmp_path, fail=False)
    plain = from_percent('# %% tags=["parameters"]\nPROFILE = "x"\nSEED = 0\nWORK_DIR = ""\nREPORTS_DIR = ""\n'
                         '# %%\nx = 1\n')
    (tmp_path / "nbs" / "02_bad.ipynb").write_text(json.dumps(plain))  # the middle notebook: no TAG
    reports = _reports_in(tmp_path, monkeypatch)
    rec = run_suite("smoke", suite=suite, params={"TAG": "-b"}, log=lambda s: None)
    assert [s.get("params") for s in rec.steps] == [{"TAG": "-b"}, {}, {"TAG": "-b"}]
    assert (reports / "seen.txt").read_text() == "smoke-b"  # 03_after without TAG would have written "smoke"


@pytest.mark.slow
def test_runner_stops_at_first_failure_naming_notebook_and_cell(tmp_path, monkeypatch):
    suite = _toy_suite(tmp_path, fail=True)
    reports = _reports_in(tmp_path, monkeypatch)
    with pytest.raises(SuiteError, match=r"02_bad failed at cell \d+.*ValueError: boom"):
        run_suite("smoke", suite=suite, log=lambda s: None)
    assert not (reports / "executed" / "03_after.ipynb").exists()
    record = json.loads((reports / "run_record.json").read_text())
    assert record["status"] == "failed" and record["steps"][-1]["notebook"] == "02_bad"


def test_runner_kernel_runs_this_interpreter():
    import os
    import sys

    from jupyter_client.kernelspec import KernelSpecManager

    from emodubber.reports.suite import _kernel_name

    spec = KernelSpecManager().get_kernel_spec(_kernel_name("surely-not-registered-kernel"))
    assert os.path.abspath(spec.argv[0]) == os.path.abspath(sys.executable)


def test_kernels_import_the_runners_checkout(tmp_path, monkeypatch):
    """A child process started from anywhere (a kernel runs in notebooks/) imports emodubber from the checkout the
    runner imported it from, even when PYTHONPATH named another one first."""
    import subprocess
    import sys

    import emodubber
    from emodubber.reports.suite import pin_package_for_kernels

    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "elsewhere"))
    root = pin_package_for_kernels()
    assert root == Path(emodubber.__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", "import emodubber; print(emodubber.__file__)"], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out).resolve().parents[1] == root
    paths = __import__("os").environ["PYTHONPATH"].split(__import__("os").pathsep)
    assert paths[0] == str(root) and str(tmp_path / "elsewhere") in paths[1:]  # the checkout first, the rest kept


def test_hygiene_flags_a_parameter_papermill_cannot_read(tmp_path):
    """'<=' in a parameter's comment hides it from papermill (and so from reproduce --param)."""
    bad = from_percent('# %% tags=["parameters"]\nPROFILE = "x"\nN = 100  # in <= 5 min\n# %%\nx = 1\n')
    good = from_percent('# %% tags=["parameters"]\nPROFILE = "x"\nN = 100  # within 5 min\n# %%\nx = 1\n')
    for name, nb in (("bad", bad), ("good", good)):
        nb["metadata"] = {"kernelspec": {"name": "python3"}, "language_info": {"name": "python"}}
        (tmp_path / f"{name}.ipynb").write_text(json.dumps(nb))
    assert any("papermill cannot read the parameter line 'N = 100" in p
               for p in hygiene_problems(tmp_path / "bad.ipynb"))
    assert hygiene_problems(tmp_path / "good.ipynb") == []


def test_parts_run_side_by_side_combine_into_one_record(tmp_path, monkeypatch):
    """Two --only parts make one run record (every notebook, in suite order, with its part's commit); a notebook
    that no part ran is refused."""
    from emodubber.reports.suite import SuiteError, combine_parts

    suite = _toy_suite(tmp_path, fail=False)
    reports = _reports_in(tmp_path, monkeypatch)
    run_suite("smoke", suite=suite, only=["03"], log=lambda s: None)
    with pytest.raises(SuiteError, match="01_good, 02_bad"):
        combine_parts("smoke", suite=suite, log=lambda s: None)
    run_suite("smoke", suite=suite, only=["01", "02"], log=lambda s: None)
    rec = combine_parts("smoke", suite=suite, log=lambda s: None)
    assert [s["notebook"] for s in rec["steps"]] == ["01_good", "02_bad", "03_after"]
    assert len(rec["extra"]["parts"]) == 2 and all(s["commit"] for s in rec["steps"])
    assert not any(p["superseded"] for p in rec["extra"]["parts"])
    assert rec["wall_time_s"] >= max(p["wall_time_s"] for p in rec["extra"]["parts"]) - 1
    saved = json.loads((reports / "run_record.json").read_text())
    assert saved["kind"] == "notebook-suite (in parts)"
    assert "Run in 2 parts" in (reports / "README.md").read_text()


def test_a_later_part_with_the_same_first_notebook_keeps_the_earlier_part(tmp_path, monkeypatch):
    """'--only 01 03' then '--only 01 02': the second part starts with the same notebook; the first part's record
    must survive (03 ran only there) and the combined record takes 01 from the later part."""
    from emodubber.reports.suite import combine_parts

    suite = _toy_suite(tmp_path, fail=False)
    reports = _reports_in(tmp_path, monkeypatch)
    run_suite("smoke", suite=suite, only=["01", "03"], log=lambda s: None)
    time.sleep(1.1)  # the parts' start times (whole seconds) differ
    run_suite("smoke", suite=suite, only=["01", "02"], log=lambda s: None)
    assert len(list(reports.glob("run_record_01_good_*.json"))) == 2
    rec = combine_parts("smoke", suite=suite, log=lambda s: None)
    assert [s["notebook"] for s in rec["steps"]] == ["01_good", "02_bad", "03_after"]
    first, second = sorted(rec["extra"]["parts"], key=lambda p: p["started"])
    assert rec["steps"][0]["part_started"] == second["started"] and rec["steps"][2]["part_started"] == first["started"]


def test_combine_parts_from_records_alone(tmp_path):
    """Parts' records (no kernel needed): latest part per notebook, superseded parts listed, span wall time."""
    from emodubber.reports.suite import SuiteError, combine_parts

    reports = tmp_path / "reports"
    reports.mkdir()
    profile = tmp_path / "p.yaml"
    profile.write_text(f"paths:\n  work_dir: {tmp_path / 'w'}\n  reports_dir: {reports}\n")
    suite = tmp_path / "suite.yaml"
    suite.write_text("notebooks:\n  - {name: a, path: a.ipynb}\n  - {name: b, path: b.ipynb}\n")

    def rec(name, nbs, start, end, params=None):
        steps = [{"notebook": n, "seconds": 1.0, "status": "ok"} for n in nbs]
        (reports / f"run_record_{name}.json").write_text(json.dumps({
            "status": "ok", "commit": "c1", "seed": 1, "started": start, "ended": end, "wall_time_s": 1.0,
            "steps": steps, "extra": {"params": params or {}}}))

    rec("b_train", ["b"], "2026-12-03T07:00:00+00:00", "2026-12-03T07:30:00+00:00", {"REUSE": False})
    rec("a", ["a"], "2026-12-03T07:00:00+00:00", "2026-12-03T07:10:00+00:00")
    rec("old", ["a"], "2026-12-01T07:00:00+00:00", "2026-12-01T07:10:00+00:00")
    rec("b", ["b"], "2026-12-03T07:40:00+00:00", "2026-12-03T07:41:00+00:00", {"REUSE": True})
    out = combine_parts(str(profile), since="2026-12-03T00:00", suite=suite, log=lambda s: None)
    assert [s["notebook"] for s in out["steps"]] == ["a", "b"]
    assert out["wall_time_s"] == 41 * 60
    assert [p["superseded"] for p in out["extra"]["parts"]] == [False, True, False]
    assert "(superseded)" in (reports / "README.md").read_text()
    (reports / "run_record_a.json").unlink()
    with pytest.raises(SuiteError, match="no successful part ran a"):
        combine_parts(str(profile), since="2026-12-03T00:00", suite=suite, log=lambda s: None)
    out = combine_parts(str(profile), since="2026-12-03T00:00", suite=suite, log=lambda s: None, allow_missing=True)
    assert out["status"] == "partial" and out["extra"]["missing"] == ["a"]
    assert "Not run in this run" in (reports / "README.md").read_text()
